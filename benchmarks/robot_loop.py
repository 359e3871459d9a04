"""The robot control loop's rates: simulator steps with rendering, perception calls, end to end.

    .venv/bin/python benchmarks/robot_loop.py [--size 256] [--episodes 3] [--perceive-every 10]

For each Fetch task (MuJoCo, headless EGL), side by side in one run:

* sim: ``env.step`` with rendering (RGB + depth), the oracle's actions, no agent;
* oracle agent: the LangGraph agent with the oracle, one simulator step per agent step;
* tiny VLM: ``VLMPolicy.act`` on the camera image with a tiny random FastVLM on the CPU
  (perception calls/s; its answers are random text, so it cannot control the arm);
* tiny VLM + motor: the agent with the tiny model's real perception cost, but answering with
  the target's true image point (what a trained model would say), so the motor layer runs
  ``--perceive-every`` simulator steps per perception call: the control rate the loop sustains
  (only reach can succeed this way; the row measures rates, not success).

Writes ``benchmarks/out/robot_loop.json``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from typing import Any

import gymnasium as gym
from _common import fmt, print_table, write_json

import envs  # noqa: F401 - registers the robot suite
from actions.motor import project
from actions.schema import CameraInfo
from agent_sdk.agent import Agent
from agent_sdk.environment import as_environment
from agent_sdk.policies import OraclePolicy, VLMPolicy
from agent_sdk.robot import RobotEnvironment
from perception.base import Generation, load_vlm
from perception.tiny import save_tiny_checkpoint

TASKS = ("reach", "push", "pick-and-place")


class TargetAnswer:
    """Wraps a VLM: pays for its real call, then answers with the red target's image point."""

    def __init__(self, vlm: Any, env: gym.Env) -> None:
        self.vlm, self.env, self.name = vlm, env, f"{vlm.name}+target"

    def generate(self, image: Any, prompt: str, **kwargs: Any) -> Generation:
        gen = self.vlm.generate(image, prompt, **kwargs)
        env = self.env.unwrapped
        x, y = project(env.fetch_state().goal, CameraInfo(**env._camera), (env.width, env.height))
        return replace(gen, text=f"point_target({round(x * 1000)}, {round(y * 1000)})")


def sim_rate(env: gym.Env, min_steps: int) -> float:
    """Simulator steps/s with rendering, over whole oracle episodes (at least ``min_steps``)."""
    env.reset(seed=0)  # warm-up: the GL context and the renderer
    steps, seed, start = 0, 0, time.perf_counter()
    while steps < min_steps:
        env.reset(seed=seed)
        seed += 1
        while True:
            *_, terminated, truncated, _ = env.step(env.unwrapped.oracle())
            steps += 1
            if terminated or truncated:
                break
    return steps / (time.perf_counter() - start)


def agent_rate(agent: Agent, env: gym.Env, episodes: int, perceive_every: int) -> dict[str, float]:
    """Agent steps (perception calls) and simulator steps per second, and the success rate."""
    calls = wins = 0
    sim_steps = 0
    start = time.perf_counter()
    for seed in range(episodes):
        environment = RobotEnvironment(env, perceive_every=perceive_every)
        trajectory = agent.run_episode(environment, seed)
        calls += len(trajectory.steps)
        sim_steps += env.unwrapped.steps
        wins += trajectory.success
    wall = time.perf_counter() - start
    return {"calls_per_s": calls / wall, "sim_per_s": sim_steps / wall, "success": wins / episodes}


def perception_rate(vlm: Any, env: gym.Env, calls: int) -> float:
    policy = VLMPolicy(vlm, max_retries=0)
    obs = as_environment(env).reset(seed=0)
    policy.act(obs, [])  # warm-up
    start = time.perf_counter()
    for _ in range(calls):
        policy.act(obs, [])
    return calls / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256, help="camera image side, pixels")
    parser.add_argument("--episodes", type=int, default=3, help="episodes per task and row")
    parser.add_argument("--perceive-every", type=int, default=10, help="sim steps per call")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        vlm = load_vlm(save_tiny_checkpoint(f"{tmp}/tiny", image_size=args.size), device="cpu")
        rows, results = [], {}
        for task in TASKS:
            env = gym.make(f"agent_sdk/robot-{task}-v0", width=args.size, height=args.size)
            sim = sim_rate(env, min_steps=100)
            oracle = agent_rate(Agent(OraclePolicy(env), max_steps=200), env, args.episodes, 1)
            percept = perception_rate(vlm, env, calls=10)
            motor = agent_rate(
                Agent(VLMPolicy(TargetAnswer(vlm, env), max_retries=0), max_steps=200),
                env,
                args.episodes,
                args.perceive_every,
            )
            env.close()
            results[task] = {"sim_steps_per_s": sim, "oracle": oracle,
                             "tiny_vlm_calls_per_s": percept, "tiny_vlm_motor": motor}  # fmt: skip
            rows.append([task, fmt(sim, ".0f"), fmt(oracle["sim_per_s"], ".0f"),
                         fmt(percept, ".1f"), fmt(motor["calls_per_s"], ".1f"),
                         fmt(motor["sim_per_s"], ".0f"),
                         fmt(oracle["success"], ".2f")])  # fmt: skip
    print_table(
        ["task", "sim steps/s", "oracle agent sim/s", "tiny VLM calls/s",
         "VLM+motor calls/s", "VLM+motor sim/s", "oracle success"],
        rows,
        title=f"robot loop at {args.size}x{args.size}, perceive every {args.perceive_every} "
        f"sim steps, {args.episodes} episodes per task and row",
    )  # fmt: skip
    path = write_json("robot_loop", {"args": vars(args), "results": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
