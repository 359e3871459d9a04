"""The evaluation harness's own cost: per-step overhead over a bare loop, and memory over a
1,000-episode run.

    .venv/bin/python benchmarks/eval_harness.py [--episodes 1000]

1. The same oracle episodes of the GUI suite run twice, side by side: a bare Gymnasium loop
   (reset, oracle, step) and ``agent_sdk.evaluate`` (the LangGraph agent, episode records
   written and fsync'd to ``episodes.jsonl``, trajectories saved for the first 3 per env). The
   difference per step is the harness's overhead.
2. Resident memory (VmRSS) sampled every 50 episodes of the harness run; the growth from the
   first sample (after warm-up) to the last is the figure (goal < 5 %).
Writes ``benchmarks/out/eval_harness.json``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Mapping

import gymnasium as gym
from _common import print_table, write_json

from agent_sdk.evaluate import EpisodeRecord, EvalConfig, evaluate
from envs import UI_SUITE


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


class Sampler:
    """An ``EvalProgress`` that samples memory every ``every`` episodes."""

    def __init__(self, every: int) -> None:
        self.every, self.done, self.samples = every, 0, []

    def start(self, total: Mapping[str, int], done: Mapping[str, int]) -> None:
        self.t0 = time.perf_counter()

    def advance(self, record: EpisodeRecord) -> None:
        self.done += 1
        if self.done % self.every == 0:
            self.samples.append((self.done, rss_mib()))


def bare_loop(per_env: int) -> tuple[int, float]:
    """Steps and seconds of the oracle on every env, no agent, no records."""
    steps, t0 = 0, time.perf_counter()
    for env_id in UI_SUITE:
        env = gym.make(env_id)
        for seed in range(per_env):
            env.reset(seed=seed)
            done = False
            while not done:
                *_, terminated, truncated, _ = env.step(env.unwrapped.oracle().to_json())
                steps += 1
                done = terminated or truncated
        env.close()
    return steps, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1000, help="in all, over the suite")
    args = parser.parse_args()
    per_env = max(1, args.episodes // len(UI_SUITE))
    bare_steps, bare_s = bare_loop(per_env)
    sampler = Sampler(every=50)
    with tempfile.TemporaryDirectory() as out:
        config = EvalConfig(UI_SUITE, "oracle", episodes=per_env, suite="ui")
        t0 = time.perf_counter()
        records = evaluate(config, out, progress=sampler)
        harness_s = time.perf_counter() - t0
    steps = sum(r.steps for r in records)
    bare_ms, harness_ms = 1000 * bare_s / bare_steps, 1000 * harness_s / steps
    print_table(
        ["loop", "episodes", "steps", "seconds", "ms/step", "episodes/s"],
        [
            [
                "bare gym loop",
                len(UI_SUITE) * per_env,
                bare_steps,
                f"{bare_s:.1f}",
                f"{bare_ms:.3f}",
                f"{len(UI_SUITE) * per_env / bare_s:.0f}",
            ],
            [
                "agent_sdk.evaluate",
                len(records),
                steps,
                f"{harness_s:.1f}",
                f"{harness_ms:.3f}",
                f"{len(records) / harness_s:.0f}",
            ],
        ],
        title="Oracle over the GUI suite (320x240), one process",
    )
    print(f"\nharness overhead per step: {harness_ms - bare_ms:.3f} ms")
    first, last = sampler.samples[0], sampler.samples[-1]
    growth = 100 * (last[1] - first[1]) / first[1]
    print_table(["after episodes", "RSS MiB"], [[n, f"{m:.1f}"] for n, m in sampler.samples[::4]])
    print(f"RSS growth from episode {first[0]} to {last[0]}: {growth:+.2f} % (goal < 5 %)")
    write_json("eval_harness", {
        "bare": {"steps": bare_steps, "seconds": bare_s}, "harness": {"steps": steps,
        "seconds": harness_s}, "overhead_ms_per_step": harness_ms - bare_ms,
        "rss_samples_mib": sampler.samples, "rss_growth_pct": growth,
    })  # fmt: skip


if __name__ == "__main__":
    main()
