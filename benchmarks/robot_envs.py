"""Robot envs: steps per second with RGB-D rendering, render cost, and the experts' success.

    .venv/bin/python benchmarks/robot_envs.py [--sizes 224,320,480] [--seconds 2] [--seeds 50]

Three tables, written together to ``benchmarks/out/robot_envs.json``:

* throughput: ``env.step(oracle action)`` per second for each task and square image size (one
  physics step of 20 MuJoCo substeps, one RGB + depth render, the observation), beside the bare
  gymnasium-robotics step without rendering, and the mean ``reset()`` time;
* render: milliseconds per frame at the default size for the env's one-pass RGB + depth render
  with shadows and reflections off, the same with them on, and ``mujoco.Renderer`` doing RGB
  and depth in two passes (its API), to show what each choice buys;
* experts: success rate and steps of :meth:`RobotEnv.oracle` over ``--seeds`` seeds per task.

Rendering runs on whatever ``MUJOCO_GL`` picks (EGL here, which Mesa runs on the CPU).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from _common import fmt, print_table, write_json

from envs.robot.camera import DEFAULT_CAMERA, SceneRenderer
from envs.robot.env import RobotEnv
from envs.robot.gl import import_mujoco, select_backend
from envs.robot.tasks import TASK_NAMES

DEFAULT_SIZE = 256


def throughput(task: str, size: int, seconds: float) -> tuple[float, float]:
    """(steps per second, mean reset ms) stepping the oracle for about ``seconds``."""
    env = RobotEnv(task, width=size, height=size)
    env.reset(seed=0)  # builds the renderer outside the timing
    step_s = reset_s = 0.0
    steps = resets = 0
    seed = 0
    while step_s < seconds:
        t0 = time.perf_counter()
        env.reset(seed=seed)
        reset_s += time.perf_counter() - t0
        resets, seed = resets + 1, seed + 1
        done = False
        while not done:
            action = env.oracle()
            t0 = time.perf_counter()
            _, _, terminated, truncated, _ = env.step(action)
            step_s += time.perf_counter() - t0
            steps += 1
            done = terminated or truncated
    env.close()
    return steps / step_s, 1000 * reset_s / resets


def bare_steps_per_s(task: str, seconds: float) -> float:
    """gymnasium-robotics' own step (no rendering) per second, random actions."""
    env = RobotEnv(task, width=64, height=64)
    fetch = env._fetch
    fetch.reset(seed=0)
    rng = np.random.default_rng(0)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fetch.step(rng.uniform(-1, 1, 4).astype(np.float32))
        n += 1
    return n / (time.perf_counter() - t0)


def render_ms(size: int, frames: int) -> dict[str, float]:
    """Milliseconds per RGB + depth frame of the pick-and-place scene, three ways."""
    mujoco = import_mujoco()
    env = RobotEnv("pick-and-place", width=size, height=size)
    env.reset(seed=0)
    model, data = env._fetch.model, env._fetch.data
    ours = SceneRenderer(model, size, size, DEFAULT_CAMERA)
    shadows = SceneRenderer(model, size, size, DEFAULT_CAMERA)
    shadows._scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 1
    shadows._scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 1
    two_pass = mujoco.Renderer(model, size, size)
    cam = ours._camera

    def renderer_rgb_depth() -> None:
        two_pass.update_scene(data, cam)
        two_pass.render()
        two_pass.enable_depth_rendering()
        two_pass.render()
        two_pass.disable_depth_rendering()

    variants = {
        "one pass, no shadows (env)": lambda: ours.render(data),
        "one pass, shadows + reflections": lambda: shadows.render(data),
        "mujoco.Renderer, two passes": renderer_rgb_depth,
    }
    out = {}
    for name, fn in variants.items():
        fn()
        samples = []
        for _ in range(frames):
            t0 = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t0)
        out[name] = 1000 * statistics.median(samples)
    for renderer in (ours, shadows, two_pass):
        renderer.close()
    return out


def experts(task: str, seeds: int) -> dict[str, float]:
    env = RobotEnv(task, width=DEFAULT_SIZE, height=DEFAULT_SIZE)
    wins, steps = [], []
    for seed in range(seeds):
        env.reset(seed=seed)
        done, n = False, 0
        while not done:
            _, _, terminated, truncated, info = env.step(env.oracle())
            n += 1
            done = terminated or truncated
        wins.append(bool(info["is_success"]))
        steps.append(n)
    return {
        "success": sum(wins) / seeds,
        "failed_seeds": [s for s, w in enumerate(wins) if not w],
        "mean_steps": float(np.mean(steps)),
        "max_steps": int(max(steps)),
        "budget": env._max_episode_steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="224,320,480", help="square image sizes, pixels")
    parser.add_argument("--seconds", type=float, default=2.0, help="stepping time per cell")
    parser.add_argument("--seeds", type=int, default=50, help="expert episodes per task")
    parser.add_argument("--frames", type=int, default=40, help="frames per render variant")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    backend = select_backend()

    rows, table = [], []
    for task in TASK_NAMES:
        row: dict[str, object] = {"task": task, "bare_steps_per_s": bare_steps_per_s(task, 1.0)}
        cells = [task, fmt(row["bare_steps_per_s"], ".0f")]
        for size in sizes:
            sps, reset_ms = throughput(task, size, args.seconds)
            row[f"{size}"] = {"steps_per_s": sps, "reset_ms": reset_ms}
            cells += [fmt(sps, ".1f"), fmt(reset_ms, ".1f")]
        rows.append(row)
        table.append(cells)
    headers = ["task", "no render"] + [h for s in sizes for h in (f"{s}px st/s", "reset ms")]
    print_table(headers, table, title=f"Steps per second with RGB + depth (MUJOCO_GL={backend})")

    render = render_ms(DEFAULT_SIZE, args.frames)
    print_table(
        ["renderer", "ms / frame"],
        [[k, fmt(v, ".2f")] for k, v in render.items()],
        title=f"RGB + depth render at {DEFAULT_SIZE}x{DEFAULT_SIZE}",
    )

    expert = {task: experts(task, args.seeds) for task in TASK_NAMES}
    print_table(
        ["task", "success", "mean steps", "max steps", "budget", "failed seeds"],
        [
            [
                t,
                fmt(e["success"], ".2f"),
                fmt(e["mean_steps"], ".1f"),
                e["max_steps"],
                e["budget"],
                ",".join(map(str, e["failed_seeds"])) or "-",
            ]
            for t, e in expert.items()
        ],
        title=f"Scripted experts over seeds 0-{args.seeds - 1} ({DEFAULT_SIZE}px)",
    )
    path = write_json(
        "robot_envs",
        {
            "mujoco_gl": backend or os.environ.get("MUJOCO_GL"),
            "sizes": sizes,
            "throughput": rows,
            "render_ms": {"size": DEFAULT_SIZE, **render},
            "experts": expert,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
