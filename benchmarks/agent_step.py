"""Where an agent step's time goes: capture, perceive, decide, guard, act, planner overhead.

    .venv/bin/python benchmarks/agent_step.py [--steps 200] [--no-desktop]

Runs the LangGraph agent (in-memory checkpointer) and times each part of every step by
wrapping the pieces it calls:

* capture: the screenshot (mss on a private Xvfb screen; inside ``env.step`` for the GUI suite,
  where rendering the frame is part of acting);
* perceive: the VLM call (a tiny random FastVLM on the CPU), 0 for the oracle;
* decide: the policy's own work around the model (prompting, parsing);
* guard: ``Guard.check``;  act: ``env.step`` (less capture);
* planner overhead: the step's wall time minus all of the above (LangGraph, state, events).

Target: planner overhead <= 1 ms per step. Writes ``benchmarks/out/agent_step.json``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
from _common import print_table, write_json

import envs  # noqa: F401 - registers the GUI suite
from actions.guard import Guard, GuardConfig
from agent_sdk.agent import Agent
from agent_sdk.events import StepEvent
from agent_sdk.policies import OraclePolicy, VLMPolicy

PARTS = ("capture", "perceive", "decide", "guard", "act")


class Clock:
    """Per-step seconds spent in each wrapped call."""

    def __init__(self) -> None:
        self.now: dict[str, float] = defaultdict(float)

    def wrap(self, obj: Any, method: str, part: str) -> None:
        inner: Callable[..., Any] = getattr(obj, method)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.now[part] += time.perf_counter() - t0

        setattr(obj, method, timed)

    def take(self) -> dict[str, float]:
        parts, self.now = dict(self.now), defaultdict(float)
        return parts


def measure(agent: Agent, make_env: Callable[[], Any], clock: Clock, steps: int) -> list[dict]:
    """Per-step part times over episodes until ``steps`` steps have run."""
    rows: list[dict[str, float]] = []
    seed = 0
    while len(rows) < steps:
        env = make_env()
        t_prev = None
        for event in agent.stream_episode(env, seed):
            if t_prev is None:  # the episode's first event: reset and graph start-up are behind
                clock.take()
                t_prev = time.perf_counter()
            if isinstance(event, StepEvent):
                t = time.perf_counter()
                parts = clock.take()
                parts["act"] = parts.get("act", 0.0) - parts.get("capture_in_act", 0.0)
                parts["capture"] = parts.pop("capture_in_act", 0.0)
                parts["perceive"] = parts.get("perceive", 0.0)
                parts["decide"] = parts.get("policy", 0.0) - parts["perceive"]
                parts.pop("policy", None)
                parts["wall"] = t - t_prev
                parts["overhead"] = parts["wall"] - sum(parts.get(p, 0.0) for p in PARTS)
                rows.append(parts)
                t_prev = time.perf_counter()
        seed += 1
    return rows[:steps]


def gui_suite(policy_name: str, model: Path | None, steps: int) -> list[dict]:
    clock = Clock()
    guard = Guard()
    clock.wrap(guard, "check", "guard")
    env = gym.make("agent_sdk/ui-fill-form-v0")
    clock.wrap(env, "step", "act")
    if policy_name == "oracle":
        policy: Any = OraclePolicy(env)
    else:
        from perception.base import load_vlm

        vlm = load_vlm(model, device="cpu")
        clock.wrap(vlm, "generate", "perceive")
        policy = VLMPolicy(vlm, max_new_tokens=8, max_retries=0)
    clock.wrap(policy, "act", "policy")
    return measure(Agent(policy, guard=guard, max_steps=40), lambda: env, clock, steps)


def desktop(steps: int) -> list[dict]:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from display import xvfb  # the tests' private Xvfb screen

    from actions.desktop import RecordingExecutor, ScreenSource
    from agent_sdk.policies import RandomPolicy
    from envs.desktop import DesktopEnv

    with tempfile.TemporaryDirectory() as tmp, xvfb(1280, 800, Path(tmp)):
        clock = Clock()
        guard = Guard(
            GuardConfig(max_actions_per_s=None)
        )  # a random policy outpaces any rate limit
        clock.wrap(guard, "check", "guard")
        source = ScreenSource()
        clock.wrap(source, "capture", "capture_in_act")
        env = DesktopEnv(
            "benchmark",
            source=source,
            guard=Guard(GuardConfig(max_actions_per_s=None)),
            executor=RecordingExecutor(),
            max_steps=50,
        )
        clock.wrap(env, "step", "act")
        policy = RandomPolicy(0)
        clock.wrap(policy, "act", "policy")
        return measure(Agent(policy, guard=guard, max_steps=50), lambda: env, clock, steps)


def summarize(name: str, rows: list[dict]) -> list[str]:
    med = {
        k: statistics.median(r.get(k, 0.0) for r in rows) * 1000
        for k in (*PARTS, "overhead", "wall")
    }
    return [name, str(len(rows)), *(f"{med[k]:.3f}" for k in (*PARTS, "overhead", "wall"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--no-desktop", action="store_true", help="skip the Xvfb scenario")
    args = parser.parse_args()
    from perception.tiny import save_tiny_checkpoint

    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = save_tiny_checkpoint(Path(tmp) / "tiny")
        results["gui suite, oracle"] = gui_suite("oracle", None, args.steps)
        results["gui suite, tiny VLM"] = gui_suite("vlm", model, max(args.steps // 4, 20))
    if not args.no_desktop and shutil.which("Xvfb"):
        results["desktop (Xvfb, dry run), random"] = desktop(max(args.steps // 2, 20))
    rows = [summarize(name, r) for name, r in results.items()]
    headers = ["scenario", "steps", *(f"{p} ms" for p in PARTS), "overhead ms", "step ms"]
    print_table(headers, rows, title="Median per-step time by part (one process, this machine)")
    worst = max(float(r[-2]) for r in rows)
    print(f"\nplanner overhead, worst scenario median: {worst:.3f} ms (target <= 1 ms)")
    write_json("agent_step", {"scenarios": results})


if __name__ == "__main__":
    main()
