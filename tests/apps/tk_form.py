"""A tiny Tk form that display tests drive: two buttons and an entry.

Run as ``python tk_form.py LOG GEOMETRY`` (``GEOMETRY`` like ``420x220+100+80``). Every line of
``LOG`` is one JSON event, flushed at once:

* ``{"event": "ready", "background": [r, g, b], "widgets": {name: [x, y, w, h]}}`` once shown,
  with the widgets' screen boxes (``window`` is the whole form);
* ``{"event": "click", "widget": "ok" | "cancel"}`` when a button fires;
* ``{"event": "enter", "text": ...}`` when Enter is pressed in the entry;
* ``{"event": "press" | "release", "button": n, "shift": ..., "x": ..., "y": ...}`` for every
  mouse button, with screen coordinates; Tk 8.6 reports the wheel as buttons 4 (up) and 5
  (down), and horizontal wheel clicks as 4 (left) and 5 (right) with ``shift`` set;
* ``{"event": "key", "keysym": ...}`` for every key press.
"""

from __future__ import annotations

import functools
import json
import sys
import tkinter as tk
from typing import Any, TextIO

BACKGROUND = "#3366cc"
"""The window's colour, so tests can find it in a screenshot."""


def _log(out: TextIO, **event: Any) -> None:
    out.write(json.dumps(event) + "\n")
    out.flush()


def main(log_path: str, geometry: str) -> None:
    out = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - open for the app's lifetime
    log = functools.partial(_log, out)
    root = tk.Tk()
    root.title("tk_form")
    root.geometry(geometry)
    root.configure(background=BACKGROUND)
    entry = tk.Entry(root, width=24, font=("TkDefaultFont", 14))
    ok = tk.Button(root, text="OK", width=8, command=lambda: log(event="click", widget="ok"))
    cancel = tk.Button(
        root, text="Cancel", width=8, command=lambda: log(event="click", widget="cancel")
    )
    entry.pack(padx=20, pady=(30, 20))
    ok.pack(side="left", padx=40, pady=20)
    cancel.pack(side="right", padx=40, pady=20)
    entry.bind("<Return>", lambda e: log(event="enter", text=entry.get()))
    root.bind_all("<KeyPress>", lambda e: log(event="key", keysym=e.keysym), add="+")
    for kind in ("press", "release"):
        root.bind_all(
            f"<Button{kind.capitalize()}>",
            lambda e, kind=kind: log(
                event=kind, button=e.num, shift=bool(e.state & 1), x=e.x_root, y=e.y_root
            ),
            add="+",
        )
    root.wait_visibility()
    root.update()
    root.focus_force()  # no window manager under Xvfb: take the keyboard focus ourselves
    widgets = {"window": root, "entry": entry, "ok": ok, "cancel": cancel}
    log(
        event="ready",
        background=[v >> 8 for v in root.winfo_rgb(BACKGROUND)],
        widgets={
            name: [w.winfo_rootx(), w.winfo_rooty(), w.winfo_width(), w.winfo_height()]
            for name, w in widgets.items()
        },
    )
    root.mainloop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
