"""MiniWoB++ behind the SDK's env contract.

Tests marked ``browser`` drive real headless Chromium: they skip when Chromium, chromedriver or
the ``miniwob`` extra are missing, except under CI (``CI`` set), where that is a failure.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env
from needs import chromium_missing, need

from actions.schema import (
    Click,
    Done,
    DoubleClick,
    Drag,
    EEDelta,
    Fail,
    Hotkey,
    Key,
    Move,
    Scroll,
    TypeText,
    Wait,
)
from envs import MINIWOB_SUITE, SUITES
from envs.errors import EnvCrashed, EnvError, UnknownTaskError
from envs.miniwob.env import MiniWoBEnv, miniwob_key
from envs.miniwob.page import HEIGHT, WIDTH, DomElement, Page, click
from envs.miniwob.tasks import SELECT_ALL, TASK_NAMES, fill, get_task

SEEDS_PER_TASK = 4
"""Oracle episodes per task here (benchmarks/miniwob_vs_ui.py runs 40)."""


@pytest.fixture(autouse=True)
def _chromium(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("browser"):
        need(chromium_missing())


@pytest.fixture(scope="module")
def shared() -> Iterator[MiniWoBEnv]:
    """One click-button env (one Chromium) for the tests that only need some env."""
    need(chromium_missing())  # module fixtures run before the autouse one
    env = MiniWoBEnv("click-button")
    yield env
    env.close()


def run_oracle(env: MiniWoBEnv, seed: int) -> tuple[bool, int]:
    """One episode with the oracle; returns success and steps."""
    env.reset(seed=seed)
    steps = 0
    while True:
        _, reward, terminated, truncated, info = env.step(env.oracle().to_json())
        steps += 1
        assert info["error"] is None, info["error"]
        if terminated or truncated:
            assert reward == float(info["is_success"])
            return info["is_success"], steps


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


# -- without a browser ----------------------------------------------------------------------------
def test_importing_envs_loads_neither_selenium_nor_miniwob() -> None:
    code = (
        "import sys, gymnasium as gym, envs; gym.spec('agent_sdk/miniwob-click-test-v0'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('selenium', 'miniwob')))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "[]"


def test_suite_registers_every_task_with_its_budget() -> None:
    assert SUITES["miniwob"] == MINIWOB_SUITE
    assert len(MINIWOB_SUITE) == len(TASK_NAMES) >= 10
    for name, env_id in zip(TASK_NAMES, MINIWOB_SUITE, strict=True):
        assert env_id == f"agent_sdk/miniwob-{name}-v0"
        assert gym.spec(env_id).max_episode_steps == get_task(name).max_steps


def test_unknown_task_suggests_names() -> None:
    with pytest.raises(UnknownTaskError, match="Did you mean click-button"):
        MiniWoBEnv("click-buton")


def test_constructor_checks_arguments_without_starting_chromium() -> None:
    env = MiniWoBEnv("click-test")
    assert env.observation_space["image"].shape == (HEIGHT, WIDTH, 3) == (210, 160, 3)
    assert env.startup_s is None
    with pytest.raises(ResetNeeded):
        env.step(Click(x=0.5, y=0.5))
    with pytest.raises(EnvError, match="episode_max_time_s"):
        MiniWoBEnv("click-test", episode_max_time_s=0)
    with pytest.raises(EnvError, match="render_mode"):
        MiniWoBEnv("click-test", render_mode="human")
    with pytest.raises(EnvError, match="160x210, not 320x240"):
        MiniWoBEnv("click-test", width=320, height=240)
    MiniWoBEnv("click-test", width=160, height=210)


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (("enter",), "<Enter>"),
        (("a",), "a"),
        (("ctrl", "a"), "C-a"),
        (("ctrl", "shift", "up"), "C-S-<ArrowUp>"),
    ],
)
def test_keys_map_to_miniwob_names(keys: tuple[str, ...], expected: str) -> None:
    assert miniwob_key(keys) == expected


def test_keys_miniwob_lacks_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot press capslock"):
        miniwob_key(("capslock",))


def _input(value: str, *, focused: bool) -> DomElement:
    return DomElement(1, 0, "input_text", "", value, "tt", "", 10, 60, 100, 20, focused, False)


def test_fill_focuses_types_and_replaces_wrong_text() -> None:
    page = Page("Enter x", {}, ())
    assert isinstance(fill(_input("", focused=False), "Bob", page), Click)
    assert fill(_input("", focused=True), "Bob", page) == TypeText(text="Bob")
    assert fill(_input("Bo", focused=True), "Bob", page) == SELECT_ALL
    after_select_all = Page("Enter x", {}, (), (SELECT_ALL,))
    assert fill(_input("Bo", focused=True), "Bob", after_select_all) == TypeText(text="Bob")
    assert fill(_input("Bob", focused=True), "Bob", page) is None


def test_click_avoids_covering_elements() -> None:
    under = DomElement(1, 0, "button", "ONE", None, "", "", 20, 60, 40, 40, False, False)
    over = DomElement(2, 0, "button", "TWO", None, "", "", 30, 70, 40, 40, False, False)
    assert click(under).point == pytest.approx((40 / WIDTH, 80 / HEIGHT))
    x, y = click(under, avoid=(over,)).point
    assert 20 <= x * WIDTH <= 60 and 60 <= y * HEIGHT <= 100
    assert not (30 <= x * WIDTH <= 70 and 70 <= y * HEIGHT <= 110)


def test_page_elements_name_controls_and_text_runs() -> None:
    def el(ref: int, tag: str, text: str = "", value: object = None, cls: str = "",
           box: tuple[float, float, float, float] = (2, 60, 30, 10)) -> DomElement:  # fmt: skip
        return DomElement(ref, 3, tag, text, value, "", cls, *box, False, False)

    dom = (
        el(3, "div"),  # a container: no text of its own
        el(-1, "t", "Pick one"),
        el(4, "span", "nam", cls="alink"),
        el(5, "input_checkbox", value=True),
        el(6, "input_password", value=""),
        el(7, "button", "Submit"),
        el(8, "select", value="Aurora"),
        el(9, "span", "gone", box=(170, 60, 20, 10)),  # right of the task area
        el(11, "span", "gone", box=(-30, 60, 20, 10)),  # left of it
        el(10, "span", "", box=(2, 60, 0, 0)),
    )
    got = [(e.role, e.text, e.x) for e in Page("x", {}, dom).elements()]
    assert got == [
        ("text", "Pick one", 2), ("link", "nam", 2), ("checked box", "", 2), ("field", "", 2),
        ("button", "Submit", 2), ("dropdown", "Aurora", 2),
    ]  # fmt: skip


# -- with a browser -------------------------------------------------------------------------------
@pytest.mark.browser
def test_elements_show_the_named_link() -> None:
    env = MiniWoBEnv("click-link")
    try:
        obs, _ = env.reset(seed=1)
        named = obs["instruction"].split('"')[1]
        links = [e for e in env.elements() if e.role == "link"]
        assert named in {e.text for e in links}
        for e in env.elements():
            assert 0 <= e.x < WIDTH and 0 <= e.y < HEIGHT and e.w > 0 and e.h > 0
    finally:
        env.close()


@pytest.mark.browser
def test_env_checker_passes(shared: MiniWoBEnv) -> None:
    check_env(shared, skip_render_check=True)
    rendering = MiniWoBEnv("click-test", render_mode="rgb_array")
    try:
        obs, _ = rendering.reset(seed=0)
        np.testing.assert_array_equal(rendering.render(), obs["image"])
    finally:
        rendering.close()


@pytest.mark.browser
def test_observation_is_pixels_and_utterance_only(shared: MiniWoBEnv) -> None:
    obs, info = shared.reset(seed=1)
    assert set(obs) == {"image", "instruction"}  # no DOM, no fields
    assert shared.observation_space.contains(obs)
    assert obs["image"].shape == (210, 160, 3) and obs["image"].dtype == np.uint8
    assert obs["image"].std() > 0  # a real page, not the black end frame
    assert obs["instruction"] == f'Click on the "{info["fields"]["target"]}" button.'
    assert {"task", "is_success", "error", "steps", "dom", "fields", "raw_reward"} <= set(info)
    assert info["task"] == "click-button" and info["is_success"] is False
    assert any(el.tag == "button" for el in info["dom"])


@pytest.mark.browser
@pytest.mark.parametrize(
    "action",
    [
        "click(1200, 5)",
        "hello",
        EEDelta(dx=0.5).to_json(),
        '{"type": "right_click", "x": 0.5, "y": 0.5}',
        Scroll(x=0.5, y=0.5, dx=2),
        Hotkey(keys=("ctrl", "capslock")),
    ],
    ids=["off-image", "unparsable", "robot", "right-click", "horizontal-scroll", "unknown-key"],
)
def test_illegal_action_is_a_noop_with_an_error(shared: MiniWoBEnv, action: object) -> None:
    _, info = shared.reset(seed=2)
    obs, reward, terminated, truncated, after = shared.step(action)  # type: ignore[arg-type]
    assert after["error"] and reward == 0.0 and not (terminated or truncated)
    assert after["dom"] == info["dom"] and after["steps"] == 1
    assert shared.observation_space.contains(obs)


@pytest.mark.browser
def test_every_pointer_and_keyboard_action_runs(shared: MiniWoBEnv) -> None:
    actions = [
        Move(x=0.5, y=0.9),
        Click(x=0.02, y=0.98),
        DoubleClick(x=0.02, y=0.98),
        Drag(x=0.02, y=0.9, to_x=0.5, to_y=0.95),
        Scroll(x=0.5, y=0.5, dy=2),
        Scroll(x=0.5, y=0.5, dy=-1),
        TypeText(text="hi"),
        Key(key="tab"),
        Hotkey(keys=("ctrl", "a")),
        Wait(seconds=0.0),
    ]
    shared.reset(seed=7)
    for action in actions:
        _, _, terminated, truncated, info = shared.step(action)
        assert info["error"] is None, (action, info["error"])
        if terminated or truncated:
            shared.reset(seed=7)


@pytest.mark.browser
def test_budget_truncates_and_done_or_fail_end_the_episode(shared: MiniWoBEnv) -> None:
    shared.reset(seed=3)
    for _ in range(shared._max_episode_steps):
        _, _, terminated, truncated, _ = shared.step(Key(key="tab"))
    assert truncated and not terminated
    with pytest.raises(ResetNeeded):
        shared.step(Key(key="tab"))
    for end in (Done(), Fail(reason="stuck")):
        shared.reset(seed=3)
        _, reward, terminated, _, info = shared.step(end)
        assert terminated and reward == 0.0 and not info["is_success"]


@pytest.mark.browser
@pytest.mark.parametrize("task", TASK_NAMES)
def test_oracle_solves_the_task(task: str) -> None:
    env = gym.make(f"agent_sdk/miniwob-{task}-v0")
    try:
        results = [run_oracle(env.unwrapped, seed) for seed in range(SEEDS_PER_TASK)]
    finally:
        env.close()
    failures = [seed for seed, (ok, _) in enumerate(results) if not ok]
    assert failures == [], f"oracle failed {task} on seeds {failures}"
    assert max(steps for _, steps in results) <= get_task(task).max_steps


@pytest.mark.browser
def test_oracle_recovers_from_wrong_text() -> None:
    env = MiniWoBEnv("enter-text")
    try:
        env.reset(seed=4)
        env.step(env.oracle())  # focus the field
        env.step(TypeText(text="wrong"))
        ok = False
        for _ in range(4):
            _, _, terminated, _, info = env.step(env.oracle())
            if terminated:
                ok = info["is_success"]
                break
        assert ok
    finally:
        env.close()


@pytest.mark.browser
def test_seed_reproduces_the_episode() -> None:
    env = MiniWoBEnv("enter-text")
    try:
        first, info = env.reset(seed=5)
        run_oracle(env, 6)  # leaves focus, hover and a new problem behind
        again, info_again = env.reset(seed=5)
        assert again["instruction"] == first["instruction"]
        assert info_again["dom"] == info["dom"]
        np.testing.assert_array_equal(again["image"], first["image"])
        utterances = {env.reset(seed=s)[0]["instruction"] for s in range(6)}
        assert len(utterances) > 3, "different seeds should give different problems"
    finally:
        env.close()


@pytest.mark.browser
def test_page_clock_is_raised_and_a_short_one_times_out() -> None:
    env = MiniWoBEnv("click-test", episode_max_time_s=1.0)
    try:
        env.reset(seed=0)
        clock_ms = env._browser.driver.execute_script("return core.EPISODE_MAX_TIME;")  # type: ignore[union-attr]
        assert clock_ms == 1000
        _, reward, terminated, _, info = env.step(Wait(seconds=1.5))
        assert terminated and reward == 0.0 and info["raw_reward"] == -1.0
    finally:
        env.close()


@pytest.mark.browser
def test_killed_chromedriver_raises_env_crashed_and_reset_recovers() -> None:
    env = MiniWoBEnv("click-test")
    try:
        env.reset(seed=0)
        from envs.miniwob.browser import child_pids

        driver_pid = env._browser.driver.service.process.pid  # type: ignore[union-attr]
        browsers = child_pids(driver_pid)  # Chromium; empty off Linux
        os.kill(driver_pid, signal.SIGKILL)
        with pytest.raises(EnvCrashed, match="rebuild the env"):
            env.step(env.oracle())
        with pytest.raises(ResetNeeded):
            env.oracle()
        time.sleep(0.2)
        assert not any(alive(pid) for pid in browsers), "the orphaned Chromium was left running"
        assert run_oracle(env, 1)[0]  # reset() started a fresh browser
    finally:
        env.close()


@pytest.mark.browser
def test_close_quits_chromium() -> None:
    env = MiniWoBEnv("click-test")
    env.reset(seed=0)
    process = env._browser.driver.service.process  # type: ignore[union-attr]
    env.close()
    assert process.wait(timeout=10) is not None
    env.close()  # idempotent
