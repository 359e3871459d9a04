"""Where the time goes on each backend: vision encode, prefill, TTFT and decode speed.

    .venv/bin/python benchmarks/backends.py                       # tiny checkpoint, ~1 min here
    .venv/bin/python benchmarks/backends.py --model ~/models/FastVLM-0.5B      # a real folder
    .venv/bin/python benchmarks/backends.py --model DIR --backends mlx --dtype bfloat16
    .venv/bin/python benchmarks/backends.py --image-size 256 --repeats 10 --threads 2

The same script is what a Mac user runs: on Apple silicon MLX uses the GPU, elsewhere MLX's
CPU backend. Each backend loads the same folder (MLX converts an hf or apple folder in memory;
an mlx folder is MLX-only), answers one warm-up call, then ``--repeats`` calls interleaved
across backends (A B A B ...) on the same screenshot-sized random image and prompt, greedy,
``--max-new-tokens`` tokens at most. Cells are medians of the backends' own ``Timings``.
The last column says whether the backends produced the same greedy tokens.

Default model: a tiny random FastVLM (``perception.tiny``) at ``--image-size`` 1024 px, i.e.
256 image tokens as the real model has; its towers are narrow, so the figures show per-token
and per-call overheads rather than a real model's FLOPs. ``--threads`` sets torch's threads
(default 1, see ``_common.torch_threads``); MLX picks its own.

Prints a table and the MLX/PyTorch ratios; writes ``benchmarks/out/backends.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import statistics
import tempfile
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
from _common import fmt, print_table, torch_threads, write_json

from perception.base import load_vlm
from perception.checkpoints import CheckpointFormat, detect_format
from perception.mlx_convert import mlx_missing

METRICS = ("preprocess_s", "vision_encode_s", "prefill_s", "ttft_s", "decode_tokens_per_s")
PROMPT = "Where is the OK button? Answer with click(x, y)."


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, help="a checkpoint folder (default: a tiny one)")
    p.add_argument("--backends", default="torch,mlx", help="comma-separated: torch, mlx")
    p.add_argument("--dtype", default="float32", help="float32, bfloat16 or float16")
    p.add_argument("--image-size", type=int, default=1024, help="input side of the tiny model")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    return p.parse_args()


def available(backend: str, folder: Path) -> str | None:
    """Why `backend` cannot run `folder` here, or None."""
    if backend == "mlx":
        return mlx_missing()
    if backend != "torch":
        return f"unknown backend {backend!r}"
    if importlib.util.find_spec("torch") is None:
        return 'torch is not installed: pip install -e ".[torch]"'
    if detect_format(folder) is CheckpointFormat.MLX:
        return "an mlx folder loads on MLX only"
    return None


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    names = [b.strip() for b in args.backends.split(",") if b.strip()]
    skipped = {b: why for b in names if (why := available(b, folder))}
    for b, why in skipped.items():
        print(f"skipping {b}: {why}")
    vlms = {b: load_vlm(folder, backend=b, dtype=args.dtype) for b in names if b not in skipped}
    image = np.random.default_rng(0).integers(0, 256, (800, 1280, 3), dtype=np.uint8)
    samples: dict[str, list[Any]] = {b: [] for b in vlms}
    with torch_threads(args.threads) if "torch" in vlms else nullcontext():
        for vlm in vlms.values():  # warm-up: first-call allocation and kernel compilation
            vlm.generate(image, PROMPT, max_new_tokens=args.max_new_tokens)
        for _ in range(args.repeats):
            for b, vlm in vlms.items():
                samples[b].append(vlm.generate(image, PROMPT, max_new_tokens=args.max_new_tokens))
    rows = {}
    for b, gens in samples.items():
        cells = {m: statistics.median(getattr(g.timings, m) for g in gens) for m in METRICS}
        t = gens[0].timings
        rows[b] = cells | {
            "device": vlms[b].device,
            "dtype": vlms[b].dtype,
            "num_image_tokens": t.num_image_tokens,
            "num_prompt_tokens": t.num_prompt_tokens,
            "num_generated_tokens": t.num_generated_tokens,
            "token_ids": gens[0].token_ids,
        }
    ids = [r["token_ids"] for r in rows.values()]
    same = all(i == ids[0] for i in ids) if len(ids) > 1 else None
    return {"rows": rows, "same_tokens": same, "skipped": skipped}


def speedups(rows: dict[str, dict[str, Any]]) -> list[list[str]]:
    """MLX's speed-up per metric: torch time / MLX time, MLX tok/s / torch tok/s."""
    out = []
    for m in METRICS:
        torch_v, mlx_v = rows["torch"][m], rows["mlx"][m]
        num, den = (mlx_v, torch_v) if m.endswith("per_s") else (torch_v, mlx_v)
        out.append([m, fmt(num / den if den else None, ".2f")])
    return out


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="backends-") as tmp:
        if args.model is None:
            from perception.tiny import save_tiny_checkpoint

            folder = save_tiny_checkpoint(Path(tmp) / "tiny", "hf", image_size=args.image_size)
            label = f"tiny random FastVLM at {args.image_size} px"
        else:
            folder, label = args.model.expanduser(), str(args.model)
        result = run(args, folder)
    rows = result["rows"]
    same = {None: "-", True: "yes", False: "NO"}[result["same_tokens"]]
    table = [
        [
            b, f"{r['device']}/{r['dtype']}", r["num_image_tokens"], r["num_prompt_tokens"],
            fmt(r["preprocess_s"] * 1000, ".1f"), fmt(r["vision_encode_s"] * 1000, ".1f"),
            fmt(r["prefill_s"] * 1000, ".1f"), fmt(r["ttft_s"] * 1000, ".1f"),
            r["num_generated_tokens"], fmt(r["decode_tokens_per_s"], ".1f"), same,
        ]
        for b, r in rows.items()
    ]  # fmt: skip
    machine = f"{platform.system()} {platform.machine()}, torch threads {args.threads}"
    print_table(
        ["backend", "device/dtype", "img tok", "prompt tok", "preproc ms", "encode ms",
         "prefill ms", "TTFT ms", "new tok", "decode tok/s", "same tokens"],
        table, title=f"{label}: median of {args.repeats} calls, {machine}",
    )  # fmt: skip
    if {"torch", "mlx"} <= rows.keys():
        print_table(["metric", "MLX speed-up over PyTorch (>1: MLX faster)"], speedups(rows))
    payload = {
        "model": label,
        "args": {k: str(v) for k, v in vars(args).items()},
        "platform": machine,
        **result,
    }
    print(f"wrote {write_json('backends', payload)}")


if __name__ == "__main__":
    main()
