"""Peak memory of loading a FastVLM-0.5B-shaped checkpoint, against the size of its weights.

    .venv/bin/python benchmarks/load_memory.py [--checkpoint DIR] [--dtypes bfloat16,float32]

Writes a random-weight FastVLM-0.5B (FastViTHD + Qwen2-0.5B) in bf16 to a temporary folder
(or uses ``--checkpoint``), then loads it in a fresh process per target dtype through
``perception.checkpoints.load_fastvlm_torch`` (the path ``load_vlm`` takes), touches every
weight, and reports the peak resident memory (VmHWM, Linux) above the baseline after imports.
Goal: loading bf16 as bf16 holds one copy of the weights (<= 1.3x their size).
Writes ``benchmarks/out/load_memory.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import print_table, write_json

CHILD = r"""
import json, sys, time
import torch
from perception.checkpoints import load_fastvlm_torch

def peak_gib():  # VmHWM: this process's peak RSS (ru_maxrss would carry the parent's over exec)
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM")) / 2**20

base = peak_gib()
t0 = time.perf_counter()
model, info = load_fastvlm_torch(sys.argv[1], dtype=getattr(torch, sys.argv[2]))
load_s = time.perf_counter() - t0
loaded = peak_gib()
with torch.no_grad():
    total = sum(float(p.float().sum()) for p in model.parameters())  # fault every page in
print(json.dumps({"base_gib": base, "after_load_gib": loaded, "after_touch_gib": peak_gib(),
                  "load_s": load_s, "params": sum(p.numel() for p in model.parameters())}))
"""


def write_checkpoint(dst: Path) -> None:
    import torch
    from transformers import FastVlmForConditionalGeneration

    from perception.checkpoints import save_fastvlm_checkpoint
    from perception.reference import fastvlm_05b_config
    from perception.tiny import random_state_dict

    config = fastvlm_05b_config()
    with torch.device("meta"):
        reference = FastVlmForConditionalGeneration(config).state_dict()
    state = random_state_dict(reference, dtype=torch.bfloat16)
    save_fastvlm_checkpoint(dst, state, config, layout="hf")


def measure(folder: Path, dtype: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), dtype],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="an existing checkpoint folder")
    parser.add_argument("--dtypes", default="bfloat16,float32")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.checkpoint or Path(tmp) / "fastvlm-0.5b-random"
        if args.checkpoint is None:
            print("writing a random FastVLM-0.5B-shaped bf16 checkpoint ...", flush=True)
            write_checkpoint(folder)
        weights_gib = sum(f.stat().st_size for f in folder.glob("*.safetensors")) / 2**30
        rows, results = [], []
        for dtype in args.dtypes.split(","):
            r = measure(folder, dtype)
            extra = r["after_touch_gib"] - r["base_gib"]
            results.append({"dtype": dtype, "weights_gib": weights_gib, "extra_gib": extra, **r})
            rows.append([
                dtype, f"{r['params'] / 1e6:.0f}M", f"{weights_gib:.2f}", f"{extra:.2f}",
                f"{extra / weights_gib:.2f}x", f"{r['load_s']:.1f}",
            ])  # fmt: skip
    print_table(
        ["load as", "params", "weights GiB", "peak RSS above base GiB", "ratio", "load s"], rows
    )
    print("goal: bf16 -> bf16 at most 1.3x the weights (one copy)")
    write_json("load_memory", {"results": results})


if __name__ == "__main__":
    main()
