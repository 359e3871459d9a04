"""How far from its target does a model point? Greedy answers on collected examples, in pixels.

    .venv/bin/agent-sdk collect --suite ui --episodes 10 --seed 0 --noise 0 --out data/ui-heldout
    .venv/bin/python benchmarks/pointing_error.py --data data/ui-heldout \\
        --model perception/zoo/fastvlm-agent-small --model ckpt/small [--spotlight]

For every example whose answer has a point (clicks, drags, robot point targets), each model
answers greedily through the real backend (``load_vlm``, batched) and its answer is parsed with
``actions.parse``; the distance from its first point to the answer's, in screen pixels, is
summed up per model: answers with a point, the median error and the share of answers within
8 and 16 px (a GUI suite button is about 50 x 20 px at 320 x 240). Where the answer is a drag
(a GUI slider, a robot push), the median error of its end point too (a model answer with no
drag counts as infinitely far): push's `agent-sdk collect --env agent_sdk/robot-push-v0
--max-steps 1 --seed 0` examples ask it where the block must go. Tokenisation-free, so models
with digit tokens and with ``--number-tokens`` compare side by side. ``--spotlight`` asks on
spotlit screens (a 32 px box around the target kept, the rest one flat colour), the easy case.
Seeds from 0 were never trained on (``agent-sdk collect`` starts at 100000). Prints a table and
writes ``benchmarks/out/pointing_error.json``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import tempfile
from pathlib import Path

import numpy as np
import torch
from _common import add_example_args, collect_ui, fmt, print_table, write_json

from actions.errors import ParseError
from actions.guard import action_points
from actions.parse import parse_action
from agent_sdk.collect import read_examples
from agent_sdk.train import target_cell
from perception import load_vlm
from perception.zoo import zoo_model


def points(text: str) -> tuple[tuple[float, float], ...]:
    """The points (0-1 of the image) of an answer: none (no point, or unparseable), one, or a
    drag's start and end."""
    try:
        return action_points(parse_action(text))
    except ParseError:
        return ()


def distance(a: tuple[float, float], b: tuple[float, float], width: int, height: int) -> float:
    """Screen pixels between two points given as fractions of a ``width x height`` image."""
    return math.hypot((a[0] - b[0]) * width, (a[1] - b[1]) * height)


def spotlit(image: np.ndarray, point: tuple[float, float], half: int = 16) -> np.ndarray:
    """``image`` with only a box of ``half`` px around ``point`` kept, the rest its median
    colour (as `agent_sdk.train.Spotlight` does on the model's input)."""
    h, w = image.shape[:2]
    px, py = int(point[0] * w), int(point[1] * h)
    lit = np.empty_like(image)
    lit[:] = np.median(image.reshape(-1, image.shape[-1]), axis=0).astype(image.dtype)
    box = (slice(max(py - half, 0), py + half), slice(max(px - half, 0), px + half))
    lit[box] = image[box]
    return lit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="checkpoint (repeat; default: shipped)")
    add_example_args(parser, examples=256)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = [str(m) for m in args.model or [zoo_model()]]
    scratch = tempfile.TemporaryDirectory()
    if args.data is None:
        args.data = str(collect_ui(Path(scratch.name) / "ui-heldout"))
    pointed = (ex for ex in read_examples(args.data) if target_cell(ex.target, 1, 1, 1) >= 0)
    examples = list(itertools.islice(pointed, args.examples))
    targets = [points(ex.target) for ex in examples]
    images = [spotlit(ex.image, t[0]) if args.spotlight else ex.image
              for ex, t in zip(examples, targets, strict=True)]  # fmt: skip
    rows, payload = [], []
    for name in models:
        vlm = load_vlm(name, backend="torch", device="cpu", dtype="float32")
        errors: list[float] = []
        end_errors: list[float] = []  # drags' end points
        for start in range(0, len(examples), args.batch):
            chunk = range(start, min(start + args.batch, len(examples)))
            gens = vlm.generate([images[i] for i in chunk], [examples[i].prompt for i in chunk],
                                max_new_tokens=24)  # fmt: skip
            for i, gen in zip(chunk, gens, strict=True):
                got, want = points(gen.text), targets[i]
                assert want, examples[i].target
                h, w = examples[i].image.shape[:2]
                errors.append(distance(got[0], want[0], w, h) if got else math.inf)
                if len(want) == 2:
                    end_errors.append(distance(got[1], want[1], w, h) if len(got) == 2
                                      else math.inf)  # fmt: skip
        err, end = np.array(errors), np.array(end_errors)
        row = {"model": name, "examples": len(err), "pointed": float(np.isfinite(err).mean()),
               "median_px": float(np.median(err)), "within_8px": float((err <= 8).mean()),
               "within_16px": float((err <= 16).mean()), "drags": len(end),
               "end_median_px": float(np.median(end)) if len(end) else None,
               "end_within_8px": float((end <= 8).mean()) if len(end) else None}  # fmt: skip
        payload.append(row)
        rows.append([name, row["examples"], fmt(row["pointed"], ".2f"),
                     fmt(row["median_px"], ".1f"), fmt(row["within_8px"], ".2f"),
                     fmt(row["within_16px"], ".2f"), row["drags"], fmt(row["end_median_px"], ".1f"),
                     fmt(row["end_within_8px"], ".2f")])  # fmt: skip
    how = " (spotlit)" if args.spotlight else ""
    print_table(["model", "examples", "with a point", "median error px", "within 8 px",
                 "within 16 px", "drags", "end median px", "end within 8 px"], rows,
                title=f"pointing error on {args.data}{how}")  # fmt: skip
    scratch.cleanup()
    print(write_json("pointing_error", {"data": args.data, "spotlight": args.spotlight,
                                        "rows": payload}))  # fmt: skip


if __name__ == "__main__":
    main()
