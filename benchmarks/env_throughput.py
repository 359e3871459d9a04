"""Steps per second of every GUI-suite task on one process, at two screen sizes.

    .venv/bin/python benchmarks/env_throughput.py [--seconds 1.0] [--sizes 320x240,1280x800]

Each step is ``env.step(json_text)``: parse, apply, render. Two action streams:

* oracle: the task's expert (most steps change the screen, so most steps redraw);
* random: random clicks, scrolls and keys as JSON (most miss every widget; cheap steps).

Resets are timed apart (a reset lays out and draws a new scene). Prints a table and writes
``benchmarks/out/env_throughput.json``. Target: >= 1,000 steps/s at the default 320x240.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from actions.schema import Click, Key, Scroll, TypeText
from envs.ui.env import UIEnv
from envs.ui.tasks import TASK_NAMES


def random_action(rng: np.random.Generator) -> str:
    x, y = float(rng.random()), float(rng.random())
    kind = rng.integers(10)
    if kind < 6:
        return Click(x=x, y=y).to_json()
    if kind < 8:
        return Scroll(x=x, y=y, dy=int(rng.choice([-2, -1, 1, 2]))).to_json()
    if kind < 9:
        return TypeText(text="abc").to_json()
    return Key(key=str(rng.choice(["enter", "tab", "backspace"]))).to_json()


def measure(task: str, width: int, height: int, seconds: float, policy: str) -> tuple[float, float]:
    """(steps per second, mean reset milliseconds) over about ``seconds`` of stepping."""
    env = UIEnv(task, width=width, height=height)
    rng = np.random.default_rng(0)
    step_time = reset_time = 0.0
    steps = resets = 0
    seed = 0
    while step_time < seconds:
        t0 = time.perf_counter()
        env.reset(seed=seed)
        reset_time += time.perf_counter() - t0
        resets += 1
        seed += 1
        done = False
        while not done:
            text = env.oracle().to_json() if policy == "oracle" else random_action(rng)
            t0 = time.perf_counter()
            _, _, terminated, truncated, _ = env.step(text)
            step_time += time.perf_counter() - t0
            steps += 1
            done = terminated or truncated
    return steps / step_time, 1000 * reset_time / resets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="stepping time per cell")
    parser.add_argument("--sizes", default="320x240,1280x800")
    parser.add_argument("--out", default="benchmarks/out/env_throughput.json")
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    rows = []
    header = f"{'task':<18}" + "".join(
        f"{f'{w}x{h} oracle':>18}{f'{w}x{h} random':>18}{'reset ms':>10}" for w, h in sizes
    )
    print(header)
    print("-" * len(header))
    for task in TASK_NAMES:
        row: dict[str, object] = {"task": task}
        line = f"{task:<18}"
        for w, h in sizes:
            oracle, reset_ms = measure(task, w, h, args.seconds, "oracle")
            random, _ = measure(task, w, h, args.seconds, "random")
            row[f"{w}x{h}"] = {
                "oracle_steps_per_s": oracle,
                "random_steps_per_s": random,
                "reset_ms": reset_ms,
            }
            line += f"{oracle:>18,.0f}{random:>18,.0f}{reset_ms:>10.2f}"
        rows.append(row)
        print(line, flush=True)
    default = f"{sizes[0][0]}x{sizes[0][1]}"
    worst = min(r[default]["oracle_steps_per_s"] for r in rows)  # type: ignore[index]
    print(f"\nslowest task at {default} (oracle actions): {worst:,.0f} steps/s (target >= 1,000)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"sizes": args.sizes, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
