"""DesktopEnv end to end on a private Xvfb screen, driving the Tk form of tests/apps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from display import SCREEN, TkForm
from gymnasium.error import ResetNeeded

from actions.coords import ScreenFrame
from actions.desktop import PyAutoGUIExecutor, RecordingExecutor, ScreenSource
from actions.guard import Guard, GuardConfig, GuardDecision
from actions.schema import ActionBase, Click, Done, Hotkey, TypeText, Wait
from envs.desktop import DesktopEnv

pytestmark = pytest.mark.display
WIDTH, HEIGHT = SCREEN
FULL = ScreenFrame(width=WIDTH, height=HEIGHT)


@pytest.fixture
def form(xvfb_display: str, tmp_path: Path) -> Iterator[TkForm]:
    pytest.importorskip("mss", reason='needs the desktop extra: pip install ".[desktop]"')
    pytest.importorskip("pyautogui", reason='needs the desktop extra: pip install ".[desktop]"')
    app = TkForm.launch(tmp_path)
    yield app
    app.close()


def at(form: TkForm, widget: str) -> Click:
    x, y = FULL.from_screen(*(v + 0.5 for v in form.centre(widget)))
    return Click(x=x, y=y)


def make_env(form: TkForm, guard: Guard | None = None, **kwargs: object) -> DesktopEnv:
    return DesktopEnv(
        "Press OK",
        source=ScreenSource(settle_s=0.02),
        guard=guard,
        executor=PyAutoGUIExecutor(pause=0.01),
        success_fn=lambda obs: form.clicked("ok", timeout=0.5),
        **kwargs,
    )


def test_click_json_ends_the_episode_in_success(form: TkForm) -> None:
    env = make_env(form)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert obs["instruction"] == "Press OK"
    assert info["frame"] == FULL and info["is_success"] is False and info["guard"] is None
    obs, reward, terminated, truncated, info = env.step(at(form, "ok").to_json())
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["is_success"] is True and info["error"] is None
    assert isinstance(info["guard"], GuardDecision) and info["guard"].executable
    assert env.observation_space.contains(obs)
    with pytest.raises(ResetNeeded):
        env.step(Done())
    env.close()


def test_refused_and_broken_actions_do_nothing_and_say_why(form: TkForm) -> None:
    x, y, w, h = form.widgets["cancel"]
    cancel = (x / WIDTH, y / HEIGHT, (x + w) / WIDTH, (y + h) / HEIGHT)
    env = make_env(form, Guard(GuardConfig(forbidden_regions=[cancel])))
    env.reset()
    model_text = at(form, "cancel").to_text()  # the model format: click(123, 456)
    for action, error in [
        (Hotkey(keys=("alt", "f4")).to_json(), "the guard refused hotkey"),
        (model_text, "inside forbidden region 0"),
        ("click the cancel button", "cannot parse model output"),
        (TypeText(text="naïve"), "pyautogui cannot type the characters ['ï']"),
    ]:
        _, reward, terminated, truncated, info = env.step(action)
        assert error in info["error"], info["error"]
        assert (reward, terminated, truncated, info["is_success"]) == (0.0, False, False, False)
    assert [d.allowed for d in env.guard.history] == [False, False, True]
    _, reward, terminated, _, info = env.step(at(form, "ok"))
    assert (reward, terminated, info["error"]) == (1.0, True, None)
    events = form.events()
    assert not [e for e in events if e["event"] == "key"]
    assert [e.get("widget") for e in events if e["event"] == "click"] == ["ok"]


def test_approval_gates_execution(form: TkForm) -> None:
    asked: list[GuardDecision] = []

    def approve(decision: GuardDecision) -> bool:
        asked.append(decision)
        return len(asked) > 1  # refuse the first request, grant the next

    def clicks(action: ActionBase) -> str | None:
        return "clicks need a human" if isinstance(action, Click) else None

    env = make_env(form, Guard(require_approval=[clicks]), approve=approve)
    env.reset()
    _, reward, _, _, info = env.step(at(form, "ok"))
    assert reward == 0.0
    assert info["error"].endswith("needs approval that was not given: clicks need a human")
    _, reward, terminated, _, info = env.step(at(form, "ok"))
    assert (reward, terminated, info["error"], len(asked)) == (1.0, True, None, 2)
    assert info["guard"].needs_approval


def test_dry_run_records_instead_of_executing(form: TkForm) -> None:
    env = make_env(form, Guard(GuardConfig(dry_run=True)))
    assert isinstance(env.executor, RecordingExecutor)
    env.reset()
    _, reward, terminated, _, info = env.step(at(form, "ok"))
    assert (reward, terminated, info["error"]) == (0.0, False, None)
    _, _, terminated, _, info = env.step("done()")
    assert terminated and not info["is_success"]
    assert [a for a, _ in env.executor.records] == [at(form, "ok"), Done()]
    assert form.events() == []


def test_truncates_after_max_steps_and_resets(form: TkForm) -> None:
    env = DesktopEnv(source=ScreenSource(), guard=Guard(), max_steps=2, render_mode="rgb_array")
    env.reset(options={"instruction": "wait"})
    assert env.step(Wait(seconds=0))[3] is False
    _, _, terminated, truncated, info = env.step(Wait(seconds=0).to_json())
    assert (terminated, truncated, info["steps"], info["is_success"]) == (False, True, 2, False)
    assert env.render().shape == (HEIGHT, WIDTH, 3)
    with pytest.raises(ResetNeeded):
        env.step(Wait(seconds=0))
    obs, info = env.reset()
    assert obs["instruction"] == "wait" and info["steps"] == 0
    env.close()
