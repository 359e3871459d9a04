"""The live desktop on a private Xvfb screen: real mss screenshots and real pyautogui input
drive a real Tk form (tests/apps/tk_form.py), which logs what it received."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from display import SCREEN, Event, TkForm

from actions.coords import ScreenFrame
from actions.desktop import (
    PARK_INSET,
    PyAutoGUIExecutor,
    RecordingExecutor,
    ScreenSource,
    screen_points,
)
from actions.errors import ActionError, DesktopUnavailable
from actions.guard import Guard, GuardConfig
from actions.schema import (
    ActionBase,
    Click,
    DoubleClick,
    Drag,
    EEDelta,
    Hotkey,
    Key,
    Move,
    PointTarget,
    RightClick,
    Scroll,
    TypeText,
)

WIDTH, HEIGHT = SCREEN
FULL = ScreenFrame(width=WIDTH, height=HEIGHT)


@pytest.fixture
def gui(xvfb_display: str) -> ModuleType:
    """pyautogui, imported only once DISPLAY names the test screen (it connects at import)."""
    pytest.importorskip("mss", reason='needs the desktop extra: pip install ".[desktop]"')
    return pytest.importorskip(
        "pyautogui", reason='needs the desktop extra: pip install ".[desktop]"'
    )


@pytest.fixture
def form(gui: ModuleType, tmp_path: Path) -> Iterator[TkForm]:
    app = TkForm.launch(tmp_path)
    yield app
    app.close()


def norm(frame: ScreenFrame, point: tuple[int, int]) -> tuple[float, float]:
    """The normalised point of a screen point (the middle of its pixel, so it maps back exactly)."""
    return frame.from_screen(point[0] + 0.5, point[1] + 0.5)


def click(frame: ScreenFrame, point: tuple[int, int]) -> Click:
    x, y = norm(frame, point)
    return Click(x=x, y=y)


def pointer_events(form: TkForm) -> list[Event]:
    return [e for e in form.events() if e["event"] in ("press", "release")]


def barrier(form: TkForm, executor: PyAutoGUIExecutor | None = None) -> list[Event]:
    """Click OK for real and wait for it, so every earlier input has surely been handled."""
    (executor or PyAutoGUIExecutor(pause=0)).execute(click(FULL, form.centre("ok")), FULL)
    assert form.clicked("ok")
    return form.events()


def test_hidpi_frame_to_screen_of_known_points() -> None:
    """A Retina monitor right of a 1920-point one: 2880x1800 pixels are 1440x900 points."""
    frame = ScreenFrame(width=2880, height=1800, left=1920, top=0, scale=2.0)
    assert frame.to_screen(0.0, 0.0) == (1920, 0)
    assert frame.to_screen(0.5, 0.5) == (1920 + 720, 450)
    assert frame.to_screen(1.0, 1.0) == (1920 + 1439, 899)
    assert frame.to_screen(0.25, 0.1) == (1920 + 360, 90)
    assert frame.from_screen(1920 + 360, 90) == (0.25, 0.1)
    drag = Drag(x=0.0, y=0.0, to_x=1.0, to_y=1.0)
    assert screen_points(drag, frame) == ((1920, 0), (3359, 899))


@pytest.mark.parametrize("package", ["mss", "pyautogui"])
def test_a_missing_extra_names_the_install_command(
    package: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, package, None)  # what `import` sees when it is absent
    with pytest.raises(
        DesktopUnavailable,
        match=rf'{package} is not installed: pip install "fastvlm-agent-sdk\[desktop\]"',
    ):
        ScreenSource() if package == "mss" else PyAutoGUIExecutor()


@pytest.mark.display
def test_capture_shows_the_window_and_parks_the_cursor(form: TkForm, gui: ModuleType) -> None:
    gui.moveTo(*form.centre("ok"))
    with ScreenSource() as source:
        obs = source.capture()
        assert source.frame() == obs.frame
    assert obs.frame == ScreenFrame(width=WIDTH, height=HEIGHT, left=0, top=0, scale=1.0)
    assert obs.image.shape == (HEIGHT, WIDTH, 3) and obs.image.dtype == np.uint8
    assert obs.instruction == ""
    x, y, w, h = form.widgets["window"]
    window = obs.image[y : y + h, x : x + w].reshape(-1, 3)
    assert (window[0] == form.background).all()  # the form's colour, in RGB order
    assert len(np.unique(window, axis=0)) > 10  # and widgets drawn on it
    assert (obs.image[y + h + 5 :] == 0).all()  # Xvfb -br: the bare root window is black
    assert gui.position() == (WIDTH - 1 - PARK_INSET, HEIGHT - 1 - PARK_INSET)


@pytest.mark.display
def test_agent_fills_the_form_through_guard_and_pyautogui(form: TkForm) -> None:
    """The loop of an agent: capture, compute an action on the image, guard, execute."""
    script: list[Callable[[ScreenFrame], ActionBase]] = [
        lambda f: click(f, form.centre("entry")),
        lambda f: TypeText(text="Hello, agent!"),
        lambda f: Key(key="return"),
        lambda f: click(f, form.centre("ok")),
    ]
    source, guard, executor = ScreenSource(), Guard(), PyAutoGUIExecutor(pause=0.01)
    for step in script:
        obs = source.capture()
        assert obs.frame is not None
        x, y, w, h = form.widgets["window"]
        assert obs.image[y : y + h, x : x + w].std() > 5  # the form is on screen
        action = step(obs.frame)
        decision = guard.check(action, obs.frame)
        assert decision.executable, decision
        executor.execute(action, obs.frame)
    source.close()
    assert form.wait_for(lambda e: e["event"] == "enter") == {
        "event": "enter",
        "text": "Hello, agent!",
    }
    assert form.clicked("ok")
    assert [d.allowed for d in guard.history] == [True] * 4


@pytest.mark.display
def test_pointer_actions_land_where_the_frame_maps_them(form: TkForm, gui: ModuleType) -> None:
    frame = FULL
    entry, cancel = form.centre("entry"), form.centre("cancel")
    ex, ey = norm(frame, entry)
    executor = PyAutoGUIExecutor(pause=0.01)
    for action in (
        RightClick(x=ex, y=ey),
        DoubleClick(x=ex, y=ey),
        Scroll(x=ex, y=ey, dy=2),
        Scroll(x=ex, y=ey, dy=-1, dx=3),
        Drag(x=ex, y=ey, to_x=norm(frame, cancel)[0], to_y=norm(frame, cancel)[1]),
    ):
        executor.execute(action, frame)
    executor.execute(Move(x=ex, y=ey), frame)
    assert gui.position() == entry
    barrier(form, executor)
    events = pointer_events(form)[:-2]  # less the barrier's click
    presses = [(e["button"], e["shift"], (e["x"], e["y"])) for e in events if e["event"] == "press"]
    up, down = (4, False, entry), (5, False, entry)  # Tk 8.6 reports the wheel as buttons 4/5
    right = (5, True, entry)  # and a horizontal wheel as shift + 4/5
    left = (1, False, entry)
    assert presses == [(3, False, entry), left, left, down, down, up, right, right, right, left]
    assert (events[-1]["event"], events[-1]["x"], events[-1]["y"]) == ("release", *cancel)


@pytest.mark.display
def test_guard_refusals_never_reach_the_app(form: TkForm) -> None:
    frame = FULL
    cx, cy, cw, ch = form.widgets["cancel"]
    cancel_box = (cx / WIDTH, cy / HEIGHT, (cx + cw) / WIDTH, (cy + ch) / HEIGHT)
    guard = Guard(GuardConfig(forbidden_regions=[cancel_box]))
    executor = PyAutoGUIExecutor(pause=0.01)
    attempts = [
        Hotkey(keys=("alt", "f4")),
        Hotkey(keys=("super", "l")),
        click(frame, form.centre("cancel")),
        Click.model_construct(x=1.2, y=0.5),  # off the frame
    ]
    for action in attempts:
        decision = guard.check(action, frame)
        assert not decision.allowed, action
        if decision.executable:
            executor.execute(action, frame)
    events = barrier(form, executor)
    assert not [e for e in events if e["event"] == "key"]
    assert {e.get("widget") for e in events if e["event"] == "click"} == {"ok"}
    assert [(e["x"], e["y"]) for e in pointer_events(form)] == [form.centre("ok")] * 2


@pytest.mark.display
def test_recording_executor_executes_nothing(form: TkForm) -> None:
    frame = FULL
    recorder = RecordingExecutor()
    actions = [click(frame, form.centre("cancel")), TypeText(text="x"), Key(key="enter")]
    for action in actions:
        recorder.execute(action, frame)
    assert recorder.records == [
        (actions[0], (form.centre("cancel"),)),
        *((a, ()) for a in actions[1:]),
    ]
    events = barrier(form)
    assert [e["event"] for e in events] == ["press", "click", "release"]


@pytest.mark.display
def test_untypeable_text_and_keys_raise_before_typing(form: TkForm) -> None:
    executor, frame = PyAutoGUIExecutor(pause=0), FULL
    executor.execute(click(frame, form.centre("entry")), frame)
    with pytest.raises(ActionError, match=r"characters \['é', '→'\]"):
        executor.execute(TypeText(text="héllo → there"), frame)
    with pytest.raises(ActionError, match=r"keys \['command'\]"):
        executor.execute(Hotkey(keys=("command", "c")), frame)
    for robot in (EEDelta(dx=0.1), PointTarget(x=0.5, y=0.5)):
        for ex in (executor, RecordingExecutor()):
            with pytest.raises(ActionError, match="robot action"):
                ex.execute(robot, frame)
    events = barrier(form, executor)
    assert not [e for e in events if e["event"] == "key"]


@pytest.mark.display
def test_offset_and_hidpi_frames_on_a_second_monitor(gui: ModuleType, tmp_path: Path) -> None:
    """The right half of the screen stands in for a monitor at x = 800; the form sits in it."""
    form = TkForm.launch(tmp_path, geometry="420x220+1000+300")
    try:
        with ScreenSource(region=(0.5, 0.0, 1.0, 1.0)) as source:
            obs = source.capture()
        frame = obs.frame
        assert frame == ScreenFrame(width=800, height=1000, left=800, top=0, scale=1.0)
        x, y = form.widgets["window"][:2]
        assert x >= 800
        assert (obs.image[y + 2, x - 800 + 2] == form.background).all()
        executor = PyAutoGUIExecutor(pause=0.01)
        executor.execute(click(frame, form.centre("ok")), frame)
        assert form.clicked("ok")
        # The same half as a Retina screenshot would see it: 1600x2000 pixels for 800x1000 points.
        retina = ScreenFrame(width=1600, height=2000, left=800, top=0, scale=2.0)
        executor.execute(click(retina, form.centre("cancel")), retina)
        assert form.clicked("cancel")
        presses = [(e["x"], e["y"]) for e in pointer_events(form) if e["event"] == "press"]
        assert presses == [form.centre("ok"), form.centre("cancel")]
    finally:
        form.close()


@pytest.mark.display
def test_screen_source_refuses_bad_settings(
    gui: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ActionError, match=r"monitor 3 does not exist; .* monitors 1\.\.1"):
        ScreenSource(monitor=3)
    with pytest.raises(ValueError, match="0 <= x0 < x1 <= 1"):
        ScreenSource(region=(0.5, 0.0, 0.2, 1.0))
    with pytest.raises(ValueError, match="holds no pixel"):
        ScreenSource(region=(0.5, 0.5, 0.5001, 0.6))
    with pytest.raises(ValueError, match="park_at"):
        ScreenSource(park_at=(1.5, 0.0))
    monkeypatch.setenv("DISPLAY", ":4242")
    with pytest.raises(DesktopUnavailable, match="mss cannot open the screen"):
        ScreenSource()
