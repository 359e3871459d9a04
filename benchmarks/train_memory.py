"""Peak memory of a training run: building the data in memory and a few steps.

    .venv/bin/python benchmarks/train_memory.py [--data DIR ...] [--size small] [--steps 3]

Without ``--data``, collects 20 oracle episodes of each GUI task into a temporary folder. Then,
in a fresh process, builds ``agent_sdk.train.Trainer`` (reads the examples, trains the
tokenizer, preprocesses every image and keeps it PNG-packed: ``PackedImages``) and runs
``--steps`` steps at batch 16, and reports the peak resident memory (VmHWM, Linux) after
imports, after building and after the steps, beside the size of the packed images. Goal: peak
<= 8 GB for the data sets the shipped model trains on (the images take about 16 KB an example
at 320 px, against 0.3 MB unpacked).
Writes ``benchmarks/out/train_memory.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import collect_ui, print_table, write_json

CHILD = r"""
import json, sys, tempfile
import torch
from agent_sdk.train import TrainConfig, Trainer

def peak_gib():  # VmHWM: this process's peak RSS
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM")) / 2**20

args = json.loads(sys.argv[1])
base = peak_gib()
config = TrainConfig(data=tuple(args["data"]), size=args["size"], steps=args["steps"],
                     batch_size=16, eval_episodes=0, threads=1, ground=0.5, spotlight=0.5)
trainer = Trainer(config, tempfile.mkdtemp())
built = peak_gib()
for _ in range(args["steps"]):
    trainer.train_step()
print(json.dumps({"examples": len(trainer.data), "base_gib": base, "built_gib": built,
                  "steps_gib": peak_gib(),
                  "pixels_gib": trainer.data.pixels.nbytes / 2**30}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", help="data folders (default: collect some)")
    parser.add_argument("--size", default="small")
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if not data:
            data = [str(collect_ui(Path(tmp) / "ui", episodes=20, held_out=False))]
        child = json.dumps({"data": data, "size": args.size, "steps": args.steps})
        out = subprocess.run(
            [sys.executable, "-c", CHILD, child], capture_output=True, text=True, check=True
        )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    row = [
        result["examples"],
        f"{result['pixels_gib']:.3f}",
        f"{result['base_gib']:.2f}",
        f"{result['built_gib']:.2f}",
        f"{result['steps_gib']:.2f}",
    ]
    print_table(
        [
            "examples",
            "packed images GiB",
            "peak after imports",
            "peak after building",
            "peak after steps",
        ],
        [row],
        title=f"training memory ({args.size}, {', '.join(data)})",
    )
    print(write_json("train_memory", {"data": data, "size": args.size, **result}))


if __name__ == "__main__":
    main()
