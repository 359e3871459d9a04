"""FastViTHD vision encode, train-mode (multi-branch) vs structurally re-parameterised.

    .venv/bin/python benchmarks/reparam_speedup.py                       # 512 and 1024 px, ~5 min
    .venv/bin/python benchmarks/reparam_speedup.py --resolutions 1024 --repeats 9
    .venv/bin/python benchmarks/reparam_speedup.py --dtypes fp32

The train-mode model is timm ``fastvit_mci3`` built with ``inference_mode=False`` and put in
``eval()``: MobileOne blocks keep their parallel conv/BN/identity branches, RepMixer and RepCPE
their residual forms. ``timm.utils.model.reparameterize_model`` converts a deep copy of that
same model into single convolutions (what ``inference_mode=True`` builds directly).

Random weights, but BatchNorm statistics/affines and layer scales get random non-trivial values
first: at init they are near-identities, and a wrong fold would still pass the check. Outputs
(``forward_features``: the final conv's 3072-channel map) of both models must agree within
``--tol`` (max |difference| / max |reference|, each in its dtype; bf16 is checked against
``--tol-bf16``). The four variants (fp32 and bf16, train-mode and re-parameterised) are timed
in interleaved rounds on CPU at batch 1 under ``torch.inference_mode`` with ``--threads`` torch
threads (default 1, see ``_common.torch_threads``); median of ``--repeats`` rounds.

Prints a table and writes ``benchmarks/out/reparam_speedup.{json,png}``.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import timm
import torch
from _common import (
    OUT_DIR,
    fmt,
    print_table,
    pyplot,
    save_figure,
    time_calls,
    torch_threads,
    write_json,
)
from timm.utils.model import reparameterize_model
from torch import nn

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
MODES = ("train-mode", "reparam")


def randomize_folded_params_(model: nn.Module, seed: int = 0) -> None:
    """Give every BatchNorm and layer scale (the parts that get folded) random values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0.0, 0.1, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0.0, 0.1, generator=g)
        for name, p in model.named_parameters():
            if "layer_scale" in name:
                p.uniform_(0.01, 0.1, generator=g)


def rel_diff(out: torch.Tensor, ref: torch.Tensor) -> float:
    return ((out.float() - ref.float()).abs().max() / ref.float().abs().max()).item()


def count(model: nn.Module) -> dict[str, int]:
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "conv2d": sum(isinstance(m, nn.Conv2d) for m in model.modules()),
        "batchnorm": sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()),
    }


def plot(rows: list[dict], out_dir: Path) -> Path:
    plt = pyplot()
    resolutions = sorted({r["res"] for r in rows})
    fig, axes = plt.subplots(1, len(resolutions), figsize=(5 * len(resolutions), 4), squeeze=False)
    for ax, res in zip(axes[0], resolutions, strict=True):
        cells = [r for r in rows if r["res"] == res]
        xs = range(len(cells))
        for i, mode in enumerate(MODES):
            key = "train_s" if mode == "train-mode" else "reparam_s"
            offsets = [x + (i - 0.5) * 0.38 for x in xs]
            ax.bar(offsets, [r[key] for r in cells], width=0.38, label=mode)
        for x, r in zip(xs, cells, strict=True):
            top = max(r["train_s"], r["reparam_s"])
            ax.annotate(f"{r['speedup']:.2f}x", (x, top), ha="center", va="bottom")
        ax.set(title=f"FastViTHD encode, {res} px", ylabel="seconds (median)")
        ax.set_xticks(list(xs), [r["dtype"] for r in cells])
        ax.margins(y=0.15)
        ax.legend()
    return save_figure(fig, "reparam_speedup", out_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", default="512,1024")
    parser.add_argument("--dtypes", default="fp32,bf16")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls per variant")
    parser.add_argument("--tol", type=float, default=1e-4, help="fp32 max relative difference")
    parser.add_argument("--tol-bf16", type=float, default=5e-2, help="bf16 max relative diff.")
    parser.add_argument("--threads", type=int, default=1, help="torch threads while timing")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    args = parser.parse_args()
    resolutions = [int(r) for r in args.resolutions.split(",")]
    dtypes = args.dtypes.split(",")
    torch.manual_seed(0)

    train = timm.create_model("fastvit_mci3", num_classes=0, inference_mode=False)
    randomize_folded_params_(train)
    train.eval()
    fused = reparameterize_model(train)  # a converted deep copy of the same model
    models = {
        (dtype, mode): copy.deepcopy(model).to(DTYPES[dtype])
        for dtype in dtypes
        for mode, model in zip(MODES, (train, fused), strict=True)
    }
    structure = {"train-mode": count(train), "reparam": count(fused)}
    print(f"timing on {args.threads} thread(s); structure {structure}", flush=True)

    rows = []
    for res in resolutions:
        image = torch.randn(1, 3, res, res)
        images = {dtype: image.to(DTYPES[dtype]) for dtype in dtypes}
        calls = {
            key: (lambda m=model, x=images[key[0]]: m.forward_features(x))
            for key, model in models.items()
        }
        with torch.inference_mode(), torch_threads(args.threads):
            outputs = {key: call() for key, call in calls.items()}
            timings = time_calls(calls, warmup=args.warmup, repeats=args.repeats)
        for dtype in dtypes:
            diff = rel_diff(outputs[dtype, "reparam"], outputs[dtype, "train-mode"])
            tol = args.tol if dtype == "fp32" else args.tol_bf16
            train_t, fused_t = timings[dtype, "train-mode"], timings[dtype, "reparam"]
            rows.append(
                {
                    "res": res,
                    "dtype": dtype,
                    "train_s": train_t.median_s,
                    "reparam_s": fused_t.median_s,
                    "speedup": train_t.median_s / fused_t.median_s,
                    "max_rel_diff": diff,
                    "tol": tol,
                    "agree": diff <= tol,
                    "train_samples_s": train_t.samples_s,
                    "reparam_samples_s": fused_t.samples_s,
                }
            )
        print(f"{res} px done", flush=True)

    fp32 = {r["res"]: r for r in rows if r["dtype"] == "fp32"}
    print_table(
        [
            "res",
            "dtype",
            "train_s",
            "reparam_s",
            "speedup",
            "vs fp32 train",
            "rel diff",
            "tol",
            "ok",
        ],
        [
            [
                r["res"],
                r["dtype"],
                fmt(r["train_s"]),
                fmt(r["reparam_s"]),
                f"{r['speedup']:.2f}x",
                f"{fp32[r['res']]['train_s'] / r['reparam_s']:.2f}x" if r["res"] in fp32 else "-",
                f"{r['max_rel_diff']:.1e}",
                f"{r['tol']:.0e}",
                "yes" if r["agree"] else "NO",
            ]
            for r in rows
        ],
        title=f"FastViTHD forward_features, CPU, {args.threads} thread(s), batch 1, median of "
        f"{args.repeats} interleaved rounds (speedup = train-mode / reparam)",
    )
    payload = {"args": {**vars(args), "out": str(args.out)}, "structure": structure, "rows": rows}
    print("wrote", write_json("reparam_speedup", payload, args.out))
    print("wrote", plot(rows, args.out))
    if not all(r["agree"] for r in rows):
        raise SystemExit("re-parameterised outputs differ beyond the tolerance")


if __name__ == "__main__":
    main()
