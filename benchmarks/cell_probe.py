"""Do a model's image features know where the target sits inside its image token's cell?

    .venv/bin/python benchmarks/cell_probe.py --model ckpt/small --data data/ui --examples 3000

For collected click examples: the projected feature of the image token under the click (the
vision tower + projector, as the LLM sees it) and the click's offset inside that token's cell
(0-1 in x and y). A ridge regression fitted on the first 80 % predicts the offset of the rest:
held-out R^2 and mean error in model-image pixels, on full screens and on spotlit ones
(`agent_sdk.train.Spotlight`: the target alone). High R^2 with imprecise answers means the
answer's tokens, not the image features, lose the position (what the digit tokens did:
`--number-tokens`). Prints a table and writes ``benchmarks/out/cell_probe.json``.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

import numpy as np
import torch
from _common import (
    add_example_args,
    collect_ui,
    fmt,
    model_dataset,
    print_table,
    target_features,
    write_json,
)

from agent_sdk.collect import read_examples
from agent_sdk.train import Spotlight
from agent_sdk.train.data import first_point
from perception.zoo import model_or_default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a checkpoint folder (default: the shipped model)")
    add_example_args(parser, examples=3000, spotlight=False)  # both, always
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model_dir = str(model_or_default(args.model))
    scratch = tempfile.TemporaryDirectory()
    data_dir = args.data or str(collect_ui(Path(scratch.name) / "ui-heldout", episodes=30))
    clicks = (ex for ex in read_examples(data_dir) if ex.target.startswith("click("))
    examples = list(itertools.islice(clicks, args.examples))
    model, info, _, data, grid = model_dataset(model_dir, examples)
    light, rows, payload = Spotlight(1.0, np.random.default_rng(0)), [], []
    at = np.asarray([first_point(a, *wh) for a, wh in zip(data.answers, data.sizes, strict=True)])
    offsets = at * grid - np.clip(np.floor(at * grid), 0, grid - 1)  # inside the target's cell
    for screens in ("full", "spotlit"):
        lit = (lambda i: light(data, i)) if screens == "spotlit" else None
        features = target_features(model, info.image_mean, info.image_std, data, lit)
        X, Y = np.c_[features, np.ones(len(features))], offsets
        n = len(X) * 4 // 5
        w = np.linalg.solve(X[:n].T @ X[:n] + 0.1 * np.eye(X.shape[1]), X[:n].T @ Y[:n])
        err = X[n:] @ w - Y[n:]
        r2 = 1 - (err**2).sum(0) / ((Y[n:] - Y[n:].mean(0)) ** 2).sum(0)
        px = np.abs(err).mean(0) * 64
        payload.append({"screens": screens, "train": n, "test": len(X) - n,
                        "r2": r2.tolist(), "error_px": px.tolist()})  # fmt: skip
        rows.append([screens, n, len(X) - n, fmt(r2[0], ".2f"), fmt(r2[1], ".2f"),
                     fmt(px[0], ".1f"), fmt(px[1], ".1f")])  # fmt: skip
    print_table(["screens", "fit on", "tested on", "R^2 x", "R^2 y", "error x px", "error y px"],
                rows, title=f"cell offset probe: {model_dir} on {data_dir}")  # fmt: skip
    scratch.cleanup()
    print(write_json("cell_probe", {"model": model_dir, "data": data_dir, "rows": payload}))


if __name__ == "__main__":
    main()
