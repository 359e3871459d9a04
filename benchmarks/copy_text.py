"""Whether a model types the text its task spells out: the copying half of the typing tasks.

    .venv/bin/python benchmarks/copy_text.py [--model DIR] [--episodes 10] [--env ID ...]

For each typing task (GUI enter-text and fill-form, MiniWoB++ enter-text, enter-password and
login-user; MiniWoB++ needs Chromium), on held-out seeds 0 .. episodes-1, the oracle plays the
episode and every step whose answer types a text the instruction spells out
(`agent_sdk.train.copied_text`) is asked of the model once, greedily, with the agent's prompt
(the instruction and the oracle's previous actions). Its answer is scored "exact" (types that
text), "other value" (types another text the instruction spells out: the wrong field's),
"other text" or "no typing"; "chars" is the share of the text's characters typed right in
place (0 without typing). The clicks around the typing are left out: `first_click.py` scores
those. Prints a table per task and writes ``benchmarks/out/copy_text.json``.
"""

from __future__ import annotations

import argparse
from collections import Counter

import gymnasium as gym
import numpy as np
from _common import episode_model, print_table, write_json

from actions.errors import ParseError
from actions.parse import parse_action
from actions.schema import TypeText
from agent_sdk.collect import episode_examples
from agent_sdk.train.data import copied_text, typed_values
from envs.errors import EnvError

ENVS = (
    "agent_sdk/ui-enter-text-v0",
    "agent_sdk/ui-fill-form-v0",
    "agent_sdk/miniwob-enter-text-v0",
    "agent_sdk/miniwob-enter-password-v0",
    "agent_sdk/miniwob-login-user-v0",
)
KINDS = ("exact", "other value", "other text", "no typing")


def score(answer: str, instruction: str, history: tuple[str, ...], text: str) -> tuple[str, float]:
    """One of `KINDS` for ``answer`` where ``text`` should be typed, and the share of ``text``'s
    characters it types in place."""
    try:
        action = parse_action(answer)
    except ParseError:
        return "no typing", 0.0
    if not isinstance(action, TypeText):
        return "no typing", 0.0
    right = sum(a == b for a, b in zip(action.text, text, strict=False)) / len(text)
    if action.text == text:
        return "exact", right
    spelled = action.text in typed_values(instruction, history, answer)
    return ("other value" if spelled else "other text"), right


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", action="append", default=None, help="env id (repeat)")
    args, model, vlm = episode_model(parser)
    per_task: dict[str, Counter[str]] = {}
    chars: dict[str, list[float]] = {}
    samples: dict[str, list[list[str]]] = {}
    for env_id in args.env or ENVS:
        env = gym.make(env_id)
        counts: Counter[str] = Counter()
        task = env_id.split("/")[-1]
        for seed in range(args.episodes):
            try:
                examples, _ = episode_examples(env, env_id, seed, np.random.default_rng(seed), 0.0)
            except EnvError as err:  # e.g. a MiniWoB++ button no click can reach
                print(f"skipped {env_id} seed {seed}: {err}")
                continue
            for ex in examples:
                text = copied_text(ex.instruction, ex.history, ex.target)
                if text is None:
                    continue
                answer = vlm.generate(ex.image, ex.prompt, max_new_tokens=48,
                                      temperature=0.0).text  # fmt: skip
                kind, right = score(answer, ex.instruction, ex.history, text)
                counts[kind] += 1
                chars.setdefault(task, []).append(right)
                samples.setdefault(task, []).append([text, answer])
        env.close()
        per_task[task] = counts
    total: Counter[str] = sum(per_task.values(), Counter())
    every = [c for task in chars.values() for c in task]
    rows = [[task, *(c[k] for k in KINDS), f"{np.mean(chars.get(task, [0.0])):.2f}"]
            for task, c in per_task.items()]  # fmt: skip
    rows.append(["all", *(total[k] for k in KINDS), f"{np.mean(every or [0.0]):.2f}"])
    print_table(["task (typing steps)", *KINDS, "chars"], rows,
                title=f"typed text of {model}, seeds 0-{args.episodes - 1}")  # fmt: skip
    print(write_json("copy_text", {"model": str(model), "episodes": args.episodes,
                                   "per_task": {t: dict(c) for t, c in per_task.items()},
                                   "total": dict(total), "chars": float(np.mean(every or [0.0])),
                                   "samples": {t: s[:5] for t, s in samples.items()}}))  # fmt: skip


if __name__ == "__main__":
    main()
