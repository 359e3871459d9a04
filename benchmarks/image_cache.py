"""A training run's start with and without ``--image-cache``.

    .venv/bin/python benchmarks/image_cache.py [--model DIR] [--data DIR ...] [--episodes 20]
        [--data-threads 1] [--repeats 2]

Builds ``agent_sdk.train.Trainer`` with ``--init MODEL`` (default: the shipped model; without
``--data``, ``--episodes`` oracle episodes of each GUI task are collected into a temporary
folder) three ways, in rounds, one torch thread: without a cache (every image is decoded,
padded, resized and packed), with an empty cache (the same, then written) and with that filled
cache (the packed images read back). Prints the median seconds of each and the ratio to the
start without a cache, and checks the images read back equal those built. Writes
``benchmarks/out/image_cache.json``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _common import collect_ui, time_cached_starts, torch_threads, write_json


def main() -> None:
    from agent_sdk.train import TrainConfig
    from perception.zoo import model_or_default

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="checkpoint (default: the shipped model)")
    parser.add_argument("--data", action="append", help="data folders (default: collect some)")
    parser.add_argument("--episodes", type=int, default=20, help="per GUI task, without --data")
    parser.add_argument("--data-threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, torch_threads(1):
        data = args.data or [str(collect_ui(Path(tmp) / "ui", args.episodes, held_out=False))]
        base = TrainConfig(data=tuple(data), init=str(model_or_default(args.model)),
                           eval_episodes=0, batch_size=16,
                           data_threads=args.data_threads)  # fmt: skip
        figures = time_cached_starts(base, "image_cache", Path(tmp), args.repeats,
                                     lambda trainer: trainer.data.pixels[:],
                                     f"{args.data_threads} data thread(s)")  # fmt: skip
    print(f"wrote {write_json('image_cache', figures)}")


if __name__ == "__main__":
    main()
