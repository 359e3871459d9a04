"""The live screen: screenshots with mss, input with pyautogui (the ``desktop`` extra).

:class:`ScreenSource` captures a monitor (or a box of it) as an
:class:`~actions.schema.Observation` whose :class:`~actions.coords.ScreenFrame` says where the
image lies on the screen; an :class:`Executor` carries out an action at the points that frame
maps it to. :class:`PyAutoGUIExecutor` moves the real pointer and keyboard;
:class:`RecordingExecutor` only records (dry runs, tests).

mss and pyautogui are imported when first needed; pyautogui connects to the display (``DISPLAY``
on X11, whose ``XAUTHORITY`` file must exist) at import. pyautogui's fail-safe stays on by
default: throw the pointer into a screen corner and the next action raises
``pyautogui.FailSafeException``, which is deliberately left to propagate and stop the run.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from actions.coords import ScreenFrame
from actions.errors import ActionError, DesktopUnavailable
from actions.guard import Box, action_points, check_box
from actions.schema import (
    ROBOT_ACTION_TYPES,
    UI_ACTION_TYPES,
    ActionBase,
    Click,
    DoubleClick,
    Drag,
    Hotkey,
    Key,
    Move,
    Observation,
    RightClick,
    Scroll,
    TypeText,
    Wait,
)

INSTALL = 'pip install "fastvlm-agent-sdk[desktop]"'
PARK_INSET = 2
"""Points between the parked cursor and the monitor's edge (pyautogui's fail-safe corners)."""

ScreenPoint = tuple[int, int]


def _import(name: str) -> ModuleType:
    """Import mss or pyautogui, turning a missing package or display into DesktopUnavailable."""
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise DesktopUnavailable(f"{name} is not installed: {INSTALL}") from err
    except Exception as err:  # pyautogui connects to the X server at import
        raise DesktopUnavailable(
            f"{name} cannot reach a display ({type(err).__name__}: {err}); run on a desktop or set "
            "DISPLAY (and XAUTHORITY to an existing file, even an empty one) for an X server"
        ) from err


def _open_mss() -> Any:
    """An mss screenshooter: ``mss.MSS`` from mss 10.2 on, ``mss.mss`` before (now deprecated)."""
    mss = _import("mss")
    try:
        return mss.MSS() if hasattr(mss, "MSS") else mss.mss()
    except Exception as err:  # mss.ScreenShotError: no display, no X server, ...
        raise DesktopUnavailable(
            f"mss cannot open the screen ({err}); run on a desktop or set DISPLAY for an X server"
        ) from err


def screen_points(action: ActionBase, frame: ScreenFrame) -> tuple[ScreenPoint, ...]:
    """The screen points an action touches in ``frame`` (a drag has two; keys have none)."""
    return tuple(frame.to_screen(x, y) for x, y in action_points(action))


def _require_ui(action: ActionBase) -> None:
    if action.type not in UI_ACTION_TYPES:
        raise ActionError(
            f"{action.type} is a robot action; a screen takes pointer and keyboard actions "
            f"(robot actions: {', '.join(sorted(ROBOT_ACTION_TYPES - UI_ACTION_TYPES))})"
        )


class ScreenSource:
    """Screenshots of one monitor, or of a normalised ``region`` box of it, as observations.

    ``monitor`` numbers follow mss: 1 is the first monitor, 0 all of them together. Before each
    capture the cursor is parked at ``park_at`` (normalised in the monitor; default its
    bottom-right corner, ``PARK_INSET`` points in) so hover effects and tooltips stay off the
    targets, and ``settle_s`` seconds pass for the screen to redraw.
    """

    def __init__(
        self,
        monitor: int = 1,
        region: Box | None = None,
        settle_s: float = 0.0,
        park_cursor: bool = True,
        park_at: tuple[float, float] = (1.0, 1.0),
    ) -> None:
        if settle_s < 0:
            raise ValueError(f"settle_s must be >= 0 seconds, got {settle_s}")
        self.monitor, self.settle_s = monitor, settle_s
        self._sct = _open_mss()
        try:
            area = _pick_monitor(self._sct.monitors, monitor)
            self._box = _region_box(area, region)
            self._park = _park_point(area, park_at) if park_cursor else None
            self._gui: Any = _import("pyautogui") if park_cursor else None
        except BaseException:
            self._sct.close()
            raise

    def capture(self) -> Observation:
        """Park the cursor, let the screen settle and take a screenshot."""
        if self._park is not None:
            self._gui.moveTo(*self._park, _pause=False)
        if self.settle_s:
            time.sleep(self.settle_s)
        image, frame = self._grab()
        return Observation(image=image, instruction="", frame=frame)

    def frame(self) -> ScreenFrame:
        """Where a capture lies on the screen now (takes a screenshot to learn the HiDPI scale)."""
        return self._grab()[1]

    def close(self) -> None:
        self._sct.close()

    def __enter__(self) -> ScreenSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _grab(self) -> tuple[np.ndarray, ScreenFrame]:
        shot = self._sct.grab(self._box)
        image = np.frombuffer(shot.rgb, np.uint8).reshape(shot.height, shot.width, 3)
        frame = ScreenFrame(
            width=shot.width,
            height=shot.height,
            left=self._box["left"],
            top=self._box["top"],
            scale=shot.width / self._box["width"],  # pixels per point: 2.0 on a Retina screen
        )
        return image, frame


def _pick_monitor(monitors: list[dict[str, Any]], index: int) -> dict[str, Any]:
    if not 0 <= index < len(monitors):
        raise ActionError(
            f"monitor {index} does not exist; this screen has monitors 1..{len(monitors) - 1}"
            " (0 is all of them together)"
        )
    return monitors[index]


def _region_box(monitor: dict[str, Any], region: Box | None) -> dict[str, int]:
    """The mss box (screen points) of a normalised region of a monitor; all of it for None."""
    left, top, width, height = (monitor[k] for k in ("left", "top", "width", "height"))
    if region is None:
        return {"left": left, "top": top, "width": width, "height": height}
    x0, y0, x1, y1 = check_box(region)
    box = {
        "left": left + round(x0 * width),
        "top": top + round(y0 * height),
        "width": round(x1 * width) - round(x0 * width),
        "height": round(y1 * height) - round(y0 * height),
    }
    if box["width"] < 1 or box["height"] < 1:
        raise ValueError(f"region {region} of a {width}x{height} monitor holds no pixel")
    return box


def _park_point(monitor: dict[str, Any], at: tuple[float, float]) -> ScreenPoint:
    """Screen point of a normalised point of the monitor, kept PARK_INSET points inside it."""
    x, y = at
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise ValueError(f"park_at {at} must be normalised to the monitor: x, y in [0, 1]")

    def inside(v: float, origin: int, size: int) -> int:
        return origin + min(max(round(v * size), PARK_INSET), size - 1 - PARK_INSET)

    return (
        inside(x, monitor["left"], monitor["width"]),
        inside(y, monitor["top"], monitor["height"]),
    )


class Executor(Protocol):
    """Carries out an action whose points are normalised to the image ``frame`` describes."""

    def execute(self, action: ActionBase, frame: ScreenFrame) -> None: ...


@dataclass
class RecordingExecutor:
    """Executes nothing: records each action with the screen points it would touch (dry run)."""

    records: list[tuple[ActionBase, tuple[ScreenPoint, ...]]] = field(default_factory=list)

    def execute(self, action: ActionBase, frame: ScreenFrame) -> None:
        _require_ui(action)
        self.records.append((action, screen_points(action, frame)))


class PyAutoGUIExecutor:
    """Drives the real pointer and keyboard with pyautogui.

    ``pause`` seconds pass after each action; ``failsafe`` is pyautogui's corner fail-safe (a
    process-wide setting); ``typing_interval`` is the delay between typed characters;
    ``drag_s`` is how long a drag's move takes (0.1 s or more gives apps motion events).
    Text and keys that pyautogui cannot type on this platform (non-ASCII characters, ``command``
    off macOS, ...) raise :class:`~actions.errors.ActionError` before anything is typed:
    pyautogui itself would skip them silently.
    """

    def __init__(
        self,
        pause: float = 0.05,
        failsafe: bool = True,
        typing_interval: float = 0.0,
        drag_s: float = 0.2,
    ) -> None:
        self.pause, self.typing_interval, self.drag_s = pause, typing_interval, drag_s
        self._gui: Any = _import("pyautogui")
        self._gui.FAILSAFE = failsafe

    def execute(self, action: ActionBase, frame: ScreenFrame) -> None:
        _require_ui(action)
        points = screen_points(action, frame)  # before any input: a bad point does nothing
        if isinstance(action, Wait):
            time.sleep(action.seconds)
        elif action.terminal:
            return
        elif points:
            self._pointer(action, points)
        else:
            self._keyboard(action)
        time.sleep(self.pause)

    def _pointer(self, action: ActionBase, points: tuple[ScreenPoint, ...]) -> None:
        gui, (x, y) = self._gui, points[0]
        if isinstance(action, Click):
            gui.click(x, y, _pause=False)
        elif isinstance(action, DoubleClick):
            gui.doubleClick(x, y, _pause=False)
        elif isinstance(action, RightClick):
            gui.rightClick(x, y, _pause=False)
        elif isinstance(action, Move):
            gui.moveTo(x, y, _pause=False)
        elif isinstance(action, Drag):
            gui.moveTo(x, y, _pause=False)
            gui.mouseDown(_pause=False)
            try:
                gui.moveTo(*points[1], duration=self.drag_s, _pause=False)
            finally:
                gui.mouseUp(_pause=False)
        elif isinstance(action, Scroll):
            if action.dy:
                gui.scroll(-action.dy, x, y, _pause=False)  # pyautogui: positive scrolls up
            if action.dx:
                gui.hscroll(action.dx, x, y, _pause=False)

    def _keyboard(self, action: ActionBase) -> None:
        gui = self._gui
        if isinstance(action, TypeText):
            self._require_keys(action.text, "character")
            gui.write(action.text, interval=self.typing_interval, _pause=False)
        elif isinstance(action, Key):
            self._require_keys([action.key], "key")
            gui.press(action.key, _pause=False)
        elif isinstance(action, Hotkey):
            self._require_keys(action.keys, "key")
            gui.hotkey(*action.keys, _pause=False)

    def _require_keys(self, keys: Any, what: str) -> None:
        if bad := sorted({k for k in keys if not self._gui.isValidKey(k)}):
            raise ActionError(
                f"pyautogui cannot type the {what}s {bad} on this platform, so nothing was typed; "
                "type_text takes what the keyboard map has (ASCII), keys take pyautogui's names"
            )
