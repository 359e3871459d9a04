"""Episodes and steps per second: MiniWoB++ in Chromium vs the built-in GUI suite, both oracle.

    .venv/bin/python benchmarks/miniwob_vs_ui.py [--episodes 10] [--ui-size 160x210]

Every task of both suites (``envs.SUITES["miniwob"]``, ``envs.SUITES["ui"]``) runs its oracle
for ``--episodes`` seeded episodes in one process, one task after the other:

* episodes/s: episodes over their whole wall time (reset + oracle + steps);
* steps/s: steps over the time spent inside ``env.step`` (act + screenshot + DOM read);
* reset ms, step ms: mean latencies; start s: Chromium's start-up and page load, paid once
  per env (on its first reset, which is untimed) and left out of the rates.

The GUI suite renders at ``--ui-size`` (default 160x210, the MiniWoB++ screenshot size). Needs
the ``miniwob`` extra and Chromium + chromedriver. Prints a table and writes
``benchmarks/out/miniwob_vs_ui.json``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass
from typing import Any

import gymnasium as gym
from _common import fmt, print_table, write_json

from envs import SUITES
from envs.errors import EnvError


@dataclass
class TaskTiming:
    """One task's oracle episodes."""

    suite: str
    task: str
    episodes: int
    successes: int
    steps: int
    reset_s: float
    step_s: float
    wall_s: float
    startup_s: float | None

    @property
    def episodes_per_s(self) -> float:
        return self.episodes / self.wall_s

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.step_s


def run_task(env_id: str, suite: str, episodes: int, seed: int, **kwargs: Any) -> TaskTiming:
    """Time ``episodes`` oracle episodes of one env (after one untimed warm-up reset)."""
    env = gym.make(env_id, **kwargs)
    env.reset(seed=seed)  # MiniWoB++ starts Chromium here
    startup_s = getattr(env.unwrapped, "startup_s", None)
    reset_s = step_s = 0.0
    steps = successes = 0
    wall0 = time.perf_counter()
    for i in range(episodes):
        t0 = time.perf_counter()
        env.reset(seed=seed + i)
        reset_s += time.perf_counter() - t0
        done = False
        while not done:
            action = env.unwrapped.oracle().to_json()
            t0 = time.perf_counter()
            _, _, terminated, truncated, info = env.step(action)
            step_s += time.perf_counter() - t0
            steps += 1
            done = terminated or truncated
        successes += bool(info["is_success"])
    wall_s = time.perf_counter() - wall0
    env.close()
    task = env_id.split("/")[1].removeprefix(f"{suite}-").removesuffix("-v0")
    return TaskTiming(suite, task, episodes, successes, steps, reset_s, step_s, wall_s, startup_s)


def total(rows: list[TaskTiming], suite: str) -> TaskTiming:
    """The suite's rows summed into one."""
    mine = [r for r in rows if r.suite == suite]
    startups = [r.startup_s for r in mine if r.startup_s is not None]
    return TaskTiming(
        suite,
        "all",
        sum(r.episodes for r in mine),
        sum(r.successes for r in mine),
        sum(r.steps for r in mine),
        sum(r.reset_s for r in mine),
        sum(r.step_s for r in mine),
        sum(r.wall_s for r in mine),
        sum(startups) / len(startups) if startups else None,
    )


def table_row(r: TaskTiming) -> list[str]:
    return [
        r.suite,
        r.task,
        f"{r.successes}/{r.episodes}",
        fmt(r.steps / r.episodes, ".2f"),
        fmt(r.episodes_per_s, ",.1f"),
        fmt(r.steps_per_s, ",.0f"),
        fmt(1000 * r.reset_s / r.episodes, ".1f"),
        fmt(1000 * r.step_s / r.steps, ".1f"),
        fmt(r.startup_s, ".2f"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=10, help="oracle episodes per task")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    parser.add_argument("--ui-size", default="160x210", help="GUI-suite screen, WIDTHxHEIGHT")
    args = parser.parse_args()
    width, height = (int(v) for v in args.ui_size.split("x"))
    rows = [
        run_task(i, "ui", args.episodes, args.seed, width=width, height=height)
        for i in SUITES["ui"]
    ]
    try:
        rows += [run_task(i, "miniwob", args.episodes, args.seed) for i in SUITES["miniwob"]]
    except EnvError as err:  # no miniwob extra, no Chromium
        raise SystemExit(f"MiniWoB++ could not run: {err}") from err
    totals = [total(rows, "ui"), total(rows, "miniwob")]
    headers = ["suite", "task", "success", "steps/ep", "episodes/s", "steps/s", "reset ms",
               "step ms", "start s"]  # fmt: skip
    print_table(headers, [table_row(r) for r in rows + totals], align="ll" + "r" * 7)
    ui, mw = totals
    print(
        f"GUI suite ({args.ui_size}) vs MiniWoB++: {ui.episodes_per_s / mw.episodes_per_s:,.0f}x "
        f"the episodes/s, {ui.steps_per_s / mw.steps_per_s:,.0f}x the steps/s; "
        f"Chromium starts in {mw.startup_s:.2f} s per env (mean)"
    )
    payload = {
        "episodes_per_task": args.episodes,
        "seed": args.seed,
        "ui_size": args.ui_size,
        "rows": [asdict(r) | {"episodes_per_s": r.episodes_per_s, "steps_per_s": r.steps_per_s}
                 for r in rows + totals],
    }  # fmt: skip
    print(f"wrote {write_json('miniwob_vs_ui', payload)}")


if __name__ == "__main__":
    main()
