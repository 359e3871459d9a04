"""What decoding under the action grammar costs, and what it changes in the answers.

    .venv/bin/python benchmarks/grammar_decoding.py [--model DIR] [--screens 24]

Asks a model (default: the shipped one) the agent's own prompts on first screens of the GUI
suite and first camera images of the Fetch push task, each free and under
`actions.grammar.action_grammar` (screen or motor), interleaved on one thread. Per mode: the
median call time, TTFT and decode time per generated token, how many answers parse
(`parse_action`, or a motor chunk), and how many answers the grammar changed. Writes
``benchmarks/out/grammar_decoding.json``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np
from _common import fmt, print_table, torch_threads, write_json

import envs
from actions.errors import ParseError
from actions.grammar import action_grammar
from actions.motor import parse_chunk
from actions.parse import parse_action
from agent_sdk.prompting import robot_prompt, step_prompt
from perception import load_vlm
from perception.zoo import zoo_model


def questions(screens: int) -> list[tuple[np.ndarray, str, str]]:
    """(image, prompt, grammar kinds): first GUI screens of every task, then robot images."""
    asked: list[tuple[np.ndarray, str, str]] = []
    tasks = envs.SUITES["ui"]
    for i in range(screens):
        env = gym.make(tasks[i % len(tasks)])
        obs, _ = env.reset(seed=i)
        asked.append((obs["image"], step_prompt(obs["instruction"]), "screen"))
        env.close()
    push = gym.make("agent_sdk/robot-push-v0")
    for i in range(max(1, screens // 3)):
        obs, _ = push.reset(seed=i)
        asked.append((obs["image"], robot_prompt(obs["instruction"]), "motor"))
    push.close()
    return asked


def parses(text: str, kinds: str) -> bool:
    try:
        if kinds == "motor":
            try:
                parse_chunk(text)
            except ParseError:
                parse_action(text)
        else:
            parse_action(text)
    except ParseError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="checkpoint folder (default: shipped)")
    parser.add_argument("--screens", type=int, default=24, help="GUI screens (robots: a third)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model = args.model or str(zoo_model())
    vlm = load_vlm(model, backend="torch", device="cpu")
    asked = questions(args.screens)
    grammars = {k: action_grammar(k) for k in ("screen", "motor")}  # type: ignore[arg-type]
    calls: dict[str, list[float]] = {"free": [], "grammar": []}
    ttft: dict[str, list[float]] = {"free": [], "grammar": []}
    per_token: dict[str, list[float]] = {"free": [], "grammar": []}
    texts: dict[str, list[str]] = {"free": [], "grammar": []}
    with torch_threads(1):
        for image, prompt, kinds in asked:  # warm-up: compile the grammars, fill the caches
            vlm.generate(image, prompt, max_new_tokens=48, grammar=grammars[kinds])
        for round_ in range(args.repeats):
            for image, prompt, kinds in asked:
                for mode in ("free", "grammar"):  # interleaved: drift hits both alike
                    extra = {"grammar": grammars[kinds]} if mode == "grammar" else {}
                    t0 = time.perf_counter()
                    gen = vlm.generate(image, prompt, max_new_tokens=48, **extra)
                    calls[mode].append(time.perf_counter() - t0)
                    ttft[mode].append(gen.timings.ttft_s)
                    after = max(gen.timings.num_generated_tokens - 1, 1)
                    per_token[mode].append(gen.timings.decode_s / after)
                    if round_ == 0:
                        texts[mode].append(gen.text)
    kinds_of = [k for _, _, k in asked]
    rows, payload = [], {}
    for mode in ("free", "grammar"):
        ok = sum(parses(t, k) for t, k in zip(texts[mode], kinds_of, strict=True))
        changed = sum(a != b for a, b in zip(texts["free"], texts["grammar"], strict=True))
        row = {"call_ms": 1e3 * statistics.median(calls[mode]),
               "ttft_ms": 1e3 * statistics.median(ttft[mode]),
               "decode_ms_per_token": 1e3 * statistics.median(per_token[mode]),
               "parse": ok, "answers": len(texts[mode]),
               "changed": None if mode == "free" else changed}  # fmt: skip
        payload[mode] = row
        rows.append([mode, fmt(row["call_ms"], ".1f"), fmt(row["ttft_ms"], ".1f"),
                     fmt(row["decode_ms_per_token"], ".2f"), f"{ok} / {len(texts[mode])}",
                     fmt(row["changed"], "d")])  # fmt: skip
    ratio = payload["grammar"]["call_ms"] / payload["free"]["call_ms"]
    title = f"decoding under the action grammar: {model}, {len(asked)} questions, 1 thread"
    print_table(["mode", "call ms p50", "TTFT ms p50", "decode ms / token", "answers parse",
                 "answers changed"], rows, title=title)  # fmt: skip
    print(f"grammar / free, call time: {ratio:.2f}x")
    examples = [{"free": a, "grammar": b} for a, b in zip(texts["free"], texts["grammar"],
                                                           strict=True) if a != b]  # fmt: skip
    print(write_json("grammar_decoding", {"model": model, "rows": payload, "ratio": ratio,
                                          "changed": examples}))  # fmt: skip


if __name__ == "__main__":
    main()
