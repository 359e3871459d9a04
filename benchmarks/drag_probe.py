"""Do a model's image features know where a drag's two ends lie: which token, and where in it?

    .venv/bin/python benchmarks/drag_probe.py --model ckpt/small --data data/robot-push-first-a \\
        [--examples 1500]

For collected drag examples (a Fetch push: from the block to the red target), each of the two
points, from the projected image features (the vision tower + projector, as the LLM sees
them), fitted on the first 80 % and tested on the rest:
- token: a linear scorer over every image token's feature (a softmax across the tokens)
  picks the token under the point; held-out accuracy beside the commonest token's share;
- place: a ridge regression from the feature of the token under the point to the point's
  place inside that token's cell (0-1 in x and y); held-out R^2 and mean error in
  model-image pixels.
A point a model cannot find by token or place, it cannot answer however its LLM reads;
`agent-sdk train --screen-labels W --screen-places W --screen-suite robot` trains both. Prints
a table and writes ``benchmarks/out/drag_probe.json``.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import torch
from _common import fmt, model_dataset, print_table, token_features, write_json

from agent_sdk.collect import read_examples
from agent_sdk.train.data import drag_end, first_point, grid_cell
from perception.zoo import model_or_default


def token_accuracy(feats: torch.Tensor, tokens: torch.Tensor, fit: int) -> float:
    """Held-out accuracy of one weight vector scoring each token's standardised feature, the
    softmax across tokens fitted (L-BFGS, small L2) to pick ``tokens`` on the first ``fit``."""
    x = (feats - feats[:fit].mean((0, 1))) / (feats[:fit].std((0, 1)) + 1e-6)
    w = torch.zeros(x.shape[2], requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=200)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x[:fit] @ w, tokens[:fit]) + 1e-3 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float(((x[fit:] @ w).argmax(1) == tokens[fit:]).float().mean())


def place_fit(features: np.ndarray, places: np.ndarray, fit: int) -> tuple[np.ndarray, np.ndarray]:
    """Held-out R^2 (x, y) and mean absolute error (fractions of a cell) of a ridge regression
    from ``features`` to ``places``, fitted on the first ``fit`` rows."""
    X = np.c_[features, np.ones(len(features))]
    w = np.linalg.solve(X[:fit].T @ X[:fit] + 0.1 * np.eye(X.shape[1]), X[:fit].T @ places[:fit])
    err = X[fit:] @ w - places[fit:]
    r2 = 1 - (err**2).sum(0) / ((places[fit:] - places[fit:].mean(0)) ** 2).sum(0)
    return r2, np.abs(err).mean(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a checkpoint folder (default: the shipped model)")
    parser.add_argument("--data", required=True, help="a folder from `agent-sdk collect` "
                        "with drags (`--env agent_sdk/robot-push-v0`)")  # fmt: skip
    parser.add_argument("--examples", type=int, default=1500)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model_dir = str(model_or_default(args.model))
    drags = (ex for ex in read_examples(args.data) if ex.target.startswith("drag("))
    examples = list(itertools.islice(drags, args.examples))
    if len(examples) < 10:
        raise SystemExit(f"{args.data} holds {len(examples)} drag examples; the probe needs 10 "
                         "or more: collect pushes (`agent-sdk collect --env "
                         "agent_sdk/robot-push-v0`)")  # fmt: skip
    model, info, _, data, grid = model_dataset(model_dir, examples)
    feats = token_features(model, info.image_mean, info.image_std, data)
    fit, rows, payload = len(examples) * 4 // 5, [], []
    for name, point in (("start", first_point), ("end", drag_end)):
        at = np.asarray([point(a, *wh) for a, wh in zip(data.answers, data.sizes, strict=True)])
        tokens = torch.tensor([grid_cell(u, v, grid) for u, v in at])
        places = at * grid - torch.stack([tokens % grid, tokens // grid], 1).numpy()
        accuracy = token_accuracy(feats, tokens, fit)
        common = float(torch.bincount(tokens[fit:]).max()) / (len(tokens) - fit)
        r2, error = place_fit(feats[torch.arange(len(tokens)), tokens].numpy(), places, fit)
        payload.append({"point": name, "token_accuracy": accuracy, "commonest": common,
                        "r2": r2.tolist(), "error_px": (error * 64).tolist()})  # fmt: skip
        rows.append([name, fit, len(tokens) - fit, fmt(accuracy, ".2f"), fmt(common, ".2f"),
                     fmt(r2[0], ".2f"), fmt(r2[1], ".2f"), fmt(error[0] * 64, ".1f"),
                     fmt(error[1] * 64, ".1f")])  # fmt: skip
    print_table(["point", "fit on", "tested on", "token acc", "commonest", "R^2 x", "R^2 y",
                 "error x px", "error y px"], rows,
                title=f"drag probe: {model_dir} on {args.data}")  # fmt: skip
    print(write_json("drag_probe", {"model": model_dir, "data": args.data, "rows": payload}))


if __name__ == "__main__":
    main()
