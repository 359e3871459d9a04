"""Where in the vision tower does a shape's colour and kind stop being readable?

    .venv/bin/python benchmarks/tower_probe.py [--model DIR ...] [--new] [--image-size PX] \\
        [--screens 300]

On held-out click-shape screens (seeds from 0), every shape's centre is looked up in the
output of each of the tower's five stages, its final conv and the projector (what the LLM
sees, one token per 64 px), and a ridge probe (least squares onto one-hot classes, fitted on
the first 80 % of the shapes) predicts the shape's colour and kind from that one feature.
A stage that still knows them and a later one that does not is where they are lost: an
instruction ("Select the green circle.") can only pick out what the last row still tells.
``--new`` adds the first model's config with a fresh tower (timm's init, BatchNorm branches,
the projector new): what the architecture keeps before any training. The control row is the
input's own pixels, averaged over each 64 px token (colour only). Prints a table per model and
writes ``benchmarks/out/tower_probe.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from _common import fmt, print_table, write_json

import envs  # noqa: F401  (registers the GUI suite)
from perception.checkpoints import load_fastvlm_torch
from perception.preprocess import model_image, pad_fill
from perception.zoo import zoo_model

ENV = "agent_sdk/ui-click-shape-v0"
TOKEN_PX = 64


def ridge_accuracy(features: np.ndarray, labels: list[str], fit: int, lam: float = 10.0) -> float:
    """Held-out accuracy of ridge regression onto one-hot ``labels`` (standardised features,
    penalty ``lam``), fitted on the first ``fit`` rows."""
    classes = sorted(set(labels))
    targets = np.eye(len(classes))[[classes.index(v) for v in labels]]
    x = (features - features[:fit].mean(0)) / (features[:fit].std(0) + 1e-6)
    x = np.concatenate([x, np.ones((len(x), 1))], 1)
    w = np.linalg.solve(x[:fit].T @ x[:fit] + lam * np.eye(x.shape[1]), x[:fit].T @ targets[:fit])
    return float(((x[fit:] @ w).argmax(1) == targets[fit:].argmax(1)).mean())


def shape_screens(
    screens: int, size: int, fill: tuple[int, int, int]
) -> tuple[torch.Tensor, list[tuple[int, float, float, str, str]]]:
    """``screens`` click-shape first screens as the tower's 0-1 input (N x 3 x size x size),
    and per shape (screen, x, y of its centre in input pixels, colour, kind)."""
    env = gym.make(ENV)
    images, shapes = [], []
    for seed in range(screens):
        obs, _ = env.reset(seed=seed)
        h, w = obs["image"].shape[:2]
        side = max(w, h)
        scale = size / side
        image = np.asarray(model_image(obs["image"], size, fill), dtype=np.float32) / 255
        images.append(torch.from_numpy(image).permute(2, 0, 1))
        for shape in env.unwrapped.task.shapes:
            r = shape.rect
            x = (r.x + r.w / 2 + (side - w) // 2) * scale
            y = (r.y + r.h / 2 + (side - h) // 2) * scale
            shapes.append((seed, x, y, shape.color, shape.kind))
    env.close()
    return torch.stack(images), shapes


def stage_maps(model: Any, pixels: torch.Tensor, batch: int = 32) -> dict[str, torch.Tensor]:
    """Each vision stage's, the final conv's and the projector's output (N x C x h x w) for
    ``pixels`` (already normalised)."""
    timm_model = model.model.vision_tower.timm_model
    caught: dict[str, torch.Tensor] = {}
    modules = {f"stage {i + 1}": s for i, s in enumerate(timm_model.stages)}
    modules["final conv"] = timm_model.final_conv
    hooks = [m.register_forward_hook(lambda _m, _i, out, n=n: caught.__setitem__(n, out))
             for n, m in modules.items()]  # fmt: skip
    maps: dict[str, list[torch.Tensor]] = {}
    try:
        with torch.no_grad():
            for start in range(0, len(pixels), batch):
                out = model.model.get_image_features(pixel_values=pixels[start : start + batch])
                tokens = out.pooler_output.float()
                grid = round(tokens.shape[1] ** 0.5)
                caught["projected"] = tokens.reshape(len(tokens), grid, grid, -1).permute(
                    0, 3, 1, 2
                )
                for name, value in caught.items():
                    maps.setdefault(name, []).append(value.float())
    finally:
        for hook in hooks:
            hook.remove()
    return {name: torch.cat(parts) for name, parts in maps.items()}


def at_shapes(feature_map: torch.Tensor, shapes: list[tuple[Any, ...]], size: int) -> np.ndarray:
    """Per shape, the feature of ``feature_map`` at the cell under its centre."""
    height, width = feature_map.shape[-2:]
    rows = [feature_map[s, :, min(int(y * height / size), height - 1),
                        min(int(x * width / size), width - 1)]
            for s, x, y, *_ in shapes]  # fmt: skip
    return torch.stack(rows).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="checkpoint (repeat; default: shipped)")
    parser.add_argument("--new", action="store_true",
                        help="also the first model with a fresh tower")  # fmt: skip
    parser.add_argument("--image-size", type=int, default=0,
                        help="input px, a multiple of 64 (default: the model's)")  # fmt: skip
    parser.add_argument("--screens", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.image_size % TOKEN_PX:
        parser.error(f"--image-size must be a multiple of {TOKEN_PX}, got {args.image_size}")
    torch.set_num_threads(args.threads)
    names = [str(m) for m in args.model or [zoo_model()]]
    runs = [(name, False) for name in names] + ([(names[0], True)] if args.new else [])
    payload: list[dict[str, Any]] = []
    for name, fresh in runs:
        model, info = load_fastvlm_torch(name, dtype=torch.float32)
        if fresh:
            from agent_sdk.train.model import new_model, train_time_config

            torch.manual_seed(0)
            model = new_model(train_time_config(model.config)).eval()
        preprocessor = json.loads((Path(name) / "preprocessor_config.json").read_text())
        size = args.image_size or int(preprocessor["crop_size"]["height"])
        images, shapes = shape_screens(args.screens, size, pad_fill(info.image_mean))
        mean = torch.tensor(info.image_mean)[:, None, None]
        std = torch.tensor(info.image_std)[:, None, None]
        maps = stage_maps(model, (images - mean) / std)
        maps["pixels (control)"] = torch.nn.functional.avg_pool2d(images, TOKEN_PX)
        fit = len(shapes) * 4 // 5
        colours, kinds = [s[3] for s in shapes], [s[4] for s in shapes]
        label = f"{name} (fresh tower)" if fresh else name
        rows, result = [], {"model": label, "image_size": size, "shapes": len(shapes)}
        for stage, feature_map in maps.items():
            feats = at_shapes(feature_map, shapes, size)
            colour = ridge_accuracy(feats, colours, fit)
            kind = None if stage.startswith("pixels") else ridge_accuracy(feats, kinds, fit)
            stride = size // feature_map.shape[-1]
            result[stage] = {"stride": stride, "colour": colour, "kind": kind}
            rows.append([stage, str(feature_map.shape[1]), str(stride), fmt(colour, ".2f"),
                         "-" if kind is None else fmt(kind, ".2f")])  # fmt: skip
        chance = {n: max(labels[fit:].count(v) for v in set(labels[fit:])) / (len(labels) - fit)
                  for n, labels in (("colour", colours), ("kind", kinds))}  # fmt: skip
        rows.append(["chance (commonest class)", "", "", fmt(chance["colour"], ".2f"),
                     fmt(chance["kind"], ".2f")])  # fmt: skip
        print_table(["output", "channels", "stride px", "colour", "kind"], rows,
                    title=f"{label} at {size} px: {len(shapes) - fit} held-out shapes of "
                          f"{args.screens} screens (fitted on {fit})")  # fmt: skip
        payload.append({**result, "chance": chance})
    print(write_json("tower_probe", {"screens": args.screens, "runs": payload}))


if __name__ == "__main__":
    main()
