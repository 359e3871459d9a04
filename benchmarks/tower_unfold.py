"""How fast does a checkpoint's vision tower learn what a shape is: folded, unfolded or new?

    .venv/bin/python benchmarks/tower_unfold.py [--model DIR] [--steps 400] \\
        [--variant folded --variant unfolded --variant new] [--image-size 640]

A FastVLM folder holds its vision tower re-parameterised (one conv per block, little
BatchNorm), and `agent-sdk train --init` used to train it in that form. This trains each
variant of the tower, alone, with a linear head on its token features, on the dense screen
labels of the GUI suite's shape task (`agent_sdk.train.screens`: the words of the elements
under each image token: "circle", "red", "text", ...), 2,400 screens at seeds from 500,000,
the first 200 held out, the same batches for every variant:

* ``folded``: the folder's tower as it loads (what `--init` trains without `--unfold-tower`);
* ``unfolded``: the same weights in timm's train-time form (`agent_sdk.train.model
  .unfold_tower`, what `--unfold-tower` trains): it computes the same function at the start;
* ``unfolded-frozen``: unfolded, its BatchNorm statistics frozen at the unfolding's (eval-mode
  BatchNorm, scales and shifts still trained): whether the gain needs each batch's statistics;
* ``new``: timm's train-time tower with timm's own init (what a new model trains).

Every 50 steps it prints the held-out label accuracy (tokens with an element whose top word is
one of theirs) and the shape-kind accuracy (tokens under a shape: the top of the seven kinds is
theirs; chance about 0.14). ``--image-size`` renders the screens at another input size than the
model's (the tower is convolutional, its positional encodings too: any multiple of 64 works),
with one token per 64 px as the model's. One thread per variant; the variants run one after
another. Prints a table and writes ``benchmarks/out/tower_unfold.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch
from _common import fmt, print_table, write_json

from agent_sdk.train.model import unfold_tower
from agent_sdk.train.screens import ScreenLabels, label_accuracy, screen_labels
from envs.ui.widgets.controls import SHAPE_KINDS
from perception.checkpoints import load_fastvlm_torch
from perception.zoo import zoo_model

ENV = "agent_sdk/ui-click-shape-v0"
SCREENS, HELD_OUT, CALIBRATION = 2400, 200, 64
VARIANTS = ("folded", "unfolded", "unfolded-frozen", "new")


def tower_of(variant: str, model_dir: Path, labels: ScreenLabels, normalise: Any) -> Any:
    """The variant's timm tower, in train mode."""
    model, _ = load_fastvlm_torch(model_dir, dtype=torch.float32)
    folded = model.model.vision_tower.timm_model
    if variant == "folded":
        return folded.train()
    args = {**(model.config.vision_config.model_args or {}), "inference_mode": False}
    tower = timm.create_model(model.config.vision_config.architecture, pretrained=False,
                              num_classes=0, **args)  # fmt: skip
    if variant.startswith("unfolded"):
        batches = [normalise(labels.pixels[list(range(i, i + 32))])
                   for i in range(HELD_OUT, HELD_OUT + CALIBRATION, 32)]  # fmt: skip
        unfold_tower(folded, tower, batches)
    return tower.train()


def train_mode(tower: Any, variant: str) -> None:
    """Train mode, with the BatchNorm layers in eval mode for ``unfolded-frozen``."""
    tower.train()
    if variant == "unfolded-frozen":
        for module in tower.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eval()


def run(variant: str, model_dir: Path, labels: ScreenLabels, steps: int, batch: int,
        lr: float, mean: Any, std: Any) -> list[dict[str, float]]:  # fmt: skip
    """Train one variant; its held-out accuracies every 50 steps."""
    torch.manual_seed(0)
    m, s = torch.tensor(mean)[:, None, None], torch.tensor(std)[:, None, None]

    def normalise(pixels: torch.Tensor) -> torch.Tensor:
        return (pixels.float() / 255 - m) / s

    tower = tower_of(variant, model_dir, labels, normalise)
    train_mode(tower, variant)
    head = torch.nn.Linear(tower.num_features, len(labels.vocab))
    params = [*tower.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    held = list(range(HELD_OUT))
    kinds = torch.tensor([labels.vocab.index(k) for k in SHAPE_KINDS if k in labels.vocab])

    def logits_of(index: list[int]) -> torch.Tensor:
        return head(tower.forward_features(normalise(labels.pixels[index])).flatten(2).mT)

    def evaluate(step: int, seconds: float) -> dict[str, float]:
        tower.eval()
        with torch.no_grad():
            logits, targets = logits_of(held), labels.targets(held)
        train_mode(tower, variant)
        under = targets[..., kinds].sum(-1) > 0
        top = kinds[logits[..., kinds].argmax(-1)]
        right = targets.gather(-1, top[..., None]).squeeze(-1) > 0
        row = {"step": step, "seconds": seconds, "label_accuracy": label_accuracy(logits, targets),
               "kind_accuracy": float(right[under].float().mean())}  # fmt: skip
        print(variant, {k: round(v, 3) for k, v in row.items()}, flush=True)
        return row

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    curve = [evaluate(0, 0.0)]
    for step in range(1, steps + 1):
        index = rng.choice(np.arange(HELD_OUT, len(labels)), batch, replace=False).tolist()
        loss = torch.nn.functional.cross_entropy(
            logits_of(index).flatten(0, 1), labels.targets(index).flatten(0, 1)
        )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad()
        if step % 50 == 0 or step == steps:
            curve.append(evaluate(step, time.perf_counter() - start))
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--variant", action="append", choices=VARIANTS)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="input size in px, a multiple of 64 (default: the model's)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    model_dir = args.model or zoo_model()
    _, info = load_fastvlm_torch(model_dir, dtype=torch.float32)
    size = args.image_size or info.image_size
    if size % 64:
        parser.error(f"--image-size must be a multiple of 64 (one token per 64 px), got {size}")
    labels = screen_labels([ENV], SCREENS, size, (size // 64) ** 2)
    results = {v: run(v, model_dir, labels, args.steps, args.batch, args.lr, info.image_mean,
                      info.image_std) for v in args.variant or VARIANTS}  # fmt: skip
    marks = sorted({r["step"] for curve in results.values() for r in curve if r["step"]})
    marks = [m for m in marks if m % 100 == 0 or m == args.steps]
    rows = []
    for variant, curve in results.items():
        at = {r["step"]: r for r in curve}
        rows.append([variant, *(f"{fmt(at[m]['kind_accuracy'], '.2f')} / "
                                f"{fmt(at[m]['label_accuracy'], '.2f')}" for m in marks),
                     f"{curve[-1]['seconds'] / args.steps:.2f}"])  # fmt: skip
    print(
        f"\nkind / label accuracy on {HELD_OUT} held-out screens of {ENV} at {size} px "
        f"({model_dir}):"
    )
    print_table(["tower", *(f"step {m}" for m in marks), "s / step"], rows)
    write_json("tower_unfold", {"model": str(model_dir), "env": ENV, "screens": SCREENS,
                                "held_out": HELD_OUT, "image_size": size, "batch": args.batch,
                                "lr": args.lr, "curves": results})  # fmt: skip


if __name__ == "__main__":
    main()
