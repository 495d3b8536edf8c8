"""The panel's look: one stylesheet that follows the notebook's theme, light or dark.

Colours come from the front end's own CSS variables (JupyterLab's ``--jp-*``, Colab's
``--colab-*``), with light-theme fallbacks, so text keeps its contrast in every theme; colour
alone never carries meaning (bars also say their numbers, states also say their words).
The stylesheet travels in one HTML widget: a ``<style>`` element works the same in
ipywidgets 7 (Colab, Notebook 6) and 8 (JupyterLab, Notebook 7, Voila).
"""

from __future__ import annotations

import ipywidgets as widgets

PANEL_CLASS = "drivewidget-panel"

_CSS = """
.drivewidget-panel {
  --dw-fg: var(--jp-ui-font-color1, var(--colab-primary-text-color, #1f1f1f));
  --dw-muted: var(--jp-ui-font-color2, var(--colab-secondary-text-color, #5f6368));
  --dw-track: var(--jp-layout-color3, var(--colab-border-color, #c4c4c4));
  --dw-edge: var(--jp-border-color1, #8a8a8a);
  --dw-ok: var(--jp-success-color1, #388e3c);
  --dw-warn: var(--jp-warn-color1, #f57c00);
  --dw-full: var(--jp-error-color1, #d32f2f);
  --dw-focus: var(--jp-brand-color1, #1976d2);
  --dw-link: var(--jp-content-link-color, #1a5fb4);
  color: var(--dw-fg);
  max-width: 100%;
  min-width: 0;
  overflow-x: hidden;
  font-size: var(--jp-ui-font-size1, 13px);
}
.drivewidget-panel .dw-line { flex-wrap: wrap; align-items: center; gap: 2px 6px; min-width: 0; max-width: 100%; }
.drivewidget-panel .dw-line > * { min-width: 0; }
.drivewidget-panel .widget-html, .drivewidget-panel .widget-html-content { min-width: 0; height: auto; }
.drivewidget-panel .widget-html-content { line-height: 1.4; white-space: normal; overflow-wrap: anywhere; }
.drivewidget-panel .dw-state { font-weight: 600; }
.drivewidget-panel .dw-dot {
  display: inline-block; width: 0.65em; height: 0.65em; border-radius: 50%;
  margin-right: 0.35em; vertical-align: 0.05em; background: var(--dw-dot, var(--dw-muted));
  box-shadow: 0 0 0 1px var(--dw-edge);
}
.drivewidget-panel .dw-muted { color: var(--dw-muted); }
.drivewidget-panel code { color: var(--dw-fg); background: none; font-size: 95%; padding: 0; white-space: pre-wrap; }
.drivewidget-panel a { color: var(--dw-link); text-decoration: underline; }
.drivewidget-panel .dw-bars { display: flex; flex-wrap: wrap; gap: 2px 14px; align-items: center; }
.drivewidget-panel .dw-bar { display: inline-flex; align-items: center; gap: 5px; white-space: nowrap; }
.drivewidget-panel .dw-track {
  display: inline-block; width: 56px; height: 8px; border-radius: 4px; overflow: hidden;
  background: var(--dw-track); box-shadow: inset 0 0 0 1px var(--dw-edge);
}
.drivewidget-panel .dw-fill { display: block; height: 100%; min-width: 2px; background: var(--dw-ok); }
.drivewidget-panel .dw-fill.dw-warn { background: var(--dw-warn); }
.drivewidget-panel .dw-fill.dw-full { background: var(--dw-full); }
.drivewidget-panel .dw-message { border-left: 3px solid var(--dw-level, var(--dw-muted)); padding: 1px 0 1px 6px; }
.drivewidget-panel .dw-message.dw-error { --dw-level: var(--dw-full); }
.drivewidget-panel .dw-message.dw-warning { --dw-level: var(--dw-warn); }
.drivewidget-panel .dw-message.dw-success { --dw-level: var(--dw-ok); }
.drivewidget-panel .dw-table td { padding: 0 1em 0 0; vertical-align: top; }
.drivewidget-panel .dw-table th { padding: 0 1em 0 0; text-align: left; font-weight: normal; color: var(--dw-muted); }
.drivewidget-panel .dw-heading { font-weight: 600; margin-top: 4px; }
.drivewidget-panel button:focus-visible, .drivewidget-panel select:focus-visible,
.drivewidget-panel input:focus-visible, .drivewidget-panel a:focus-visible,
.drivewidget-panel select:focus, .drivewidget-panel input:focus {
  outline: 2px solid var(--dw-focus) !important; outline-offset: 1px;
}
.drivewidget-panel button:disabled { cursor: default; }
.drivewidget-panel .jupyter-button, .drivewidget-panel .widget-button, .drivewidget-panel .widget-toggle-button {
  margin: 1px 2px;
}
.drivewidget-panel select, .drivewidget-panel input { color: var(--dw-fg); }
.drivewidget-panel .dw-chooser .widget-label { color: var(--dw-fg); }
.drivewidget-panel .dw-chooser .widget-hbox { flex-wrap: wrap; max-width: 100%; }
.drivewidget-panel .dw-chooser .dw-choice { flex: 1 1 12em; min-width: min(100%, 12em); }
.drivewidget-panel .dw-sr-label .widget-label {
  position: absolute !important; width: 1px !important; height: 1px !important; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; padding: 0; margin: -1px; border: 0;
}
"""

_MINIFIED = " ".join(_CSS.split())


def style_widget() -> widgets.HTML:
    """The stylesheet as a widget to put once in the panel (it takes no room)."""
    return widgets.HTML(value=f"<style>{_MINIFIED}</style>", layout=widgets.Layout(display="none"))
