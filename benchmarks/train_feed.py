"""The CPU side of training: building the data in memory and each step's batch, by data threads.

    .venv/bin/python benchmarks/train_feed.py [--data DIR ...] [--batch 256] [--threads 1 2]

On an accelerator the model's step takes milliseconds and the step's CPU work decides the pace:
decoding the batch's packed images, the augmentations (`Spotlight`, `Grounding`, `CopyText`)
and padding. This times, for each ``--threads`` value (`agent-sdk train --data-threads`):
building the data (`read_examples` and `build_dataset`: reading and decoding the shards, the
backend's preprocessing, PNG packing, tokenising) and `collate` of batches of ``--batch``
with the augmentations at the chances given, interleaved (``_common.time_calls``) so that the
rows' ratios hold on a busy machine. Without ``--data``, collects 20 oracle episodes of each
GUI task (training seeds) into a temporary folder. Prints a table and writes
``benchmarks/out/train_feed.json``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from _common import collect_ui, fmt, print_table, time_calls, torch_threads, write_json

from agent_sdk.collect import read_examples
from agent_sdk.prompting import step_prompt
from agent_sdk.train import (
    GROUND_INSTRUCTION,
    SIZES,
    CopyText,
    Dataset,
    Grounding,
    Spotlight,
    build_dataset,
    collate,
    model_config,
    train_tokenizer,
)
from perception.prompts import chat_prompt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", help="data folders (default: collect some)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--spotlight", type=float, default=0.4)
    parser.add_argument("--ground", type=float, default=0.3)
    parser.add_argument("--copy-text", type=float, default=0.3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, torch_threads(1):
        data = args.data or [str(collect_ui(Path(tmp) / "ui", episodes=20, held_out=False))]
        size = SIZES["small"]
        texts = {chat_prompt(ex.prompt) + ex.target for ex in read_examples(data, images=False)}
        tokenizer = train_tokenizer(
            sorted(texts | {chat_prompt(step_prompt(GROUND_INSTRUCTION))}), size.vocab_size
        )
        config = model_config(size, tokenizer)
        built: dict[int, Dataset] = {}

        def build(threads: int) -> None:
            built[threads] = build_dataset(
                read_examples(data, threads=threads), tokenizer, config.image_token_id,
                size.image_size, config.image_seq_length, ground=True, threads=threads,
            )  # fmt: skip

        builds = time_calls({t: lambda t=t: build(t) for t in args.threads}, warmup=0,
                            repeats=1)  # fmt: skip
        examples = len(built[args.threads[0]])
        index = np.random.default_rng(0).permutation(examples)

        def batch(threads: int, step: list[int]) -> None:
            rng = np.random.default_rng(step[0])
            at = step[0] * args.batch % examples
            chosen = np.resize(np.roll(index, -at), args.batch).tolist()
            step[0] += 1
            collate(built[threads], chosen, 0, Spotlight(args.spotlight, rng, max_half=160),
                    Grounding(args.ground, rng),
                    CopyText(args.copy_text, rng, tokenizer, config.image_token_id,
                             config.image_seq_length))  # fmt: skip

        steps = {t: [0] for t in args.threads}
        batches = time_calls({t: lambda t=t: batch(t, steps[t]) for t in args.threads},
                             repeats=args.repeats)  # fmt: skip
    rows, results = [], []
    for t in args.threads:
        build_s, batch_s = builds[t].median_s, batches[t].median_s
        rows.append([t, examples, fmt(build_s, ".1f"), fmt(examples / build_s, ".0f"),
                     fmt(batch_s), fmt(args.batch / batch_s, ".0f"),
                     fmt(batches[args.threads[0]].median_s / batch_s, ".2f")])  # fmt: skip
        results.append(
            {
                "threads": t,
                "examples": examples,
                "build_s": build_s,
                "batch_s": batches[t].samples_s,
                "samples_per_s": args.batch / batch_s,
            }
        )
    print_table(["data threads", "examples", "build s", "examples/s", "batch s", "samples/s",
                 "x first"], rows,
                title=f"Batches of {args.batch} (spotlight {args.spotlight}, ground "
                      f"{args.ground}, copy text {args.copy_text}), one torch thread")  # fmt: skip
    path = write_json("train_feed", {"batch": args.batch, "data": data, "results": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
