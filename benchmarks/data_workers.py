"""A training run's first start: its data read and packed in one thread or in worker processes.

    .venv/bin/python benchmarks/data_workers.py [--model DIR] [--data DIR ...] [--episodes 20]
        [--workers 2 --workers 4] [--repeats 2]

Builds ``agent_sdk.train.Trainer`` with ``--init MODEL`` (default: the shipped model; without
``--data``, ``--episodes`` oracle episodes of each GUI task are collected into a temporary
folder), no image cache, one torch thread, with ``data_threads`` 1 (the shards read, decoded,
padded, resized and packed in this process) and each ``--workers`` N (`pack_folders`: N worker
processes), in interleaved rounds. Prints the median seconds of each start and its speed-up
over one thread, checks every way's images equal, and writes ``benchmarks/out/data_workers.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

from _common import collect_ui, print_table, torch_threads, write_json


def main() -> None:
    import torch

    from agent_sdk.train import TrainConfig, Trainer
    from perception.zoo import model_or_default

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="checkpoint (default: the shipped model)")
    parser.add_argument("--data", action="append", help="data folders (default: collect some)")
    parser.add_argument("--episodes", type=int, default=20, help="per GUI task, without --data")
    parser.add_argument("--workers", type=int, action="append", help="default: 2")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    ways = [1, *(args.workers or [2])]
    with tempfile.TemporaryDirectory() as tmp, torch_threads(1):
        data = args.data or [str(collect_ui(Path(tmp) / "ui", args.episodes, held_out=False))]
        base = TrainConfig(data=tuple(data), init=str(model_or_default(args.model)),
                           eval_episodes=0, batch_size=16)  # fmt: skip
        seconds: dict[int, list[float]] = {n: [] for n in ways}
        images: dict[int, torch.Tensor] = {}
        for r in range(args.repeats):
            for n in ways:
                start = time.perf_counter()
                trainer = Trainer(dataclasses.replace(base, data_threads=n), Path(tmp) / f"{r}-{n}")
                seconds[n].append(time.perf_counter() - start)
                images[n], examples = trainer.data.pixels[:], len(trainer.data)
                del trainer
    same = all(torch.equal(images[1], im) for im in images.values())
    medians = {n: statistics.median(s) for n, s in seconds.items()}
    rows = [[str(n), "this process" if n == 1 else f"{n} worker processes",
             f"{medians[n]:.1f}", f"{medians[1] / medians[n]:.2f}"] for n in ways]  # fmt: skip
    print_table(["data_threads", "how", "seconds (median)", "x one thread"], rows,
                title=f"Trainer start without a cache, {examples} examples, {os.cpu_count()} "
                f"CPUs ({args.repeats} rounds); images equal: {same}")  # fmt: skip
    figures = {"examples": examples, "cpus": os.cpu_count(), "seconds": seconds,
               "median_s": medians, "same": same}  # fmt: skip
    print(f"wrote {write_json('data_workers', figures)}")


if __name__ == "__main__":
    main()
