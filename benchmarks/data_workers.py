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
import os
import tempfile
from pathlib import Path

from _common import collect_ui, time_trainer_starts, torch_threads, write_json


def main() -> None:
    from agent_sdk.train import TrainConfig
    from perception.zoo import model_or_default

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="checkpoint (default: the shipped model)")
    parser.add_argument("--data", action="append", help="data folders (default: collect some)")
    parser.add_argument("--episodes", type=int, default=20, help="per GUI task, without --data")
    parser.add_argument("--workers", type=int, action="append", help="default: 2")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    ways = {"one thread": lambda r: {"data_threads": 1}}
    for n in args.workers or [2]:
        ways[f"{n} worker processes"] = lambda r, n=n: {"data_threads": n}
    with tempfile.TemporaryDirectory() as tmp, torch_threads(1):
        data = args.data or [str(collect_ui(Path(tmp) / "ui", args.episodes, held_out=False))]
        base = TrainConfig(data=tuple(data), init=str(model_or_default(args.model)),
                           eval_episodes=0, batch_size=16)  # fmt: skip
        figures = time_trainer_starts(base, ways, Path(tmp), args.repeats,
                                      lambda trainer: trainer.data.pixels[:],
                                      f"no cache, {os.cpu_count()} CPUs")  # fmt: skip
    print(f"wrote {write_json('data_workers', {**figures, 'cpus': os.cpu_count()})}")


if __name__ == "__main__":
    main()
