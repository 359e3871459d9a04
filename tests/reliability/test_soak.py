"""A short soak: many agent steps with a tiny VLM leak no file descriptors, threads or episodes.

The long run (10,000 steps, with the memory curve) is ``benchmarks/soak.py``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import gymnasium as gym
import pytest

from actions.guard import Guard
from agent_sdk.agent import Agent
from agent_sdk.policies import VLMPolicy
from envs import UI_SUITE
from perception.base import load_vlm
from perception.tiny import save_tiny_checkpoint

STEPS = 100
WARMUP = 24  # one episode of each env first: lazy imports, fonts, caches


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts /proc/self/fd (Linux)")
def test_agent_steps_leak_no_fds_threads_or_episodes(tmp_path: Path) -> None:
    vlm = load_vlm(save_tiny_checkpoint(tmp_path / "tiny"), backend="torch", device="cpu")
    agent = Agent(VLMPolicy(vlm, max_new_tokens=4, max_retries=0), guard=Guard(), max_steps=5)
    agent.keep_images = False
    envs = [gym.make(env_id) for env_id in UI_SUITE]
    steps = episodes = 0
    fds = threads = None
    try:
        while steps < STEPS:
            if episodes == WARMUP:
                fds, threads = _fds(), threading.active_count()
            trajectory = agent.run_episode(envs[episodes % len(envs)], seed=episodes)
            assert trajectory.end is not None and trajectory.steps
            steps += len(trajectory.steps)
            episodes += 1
    finally:
        for env in envs:
            env.close()
    assert episodes > WARMUP
    assert (_fds(), threading.active_count()) == (fds, threads)
    # finished episodes are forgotten: no environments, images or checkpoints pile up
    assert not agent._envs and not agent._images
    assert not list(agent.checkpointer.list(None))
