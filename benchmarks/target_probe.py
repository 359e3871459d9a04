"""Do a model's image features know what its target is (not only where)?

    .venv/bin/python benchmarks/target_probe.py --model perception/zoo/fastvlm-agent-small \\
        --model ckpt/small [--examples 600]

The GUI suite's shape task names its target by colour and kind ("Select the green diamond").
On held-out episodes (seeds from 0, first steps) each model's projected feature of the image
token under the click (the vision tower + projector, as the LLM sees it) is taken, and a
multinomial logistic probe fitted on the first 80 % predicts the named colour and the named
kind of the rest: held-out accuracy beside chance (the commonest class). The control row probes
the mean colour of an 8 px box of pixels at the click (a colour it must tell). A model whose
target features say neither cannot pick the target out by its name, however well it reads
positions (`cell_probe.py`); `agent-sdk train --screen-labels` trains for it. Prints a table and
writes ``benchmarks/out/target_probe.json``.
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

import numpy as np
import torch
from _common import first_clicks, fmt, model_dataset, print_table, target_features, write_json

from agent_sdk.train.data import first_point
from envs.ui.tasks.click_shape import BASE_COLORS
from envs.ui.widgets.controls import SHAPE_KINDS
from perception.zoo import zoo_model

ENV = "agent_sdk/ui-click-shape-v0"


def named(instruction: str, names: tuple[str, ...]) -> str:
    """The one of ``names`` the instruction says ("?" for none)."""
    words = instruction.lower().replace(".", " ").split()
    return next((n for n in names if n in words), "?")


def probe_accuracy(features: np.ndarray, labels: list[str], fit: int, l2: float = 1e-2) -> float:
    """Held-out accuracy of a multinomial logistic regression fitted on the first ``fit`` rows
    (standardised features, L2 penalty ``l2``, L-BFGS)."""
    classes = sorted(set(labels))
    y = torch.tensor([classes.index(v) for v in labels])
    x = torch.tensor(features, dtype=torch.float32)
    x = (x - x[:fit].mean(0)) / (x[:fit].std(0) + 1e-6)
    w = torch.zeros(x.shape[1], len(classes), requires_grad=True)
    b = torch.zeros(len(classes), requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=300)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x[:fit] @ w + b, y[:fit]) + l2 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float(((x[fit:] @ w + b).argmax(1) == y[fit:]).float().mean())


def colours_at_points(data: Any, half: int = 4) -> np.ndarray:
    """Per example of ``data``: the mean colour (0-1) of the ``2 half`` px box at its point in
    the model's input image (the control: what the pixels alone tell)."""
    size, rows = data.pixels.size, []
    for i in range(len(data)):
        x, y = first_point(data.answers[i], *data.sizes[i])
        px, py = int(x * size), int(y * size)
        box = data.pixels[i][:, max(py - half, 0) : py + half, max(px - half, 0) : px + half]
        rows.append(box.float().mean((1, 2)).numpy() / 255)
    return np.asarray(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="checkpoint (repeat; default: shipped)")
    parser.add_argument("--examples", type=int, default=600, help="episodes (one example each)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = [str(m) for m in args.model or [zoo_model()]]
    examples = first_clicks(ENV, args.examples)
    colours = [named(ex.instruction, (*BASE_COLORS, "black", "white")) for ex in examples]
    kinds = [named(ex.instruction, tuple(SHAPE_KINDS)) for ex in examples]
    fit = len(examples) * 4 // 5
    chance = {name: Counter(labels[fit:]).most_common(1)[0][1] / (len(labels) - fit)
              for name, labels in (("colour", colours), ("kind", kinds))}  # fmt: skip
    rows, payload = [], []
    for name in models:
        model, info, _, data, _ = model_dataset(name, examples)
        feats = target_features(model, info.image_mean, info.image_std, data)
        result = {"model": name, "colour": probe_accuracy(feats, colours, fit),
                  "kind": probe_accuracy(feats, kinds, fit)}  # fmt: skip
        payload.append(result)
        rows.append([name, fmt(result["colour"], ".2f"), fmt(result["kind"], ".2f")])
    pixels = colours_at_points(data)  # the last model's input images
    rows.append(["control: pixels at the click", fmt(probe_accuracy(pixels, colours, fit), ".2f"),
                 "-"])  # fmt: skip
    rows.append(["chance (commonest class)", fmt(chance["colour"], ".2f"),
                 fmt(chance["kind"], ".2f")])  # fmt: skip
    print_table(["model", "colour accuracy", "kind accuracy"], rows,
                title=f"target probe: {len(examples) - fit} held-out {ENV} targets "
                      f"(fitted on {fit})")  # fmt: skip
    print(write_json("target_probe", {"examples": len(examples), "fit": fit, "chance": chance,
                                      "rows": payload}))  # fmt: skip


if __name__ == "__main__":
    main()
