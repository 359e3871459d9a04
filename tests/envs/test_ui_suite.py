"""The GUI suite as a whole: every registered task, through Gymnasium's front door."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env

import envs
from actions.schema import Done, EEDelta, Fail, Wait
from envs import UI_SUITE
from envs.errors import EnvError, UnknownTaskError
from envs.ui.env import UIEnv
from envs.ui.tasks import TASK_NAMES, get_task

SIZES = [(160, 210), (320, 240), (640, 480), (1280, 800)]


def run_oracle(env: gym.Env, seed: int) -> tuple[bool, int, list[np.ndarray]]:
    """Run the oracle for one episode; returns success, steps and the frames seen."""
    obs, info = env.reset(seed=seed)
    frames = [obs["image"]]
    steps = 0
    while True:
        obs, reward, terminated, truncated, info = env.step(env.unwrapped.oracle().to_json())
        frames.append(obs["image"])
        steps += 1
        if terminated or truncated:
            assert reward == (1.0 if info["is_success"] else 0.0)
            return info["is_success"], steps, frames


def test_suite_covers_the_twelve_tasks() -> None:
    assert len(UI_SUITE) == len(TASK_NAMES) >= 12
    assert envs.SUITES["ui"] == UI_SUITE
    for env_id in UI_SUITE:
        assert env_id in gym.registry
        assert (
            gym.spec(env_id).max_episode_steps
            == get_task(env_id[len("agent_sdk/ui-") : -3]).max_steps
        )


@pytest.mark.parametrize("env_id", UI_SUITE)
def test_env_checker_passes(env_id: str) -> None:
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=False)
    assert env.unwrapped._max_episode_steps == env.spec.max_episode_steps


@pytest.mark.parametrize("env_id", UI_SUITE)
def test_oracle_solves_every_seed_at_the_default_size(env_id: str) -> None:
    env = gym.make(env_id)
    failures = [seed for seed in range(200) if not run_oracle(env, seed)[0]]
    assert failures == [], f"oracle failed {env_id} on seeds {failures[:10]}"


@pytest.mark.parametrize("size", [SIZES[0], SIZES[2], SIZES[3]], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("task", TASK_NAMES)
def test_oracle_solves_other_screen_sizes(task: str, size: tuple[int, int]) -> None:
    env = UIEnv(task, width=size[0], height=size[1])
    failures = [seed for seed in range(40) if not run_oracle(env, seed)[0]]
    assert failures == [], f"oracle failed {task} at {size} on seeds {failures[:10]}"


@pytest.mark.parametrize("task", TASK_NAMES)
def test_seed_reproduces_the_episode_pixel_for_pixel(task: str) -> None:
    a, b = UIEnv(task), UIEnv(task)
    for seed in (0, 7):
        ok_a, steps_a, frames_a = run_oracle(a, seed)
        ok_b, steps_b, frames_b = run_oracle(b, seed)
        assert (ok_a, steps_a) == (ok_b, steps_b)
        for fa, fb in zip(frames_a, frames_b, strict=True):
            np.testing.assert_array_equal(fa, fb)
    first = {a.reset(seed=s)[0]["image"].tobytes() for s in range(6)}
    assert len(first) == 6, "different seeds should give different screens"


@pytest.mark.parametrize("task", TASK_NAMES)
def test_widgets_lie_inside_the_screen(task: str) -> None:
    for width, height in SIZES:
        env = UIEnv(task, width=width, height=height)
        for seed in range(15):
            env.reset(seed=seed)
            scene = env.task.scene
            for widget in scene.widgets + ([scene.modal] if scene.modal else []):
                if widget.visible:
                    assert widget.rect.inside(scene.bounds), (task, width, height, seed, widget)


def test_variation_covers_themes_fonts_and_instructions() -> None:
    env = UIEnv("click-button")
    styles = [env.reset(seed=s) and env.task.style for s in range(60)]
    assert {s.theme for s in styles} == {"light", "dark"}
    assert len({s.family for s in styles}) >= 3
    assert len({s.font_px for s in styles}) >= 2
    assert len({env.reset(seed=s)[0]["instruction"] for s in range(30)}) >= 20
    dark = UIEnv("click-button", theme="dark").reset(seed=0)[0]["image"].mean()
    light = UIEnv("click-button", theme="light").reset(seed=0)[0]["image"].mean()
    assert dark < 100 < light


def test_unparsable_and_robot_actions_are_noop_steps_with_an_error() -> None:
    env = UIEnv("fill-form")
    obs, _ = env.reset(seed=1)
    for bad in ("clik(1, 2)", '{"type": "click", "x": 5}', "", EEDelta(dx=0.5)):
        obs2, reward, terminated, _, info = env.step(bad)
        assert info["error"], bad
        assert reward == 0.0 and not terminated
        np.testing.assert_array_equal(obs2["image"], obs["image"])
    assert "robot action" in env.step(EEDelta(dx=0.1))[4]["error"]


def test_model_text_and_typed_actions_are_accepted() -> None:
    env = UIEnv("click-button")
    env.reset(seed=2)
    x, y = env.oracle().point
    *_, info = env.step(f"click({round(x * 1000)}, {round(y * 1000)})")
    assert info["error"] is None and info["is_success"]


def test_done_and_fail_end_the_episode_without_success() -> None:
    for action in (Done(), Fail(reason="stuck")):
        env = UIEnv("click-checkboxes")
        env.reset(seed=0)
        _, reward, terminated, _, info = env.step(action)
        assert terminated and reward == 0.0 and not info["is_success"]
        with pytest.raises(ResetNeeded):
            env.step(Wait())


def test_truncates_at_the_step_budget() -> None:
    env = gym.make("agent_sdk/ui-fill-form-v0")
    env.reset(seed=0)
    budget = env.spec.max_episode_steps
    for i in range(budget):
        _, _, terminated, truncated, info = env.step(Wait(seconds=0).to_json())
        assert not terminated
        assert truncated == (i == budget - 1)
    assert info["steps"] == budget


def test_step_before_reset_is_refused() -> None:
    with pytest.raises(ResetNeeded):
        UIEnv("click-button").step(Wait())


def test_unknown_names_and_bad_sizes_give_clear_errors() -> None:
    with pytest.raises(UnknownTaskError, match="Did you mean click-button"):
        UIEnv("click-buton")
    with pytest.raises(gym.error.NameNotFound, match="ui-click-button"):
        gym.make("agent_sdk/ui-click-buton-v0")
    with pytest.raises(EnvError, match="out of range"):
        UIEnv("click-button", width=50, height=50)
    with pytest.raises(EnvError, match="theme"):
        UIEnv("click-button", theme="blue")  # type: ignore[arg-type]


def test_async_vector_env_steps_all_copies() -> None:
    ids = ["agent_sdk/ui-click-button-v0", "agent_sdk/ui-enter-text-v0"]
    vec = gym.vector.AsyncVectorEnv([lambda i=i: gym.make(i) for i in ids])
    try:
        obs, _ = vec.reset(seed=[3, 4])
        assert obs["image"].shape == (2, 240, 320, 3)
        successes = [False, False]
        for _ in range(10):
            actions = tuple(a.to_json() for a in vec.call("oracle"))
            obs, reward, terminated, _, _ = vec.step(actions)
            for k in range(2):
                successes[k] |= bool(terminated[k] and reward[k] == 1.0)
            if all(successes):
                break
        assert successes == [True, True]
    finally:
        vec.close()


def test_render_returns_the_observed_frame() -> None:
    env = UIEnv("click-button", render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(env.render(), obs["image"])
    assert UIEnv("click-button").render() is None
