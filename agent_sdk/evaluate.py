"""Run policies over Gymnasium envs and score them: episode records and per-task summaries."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym

import envs  # noqa: F401 - registers the SDK's envs
from actions.schema import ActionBase

Policy = Callable[[gym.Env, dict[str, Any]], ActionBase]
"""Chooses the next action from the env and its latest observation."""


def oracle_policy(env: gym.Env, obs: dict[str, Any]) -> ActionBase:
    """The env's own expert (every SDK env has ``oracle()``)."""
    return env.unwrapped.oracle()  # type: ignore[attr-defined]


@dataclass
class EpisodeRecord:
    """One episode, as written to ``episodes.jsonl`` (DESIGN.md's episode record)."""

    env_id: str
    seed: int
    success: bool
    steps: int
    return_: float
    wall_s: float
    step_latency_s: list[float] = field(default_factory=list)
    ttft_s: float | None = None
    error: str | None = None
    policy: str = ""
    model: str | None = None
    config_hash: str = ""

    def to_json_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["return"] = d.pop("return_")
        return d


def run_episode(
    env: gym.Env, env_id: str, policy: Policy, seed: int, name: str = ""
) -> EpisodeRecord:
    """Run one episode to its end; returns its record."""
    start = time.perf_counter()
    obs, info = env.reset(seed=seed)
    total, steps, latencies = 0.0, 0, []
    done = False
    while not done:
        t0 = time.perf_counter()
        obs, reward, terminated, truncated, info = env.step(policy(env, obs))
        latencies.append(time.perf_counter() - t0)
        total += float(reward)
        steps += 1
        done = terminated or truncated
    return EpisodeRecord(
        env_id=env_id,
        seed=seed,
        success=bool(info.get("is_success", False)),
        steps=steps,
        return_=total,
        wall_s=time.perf_counter() - start,
        step_latency_s=latencies,
        policy=name,
    )


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a success rate (95 % for ``z = 1.96``)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class TaskSummary:
    """Success and cost of one env over its episodes."""

    env_id: str
    episodes: int
    successes: int
    errors: int
    mean_steps: float
    steps_per_s: float

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes if self.episodes else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.episodes)


def summarize(records: Sequence[EpisodeRecord]) -> list[TaskSummary]:
    """Per-env summaries, in the order envs first appear."""
    by_env: dict[str, list[EpisodeRecord]] = {}
    for r in records:
        by_env.setdefault(r.env_id, []).append(r)
    out = []
    for env_id, rs in by_env.items():
        steps = sum(r.steps for r in rs)
        step_time = sum(sum(r.step_latency_s) for r in rs)
        out.append(
            TaskSummary(
                env_id=env_id,
                episodes=len(rs),
                successes=sum(r.success for r in rs),
                errors=sum(r.error is not None for r in rs),
                mean_steps=steps / len(rs),
                steps_per_s=steps / step_time if step_time > 0 else float("inf"),
            )
        )
    return out


def evaluate(
    env_ids: Sequence[str],
    policy: Policy,
    episodes: int,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    policy_name: str = "",
    on_episode: Callable[[EpisodeRecord], None] | None = None,
) -> list[EpisodeRecord]:
    """Run ``episodes`` episodes of each env with seeds ``seed, seed + 1, ...``."""
    records = []
    for env_id in env_ids:
        env = gym.make(env_id, **(env_kwargs or {}))
        try:
            for i in range(episodes):
                record = run_episode(env, env_id, policy, seed + i, policy_name)
                records.append(record)
                if on_episode is not None:
                    on_episode(record)
        finally:
            env.close()
    return records
