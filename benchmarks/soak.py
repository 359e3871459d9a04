"""Soak: thousands of agent steps in one process, watching memory, file descriptors and threads.

    .venv/bin/python benchmarks/soak.py [--steps 10000] [--every 250] [--warmup 1000]

A tiny random FastVLM (``perception.tiny.save_tiny_checkpoint`` in a temporary folder, loaded
with ``load_vlm`` on the CPU, one torch thread) drives :class:`~agent_sdk.policies.VLMPolicy`
through the real :class:`~agent_sdk.agent.Agent` (LangGraph graph, in-memory checkpointer,
default guard) over the 12 GUI-suite envs in turn, seed after seed, until ``--steps`` agent steps
have run. Its answers are mostly unparsable, so most episodes end after a step or two: the soak
exercises resets, re-asks, guard checks and checkpoint clean-up as much as steps.

Every ``--every`` steps it samples resident memory (VmRSS), open file descriptors
(``/proc/self/fd``) and ``threading.active_count()``. Figures: RSS growth from the first sample
after ``--warmup`` steps to the last (goal < 5 %), and fd and thread growth over the same span
(goal 0). Prints the curve as a table; writes ``benchmarks/out/soak.json`` and ``soak.png``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import gymnasium as gym
import torch
from _common import print_table, pyplot, save_figure, write_json

from actions.guard import Guard
from agent_sdk.agent import Agent
from agent_sdk.policies import VLMPolicy
from envs import UI_SUITE
from perception.base import load_vlm
from perception.tiny import save_tiny_checkpoint


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def sample(steps: int, episodes: int, t0: float) -> dict[str, float]:
    return {"steps": steps, "episodes": episodes, "elapsed_s": time.perf_counter() - t0,
            "rss_mib": rss_mib(), "fds": len(os.listdir("/proc/self/fd")),
            "threads": threading.active_count()}  # fmt: skip


def soak(model: Path, steps: int, every: int) -> list[dict[str, float]]:
    vlm = load_vlm(model, device="cpu")
    agent = Agent(VLMPolicy(vlm, max_new_tokens=16, max_retries=1), guard=Guard(), max_steps=10)
    agent.keep_images = False  # what an eval run does for episodes it does not save
    envs = [gym.make(env_id) for env_id in UI_SUITE]
    done, episodes, t0 = 0, 0, time.perf_counter()
    samples = [sample(0, 0, t0)]
    try:
        while done < steps:
            env = envs[episodes % len(envs)]
            trajectory = agent.run_episode(env, seed=episodes)
            done += len(trajectory.steps)
            episodes += 1
            if done // every > samples[-1]["steps"] // every or done >= steps:
                samples.append(sample(done, episodes, t0))
                print("sample", samples[-1], file=sys.stderr, flush=True)  # progress of long runs
    finally:
        for env in envs:
            env.close()
    return samples


def figures(samples: list[dict[str, float]], warmup: int) -> dict[str, float]:
    base = next((s for s in samples if s["steps"] >= warmup), samples[-1])
    last = samples[-1]
    return {
        "steps": last["steps"],
        "episodes": last["episodes"],
        "elapsed_s": last["elapsed_s"],
        "ms_per_step": 1000 * last["elapsed_s"] / max(last["steps"], 1),
        "rss_after_warmup_mib": base["rss_mib"],
        "rss_last_mib": last["rss_mib"],
        "rss_max_mib": max(s["rss_mib"] for s in samples if s["steps"] >= base["steps"]),
        "rss_growth_pct": 100 * (last["rss_mib"] - base["rss_mib"]) / base["rss_mib"],
        "fd_growth": last["fds"] - base["fds"],
        "thread_growth": last["threads"] - base["threads"],
    }


def plot(samples: list[dict[str, float]], warmup: int) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot([s["steps"] for s in samples], [s["rss_mib"] for s in samples], marker=".")
    ax.axvline(warmup, color="grey", linestyle=":", label="end of warm-up")
    ax.set_xlabel("agent steps")
    ax.set_ylabel("RSS (MiB)")
    ax.set_title("Soak: resident memory over agent steps (tiny FastVLM, GUI suite)")
    ax.legend()
    return save_figure(fig, "soak")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=250, help="steps between samples")
    parser.add_argument("--warmup", type=int, default=1000, help="steps before the baseline")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        model = save_tiny_checkpoint(Path(tmp) / "tiny")
        samples = soak(model, args.steps, args.every)
    rows = [[s["steps"], s["episodes"], f"{s['elapsed_s']:.0f}", f"{s['rss_mib']:.1f}",
             s["fds"], s["threads"]] for s in samples]  # fmt: skip
    print_table(["steps", "episodes", "elapsed s", "RSS MiB", "fds", "threads"], rows,
                title="Soak curve")  # fmt: skip
    result = figures(samples, args.warmup)
    print(f"{result['steps']} steps in {result['episodes']} episodes, "
          f"{result['ms_per_step']:.1f} ms/step; RSS {result['rss_after_warmup_mib']:.1f} -> "
          f"{result['rss_last_mib']:.1f} MiB after warm-up ({result['rss_growth_pct']:+.2f} %, "
          f"goal < 5 %); fds {result['fd_growth']:+d}, threads {result['thread_growth']:+d} "
          "(goal 0)")  # fmt: skip
    print(write_json("soak", {"args": vars(args), "figures": result, "samples": samples}))
    print(plot(samples, args.warmup))


if __name__ == "__main__":
    main()
