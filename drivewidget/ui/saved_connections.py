"""The Connect panel's saved-connections list: Use, Check, Rename and Forget, each asking the connection.

:class:`SavedConnections` is the half of :class:`~drivewidget.ui.connect.ConnectPanel` that
lists what is saved (drivewidget's rclone remotes, google-drive-ocamlfuse labels, the user's
own rclone remotes) and acts on the selected one. Every action goes through the
:class:`~drivewidget.connect.Connection` itself (``make_backend``, ``check``, ``rename``,
``forget``); failures become the panel's message, never a traceback. Rename and Forget refuse
a connection that is mounted or lives in the user's own rclone config.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import ipywidgets as widgets

from ..backends.base import Backend
from ..connect import PROVIDERS, Connection, InvalidConnection, RcloneConfig, saved_connections, short_name
from ..errors import DriveError
from .actions import explain
from .message import MessageBox

__all__ = ["SavedConnections"]

T = TypeVar("T")
_FULL = widgets.Layout(width="auto")


class SavedConnections:
    """Mixed into ConnectPanel: the list of saved connections and what can be done with one."""

    message: MessageBox
    config: RcloneConfig
    on_use: Callable[[Backend], None] | None
    in_use: Callable[[Connection], bool]
    include_user_config: bool
    check_timeout: float
    backend: Backend | None
    _backend_options: dict[type[Connection], dict[str, Any]]
    _armed: str | None
    _listed: dict[str, Connection]

    def _run(self, action: Callable[[], object], name: str) -> None:
        raise NotImplementedError  # the panel's: runs on a worker thread, disables the button

    def _build_saved(self) -> widgets.VBox:
        """The list and its buttons, wired."""
        self.connections = widgets.Select(options=[], rows=5, layout=_FULL)
        self.use_button = widgets.Button(description="Use", icon="plug", tooltip="Mount with this connection")
        self.check_button = widgets.Button(
            description="Check", icon="stethoscope", tooltip="Test the credentials"
        )
        self.forget_button = widgets.Button(
            description="Forget",
            icon="trash",
            button_style="danger",
            tooltip="Delete it and its saved secrets",
        )
        self.rename_box = widgets.Text(placeholder="new name", layout=widgets.Layout(width="12em"))
        self.rename_button = widgets.Button(description="Rename", icon="i-cursor")
        self.refresh_button = widgets.Button(
            icon="refresh", tooltip="Re-read saved connections", layout=widgets.Layout(width="40px")
        )

        self.connections.observe(self._on_select, names="value")
        self.use_button.on_click(lambda _: self.use())
        self.check_button.on_click(lambda _: self.check())
        self.forget_button.on_click(lambda _: self.forget())
        self.rename_button.on_click(lambda _: self.rename(self.rename_box.value))
        self.refresh_button.on_click(lambda _: self.refresh_connections())
        return widgets.VBox(
            [widgets.HTML("<b>Saved connections</b>"), self.connections,
             widgets.HBox([self.use_button, self.check_button, self.forget_button, self.rename_box,
                           self.rename_button, self.refresh_button])]
        )  # fmt: skip

    @staticmethod
    def _key(connection: Connection) -> str:
        return f"{connection.backend}|{connection.config}|{connection.name}"

    def refresh_connections(self, select: Connection | None = None) -> list[Connection]:
        """Re-read the saved connections into the list (and select ``select``)."""
        try:
            found = saved_connections(self.config, include_user_config=self.include_user_config)
        except DriveError as exc:
            self.message.show(explain(exc), "error")
            found = []
        self._listed = {self._key(c): c for c in found}
        previous = self.connections.value
        self.connections.options = [(c.title, self._key(c)) for c in found]
        wanted = self._key(select) if select is not None else previous
        if wanted in self._listed:
            self.connections.value = wanted
        elif found:
            self.connections.value = self._key(found[0])
        self._render_saved()
        return found

    @property
    def selected(self) -> Connection | None:
        return self._listed.get(self.connections.value or "")

    def select(self, name: str) -> None:
        """Select a saved connection by name."""
        for key, connection in self._listed.items():
            if connection.name == name and not connection.external:
                self.connections.value = key
                return
        for key, connection in self._listed.items():
            if connection.name == name:
                self.connections.value = key
                return
        raise InvalidConnection(f"There is no saved connection named {name!r}.")

    def _on_select(self, _: Any = None) -> None:
        self._armed = None
        self._render_saved()

    def _render_saved(self) -> None:
        selected = self.selected
        none = selected is None
        self.use_button.disabled = self.check_button.disabled = none
        managed = not none and not selected.external  # type: ignore[union-attr]
        self.forget_button.disabled = self.rename_button.disabled = self.rename_box.disabled = not managed
        self.forget_button.description = "Forget"
        if selected is not None and self.rename_box.value in ("", *[c.name for c in self._listed.values()]):
            self.rename_box.value = selected.name

    def _options(self, connection: Connection) -> dict[str, Any]:
        return dict(self._backend_options.get(type(connection), {}))

    def _need(self) -> Connection:
        selected = self.selected
        if selected is None:
            raise InvalidConnection("Select a saved connection first.")
        return selected

    def use(self) -> Backend | None:
        """Make the selected connection's backend and hand it to ``on_use``."""
        try:
            connection = self._need()
            backend = connection.make_backend(**self._options(connection))
        except DriveError as exc:
            self.message.show(explain(exc), "error")
            return None
        self.backend = backend
        if self.on_use is not None:
            try:
                self.on_use(backend)
            except Exception as exc:  # noqa: BLE001 - a message, never a traceback
                self.message.show(explain(exc), "error")
                return backend
        entry = PROVIDERS.get(connection.provider)
        kind = short_name(entry) if entry is not None else connection.rclone_type or connection.backend
        self.message.show(f"Using {connection.where} ({kind}): click Mount to mount it.", "success")
        return backend

    def check(self) -> None:
        """Check the selected connection's credentials (bounded in time)."""
        try:
            connection = self._need()
        except DriveError as exc:
            self.message.show(explain(exc), "error")
            return
        self.message.show(f"Checking {connection.where}...", "info")
        options = self._options(connection)

        def run() -> None:
            result = connection.check(timeout=self.check_timeout, **options)
            self.message.show(result.message, "success")

        self._run(run, "check")

    def rename(self, new: str) -> Connection | None:
        try:
            connection = self._need()
            self._refuse_external(connection, "renamed")
            self._refuse_in_use(connection, "rename")
        except DriveError as exc:
            self.message.show(explain(exc), "error")
            return None

        renamed = self._change(connection, "rename", lambda: connection.rename(new, config=self.config))
        if renamed is None:
            return None
        self.rename_box.value = renamed.name
        self.refresh_connections(select=renamed)
        self.message.show(f"Renamed {connection.name!r} to {renamed.name!r}.", "success")
        return renamed

    def forget(self, *, confirm: bool = False) -> bool:
        """Forget the selected connection (deletes its secrets). The button asks for a second click."""
        try:
            connection = self._need()
            self._refuse_external(connection, "forgotten")
            self._refuse_in_use(connection, "forget")
        except DriveError as exc:
            self.message.show(explain(exc), "error")
            return False
        key = self._key(connection)
        if not confirm and self._armed != key:
            self._armed = key
            self.forget_button.description = "Really forget?"
            self.message.show(
                f"Click 'Really forget?' to delete {connection.name!r} and every secret saved for it.",
                "warning",
            )
            return False
        self._armed = None

        def forget() -> bool:
            connection.forget(config=self.config)
            return True

        if not self._change(connection, "forget", forget):
            return False
        self.refresh_connections()
        self.message.show(f"Forgot {connection.name!r}: its saved credentials are deleted.", "success")
        return True

    def _change(self, connection: Connection, verb: str, action: Callable[[], T]) -> T | None:
        """Run a change to a saved connection; a failure (the config or a label folder cannot
        be written, ...) becomes the message and None."""
        try:
            return action()
        except DriveError as exc:
            self.message.show(explain(exc), "error")
        except OSError as exc:
            self.message.show(f"Cannot {verb} {connection.name}: {exc.strerror or exc}.", "error")
        return None

    @staticmethod
    def _refuse_external(connection: Connection, what: str) -> None:
        if connection.external:
            raise InvalidConnection(
                f"{connection.name!r} is in your own rclone config ({connection.config}): it can be used here, "
                f"but is {what} with `rclone config`."
            )

    def _refuse_in_use(self, connection: Connection, what: str) -> None:
        if self.in_use(connection):
            raise InvalidConnection(f"{connection.name!r} is mounted: unmount it before you {what} it.")
