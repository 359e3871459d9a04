"""Helpers of the display tests: a private Xvfb screen and the Tk form app that they drive."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCREEN = (1600, 1000)
"""Size of the test screen; its right half stands in for a second monitor."""
TK_FORM = Path(__file__).parent / "apps" / "tk_form.py"

Event = dict[str, Any]


@contextmanager
def xvfb(width: int, height: int, workdir: Path) -> Iterator[str]:
    """Run ``Xvfb`` on a free display number and point ``DISPLAY``/``XAUTHORITY`` at it.

    ``-displayfd`` makes Xvfb pick the number and write it once it accepts clients. python-xlib
    (pyautogui's back end) refuses to start unless the ``XAUTHORITY`` file exists; empty is fine.
    """
    xauthority = workdir / "Xauthority"
    xauthority.touch()
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24",
         "-nolisten", "tcp", "-br"],
        pass_fds=(write_fd,),
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(write_fd)
    saved = {k: os.environ.get(k) for k in ("DISPLAY", "XAUTHORITY")}
    try:
        with os.fdopen(read_fd) as ready:
            number = ready.readline().strip()  # blocks until the server is up (or died: "")
        if not number:
            raise RuntimeError(f"Xvfb exited with code {proc.wait(timeout=5)} before starting")
        os.environ.update(DISPLAY=f":{number}", XAUTHORITY=str(xauthority))
        yield f":{number}"
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class TkForm:
    """A running ``tests/apps/tk_form.py`` and what it has logged."""

    proc: subprocess.Popen[bytes]
    log: Path
    widgets: dict[str, tuple[int, int, int, int]]
    background: tuple[int, int, int]

    @classmethod
    def launch(cls, workdir: Path, geometry: str = "420x220+100+80", timeout: float = 10.0):
        """Start the form and wait until it reports its widgets' screen boxes."""
        log = workdir / f"tk_form-{time.monotonic_ns()}.jsonl"
        log.touch()
        proc = subprocess.Popen([sys.executable, str(TK_FORM), str(log), geometry])
        form = cls(proc, log, {}, (0, 0, 0))
        ready = form.wait_for(lambda e: e["event"] == "ready", timeout)
        if ready is None:
            form.close()
            raise TimeoutError(f"the Tk form did not show within {timeout} s")
        form.widgets = {k: tuple(v) for k, v in ready["widgets"].items()}
        form.background = tuple(ready["background"])
        return form

    def events(self) -> list[Event]:
        """Every event logged so far, oldest first (the ``ready`` event excluded)."""
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [e for e in map(json.loads, lines) if e["event"] != "ready"]

    def wait_for(self, pred: Callable[[Event], bool], timeout: float = 5.0) -> Event | None:
        """The first logged event matching ``pred``, polling up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.log.read_text(encoding="utf-8").splitlines()
            found = next((e for e in map(json.loads, lines) if pred(e)), None)
            if found is not None or time.monotonic() > deadline:
                return found
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the Tk form exited with code {self.proc.returncode} "
                    "(without tkinter, install it: Debian python3-tk)"
                )
            time.sleep(0.02)

    def clicked(self, widget: str, timeout: float = 5.0) -> bool:
        """Whether the button ``widget`` fired within ``timeout`` seconds."""
        event = self.wait_for(lambda e: e == {"event": "click", "widget": widget}, timeout)
        return event is not None

    def centre(self, widget: str) -> tuple[int, int]:
        """Screen point at the middle of a widget."""
        x, y, w, h = self.widgets[widget]
        return x + w // 2, y + h // 2

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
