"""A browser killed, or a MuJoCo renderer lost, in the middle of an evaluation: the episode is
recorded with its error, the env is rebuilt, the run goes on, and the summary counts the error
apart from the failures."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
from needs import chromium_missing, mujoco_missing, need
from procs import children

from agent_sdk.evaluate import EvalConfig, evaluate, summarize

ENV_ID = "test/miniwob-killed-v0"
ROBOT_ID = "test/robot-gl-lost-v0"


class KilledMidEpisode:
    """MiniWoB click-button whose browser processes are SIGKILLed before the first action of
    seed 1, as an out-of-memory killer or a crash would."""

    built = 0

    def __new__(cls, **kwargs: Any) -> gym.Env:
        from envs.miniwob.env import MiniWoBEnv

        class Env(MiniWoBEnv):
            def reset(self, *, seed: int | None = None, options: Any = None) -> Any:
                self.episode_seed = seed
                return super().reset(seed=seed, options=options)

            def step(self, action: Any) -> Any:
                if self.episode_seed == 1 and self.steps == 0:
                    for pid in children(os.getpid(), b"chrom", deep=True):
                        os.kill(pid, signal.SIGKILL)
                return super().step(action)

        cls.built += 1
        return Env("click-button", **kwargs)


@pytest.mark.browser
def test_a_killed_browser_is_an_error_the_env_is_rebuilt_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    need(chromium_missing())
    if ENV_ID not in gym.registry:
        gym.register(ENV_ID, entry_point=KilledMidEpisode, max_episode_steps=4)
    KilledMidEpisode.built = 0
    records = evaluate(EvalConfig(env_ids=(ENV_ID,), episodes=3), tmp_path)
    assert [r.seed for r in records] == [0, 1, 2]
    crashed = records[1]
    assert crashed.end == "crash" and not crashed.success
    assert crashed.error is not None and crashed.error.startswith("EnvCrashed: Chromium")
    assert [r.success for r in (records[0], records[2])] == [True, True]
    assert KilledMidEpisode.built == 2  # the crash dropped the env; seed 2 built a new one
    row = summarize(records)[0]
    assert (row.episodes, row.successes, row.errors, row.failures) == (3, 2, 1, 0)
    assert not children(os.getpid(), b"chrom", deep=True)  # nothing left running


class RendererLostMidEpisode:
    """Fetch reach whose GL context is lost before the first action of seed 1, as a GPU reset
    or a dead display server would do."""

    built = 0

    def __new__(cls, **kwargs: Any) -> gym.Env:
        from envs.robot.env import RobotEnv

        def lost(data: Any) -> Any:
            raise RuntimeError("EGL_CONTEXT_LOST: the GPU was reset")

        class Env(RobotEnv):
            def reset(self, *, seed: int | None = None, options: Any = None) -> Any:
                self.episode_seed = seed
                return super().reset(seed=seed, options=options)

            def step(self, action: Any) -> Any:
                if self.episode_seed == 1 and self.steps == 0:
                    self._renderer.render = lost
                return super().step(action)

        cls.built += 1
        return Env("reach", width=64, height=64, **kwargs)


@pytest.mark.mujoco
def test_a_lost_renderer_is_an_error_the_env_is_rebuilt_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    need(mujoco_missing())
    if ROBOT_ID not in gym.registry:
        gym.register(ROBOT_ID, entry_point=RendererLostMidEpisode, max_episode_steps=50)
    RendererLostMidEpisode.built = 0
    records = evaluate(EvalConfig(env_ids=(ROBOT_ID,), episodes=3), tmp_path)
    assert [r.seed for r in records] == [0, 1, 2]
    crashed = records[1]
    assert crashed.end == "crash" and not crashed.success
    assert crashed.error is not None and crashed.error.startswith("EnvCrashed: the MuJoCo renderer")
    assert [r.success for r in (records[0], records[2])] == [True, True]
    assert RendererLostMidEpisode.built == 2
    row = summarize(records)[0]
    assert (row.episodes, row.successes, row.errors, row.failures) == (3, 2, 1, 0)
