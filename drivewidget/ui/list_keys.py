"""The chooser's lists by keyboard: a small script the browser runs once they are rendered.

Plain widgets cannot reach the page, so the script rides in an image-less ``<img onerror>``
inside the chooser's title (ipywidgets 7 and 8 front ends run it; one that drops it keeps
the plain lists and the path box, which is the keyboard route everywhere).
"""

from __future__ import annotations

import html

__all__ = ["KEEP_KEYS"]

_LIST_KEYS_JS = """(function(img){
var n=0;
function keys(sel){
  if(sel.getAttribute('data-dw-keys')){return;}
  sel.setAttribute('data-dw-keys','1');
  var keyed=false,pending=false;
  function open(){pending=false;sel.dispatchEvent(new Event('change',{bubbles:true}));}
  sel.addEventListener('keydown',function(e){
    if(e.key==='Enter'){
      if(pending&&sel.selectedIndex>=0){e.preventDefault();e.stopPropagation();open();}
      return;
    }
    keyed=e.key.length===1||/^(Arrow|Home|End|Page)/.test(e.key);
    if(keyed){e.stopPropagation();}
  },true);
  sel.addEventListener('mousedown',function(){keyed=false;},true);
  sel.addEventListener('change',function(e){
    if(keyed){keyed=false;pending=true;e.stopImmediatePropagation();}else{pending=false;}
  },true);
  sel.addEventListener('click',function(){if(pending&&sel.selectedIndex>=0){open();}});
}
(function f(){
  var root=img.closest('.dw-folder-chooser');
  var lists=root?root.querySelectorAll('select'):[];
  lists.forEach(function(s){
    s.setAttribute('data-lm-suppress-shortcuts','true');
    if(s.size>1){keys(s);}
  });
  if(lists.length<2&&n++<100){setTimeout(f,100);}
})();
})(this)"""
KEEP_KEYS = (
    "<img src='data:,' alt='' hidden onerror=\""
    + html.escape(" ".join(line.strip() for line in _LIST_KEYS_JS.splitlines()), quote=True)
    + '">'
)
"""Keys in the chooser's lists, set once they are rendered (plain widgets cannot touch the
DOM, so an image-less ``onerror`` does; a front end that drops it keeps the plain lists):

- they are marked so JupyterLab / Notebook 7 (Lumino) leave their keys alone (without it
  ArrowDown in the folder list moved the notebook's cell selection), and navigation keys do
  not bubble to a notebook's own keyboard handler (Notebook 6);
- in the folder list a key (arrows, Home/End, PageUp/PageDown, typing a name's first
  letters) only moves the highlight, and Enter (or a click on it) opens the highlighted
  folder: ipyfilechooser opens a folder on every change of selection, so ArrowDown opened
  the first folder and no keyboard could reach a middle one. A click opens at once, as before.
"""
