"""Where does a model point on the states its own robot rollouts reach? Against the expert there.

    .venv/bin/python benchmarks/own_states.py --env agent_sdk/robot-push-v0 --episodes 40 \\
        --model perception/zoo/fastvlm-agent-small --model ckpt/run

`benchmarks/pointing_error.py` asks on collected examples: the expert's own states. A model that
acts drifts off them (a push that fell short, the gripper beside the block), and there its points
may be worse. Here each model runs the agent as `agent-sdk eval` does (`RobotEnvironment`, the
harness's `VLM_REPLAN_DISTANCE`) on seeds ``--seed`` up, and every answer with points is scored
against `point_oracle()` at the state it answered: the distance of its first point (the block,
the target) and of a drag's end, in image pixels, on the episodes' first steps and on the later
ones apart. Prints a table and writes ``benchmarks/out/own_states.json``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch
from _common import fmt, print_table, write_json
from pointing_error import distance

import envs  # noqa: F401  (registers the robot ids)
from actions.guard import action_points
from agent_sdk.agent import Agent
from agent_sdk.evaluate import play_environment, step_budget
from agent_sdk.events import EndEvent, ModelEvent, StepEvent
from agent_sdk.policies import VLMPolicy
from agent_sdk.robot import VLM_REPLAN_DISTANCE
from perception import load_vlm
from perception.zoo import zoo_model


@dataclass
class Errors:
    """Pixel errors of the answers on one kind of step."""

    first: list[float] = field(default_factory=list)  # the first point (block, target)
    end: list[float] = field(default_factory=list)  # a drag's end

    def row(self) -> dict[str, float | int | None]:
        first, end = np.array(self.first), np.array(self.end)
        return {"answers": len(first),
                "median_px": float(np.median(first)) if len(first) else None,
                "within_8px": float((first <= 8).mean()) if len(first) else None,
                "end_median_px": float(np.median(end)) if len(end) else None,
                "end_within_8px": float((end <= 8).mean()) if len(end) else None}  # fmt: skip


def score(model: str, env_id: str, seeds: range) -> tuple[Errors, Errors, int]:
    """The errors of ``model``'s answers on first and later steps, and its successes."""
    env = gym.make(env_id)
    expert = env.unwrapped
    agent = Agent(VLMPolicy(load_vlm(model, backend="torch", device="cpu")), keep_images=False)
    agent.max_steps = step_budget(env)
    first, later, wins = Errors(), Errors(), 0
    for seed in seeds:
        environment = play_environment(env, replan_distance=VLM_REPLAN_DISTANCE)
        want: tuple[tuple[float, float], ...] | None = None
        step = 0
        for event in agent.stream_episode(environment, seed):
            if isinstance(event, ModelEvent):  # answered; the action has not run yet
                oracle = expert.point_oracle()
                want = None if oracle is None else action_points(oracle)
            elif isinstance(event, StepEvent):
                got = () if event.record.action is None else action_points(event.record.action)
                if want is not None and got and len(got) == len(want):
                    errors = first if step == 0 else later
                    errors.first.append(distance(got[0], want[0], expert.width, expert.height))
                    if len(want) == 2:
                        errors.end.append(distance(got[1], want[1], expert.width, expert.height))
                step += 1
            elif isinstance(event, EndEvent):
                wins += bool(event.trajectory.success)
    env.close()
    return first, later, wins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="checkpoint (repeat; default: shipped)")
    parser.add_argument("--env", default="agent_sdk/robot-push-v0", help="a robot env id")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="first seed (0 up: never trained on)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = range(args.seed, args.seed + args.episodes)
    rows, payload = [], []
    for model in [str(m) for m in args.model or [zoo_model()]]:
        first, later, wins = score(model, args.env, seeds)
        for steps, errors in (("first", first), ("later", later)):
            row = {"model": model, "steps": steps, **errors.row()}
            payload.append({**row, "successes": wins})
            rows.append([model, steps, row["answers"], fmt(row["median_px"], ".1f"),
                         fmt(row["within_8px"], ".2f"), fmt(row["end_median_px"], ".1f"),
                         fmt(row["end_within_8px"], ".2f"), f"{wins} / {len(seeds)}"])  # fmt: skip
    title = f"pointing on own states: {args.env}, seeds {seeds.start}-{seeds.stop - 1}"
    print_table(["model", "steps", "answers", "median error px", "within 8 px", "end median px",
                 "end within 8 px", "successes"], rows, title=title)  # fmt: skip
    print(write_json("own_states", {"env": args.env, "seeds": [seeds.start, seeds.stop],
                                    "rows": payload}))  # fmt: skip


if __name__ == "__main__":
    main()
