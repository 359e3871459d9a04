"""Where a model's first click lands on the GUI suite: on the oracle's element, on another, or
on none (the screen's own `elements()` as ground truth).

    .venv/bin/python benchmarks/first_click.py [--model DIR] [--episodes 10] [--refer 3] \\
        [--env agent_sdk/ui-click-shape-v0]

For every GUI task, on seeds 0 .. episodes-1 (held out), the model answers the first screen
once, greedily, with the agent's prompt (`step_prompt`). When the oracle's first action is a
click, the model's answer is scored by the topmost element under its point against the topmost
element under the oracle's: "target" (the same element), "other" (another element), "nothing"
(empty space) or "no click" (another action, or no valid one). A model that reads where things
are but not which one is meant clicks other elements; one that hedges between candidates
clicks the space between them. ``--refer K`` asks instead up to K referring questions about
each first screen (`agent_sdk.refer`: "Click the "Archive" button.", one element its text picks
out alone, as `agent-sdk collect --refer` writes them), scored the same way against the named
element: whether the model reads which element a name means, on every task's screens. Prints a
table per task and writes ``benchmarks/out/first_click.json`` (``first_click_refer.json``).
"""

from __future__ import annotations

import argparse
from collections import Counter

import gymnasium as gym
import numpy as np
from _common import episode_model, print_table, write_json

import envs
from actions.errors import ParseError
from actions.parse import parse_action
from actions.schema import Click
from agent_sdk.prompting import step_prompt
from agent_sdk.refer import referring_questions
from envs.contract import Element

KINDS = ("target", "other", "nothing", "no click")


def element_at(x: float, y: float, elements: list[Element]) -> Element | None:
    """The topmost element (the last listed) whose box holds screen pixel ``(x, y)``."""
    hits = [e for e in elements if e.x <= x < e.x + e.w and e.y <= y < e.y + e.h]
    return hits[-1] if hits else None


def first_click(answer: str, oracle: Click, elements: list[Element], size: tuple[int, int]) -> str:
    """One of `KINDS` for ``answer`` on a screen of ``size`` (width, height) pixels."""
    try:
        action = parse_action(answer, image_size=size)
    except ParseError:
        return "no click"
    if not isinstance(action, Click):
        return "no click"
    width, height = size
    hit = element_at(action.x * width, action.y * height, elements)
    if hit is None:
        return "nothing"
    return "target" if hit == element_at(oracle.x * width, oracle.y * height, elements) else "other"


def questions(
    env: gym.Env, obs: dict, elements: list[Element], seed: int, refer: int
) -> list[tuple[str, Click]]:
    """What to ask about a first screen (showing ``elements``), with the click that answers it:
    the task's own instruction when its oracle clicks first (none otherwise), or with ``refer``
    > 0 that many referring questions (drawn by ``seed``)."""
    if refer:
        height, width = obs["image"].shape[:2]
        return referring_questions(elements, width, height, refer, np.random.default_rng(seed))
    oracle = env.unwrapped.oracle()
    # typing, dragging or scrolling first: no element to compare
    return [(obs["instruction"], oracle)] if isinstance(oracle, Click) else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refer", type=int, default=0,
                        help="ask K referring questions per first screen instead")  # fmt: skip
    parser.add_argument("--env", action="append", default=None,
                        help="a GUI task's env id (repeat; default: all)")  # fmt: skip
    args, model, vlm = episode_model(parser)
    per_task: dict[str, Counter[str]] = {}
    for env_id in args.env or envs.SUITES["ui"]:
        env = gym.make(env_id)
        counts: Counter[str] = Counter()
        for seed in range(args.episodes):
            obs, _ = env.reset(seed=seed)
            size = (obs["image"].shape[1], obs["image"].shape[0])
            elements = env.unwrapped.elements()
            for instruction, click in questions(env, obs, elements, seed, args.refer):
                answer = vlm.generate(obs["image"], step_prompt(instruction), max_new_tokens=48,
                                      temperature=0.0).text  # fmt: skip
                counts[first_click(answer, click, elements, size)] += 1
        env.close()
        if counts:
            per_task[env_id.split("/")[-1]] = counts
    total: Counter[str] = sum(per_task.values(), Counter())
    rows = [[task, *(c[k] for k in KINDS)] for task, c in per_task.items()]
    rows.append(["all", *(total[k] for k in KINDS)])
    asked = f", {args.refer} referring questions a screen" if args.refer else ""
    print_table(["task (first screen)", *KINDS], rows,
                title=f"first clicks of {model}, seeds 0-{args.episodes - 1}{asked}")  # fmt: skip
    print(write_json("first_click_refer" if args.refer else "first_click",
                     {"model": str(model), "episodes": args.episodes, "refer": args.refer,
                      "per_task": {t: dict(c) for t, c in per_task.items()},
                      "total": dict(total)}))  # fmt: skip


if __name__ == "__main__":
    main()
