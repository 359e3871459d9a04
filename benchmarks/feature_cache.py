"""A frozen-tower run's start with and without ``--feature-cache``.

    .venv/bin/python benchmarks/feature_cache.py [--model DIR] [--data DIR ...] [--episodes 20]
        [--repeats 2]

Builds ``agent_sdk.train.Trainer`` with ``--init MODEL --freeze-tower`` (default: the shipped
model; without ``--data``, ``--episodes`` oracle episodes of each GUI task are collected into a
temporary folder) three ways, in rounds, one torch thread: without a cache (the tower runs over
every image), with an empty cache (it runs and writes the features) and with that filled cache
(it reads them). Prints the median seconds of each and the ratio to the start without a cache,
and checks the features read back equal those computed. Writes
``benchmarks/out/feature_cache.json``.
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
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, torch_threads(1):
        data = args.data or [str(collect_ui(Path(tmp) / "ui", args.episodes, held_out=False))]
        base = TrainConfig(data=tuple(data), init=str(model_or_default(args.model)),
                           freeze_tower=True, eval_episodes=0, batch_size=16)  # fmt: skip
        figures = time_cached_starts(base, "feature_cache", Path(tmp), args.repeats,
                                     lambda trainer: trainer.features,
                                     "--freeze-tower, 1 thread")  # fmt: skip
    print(f"wrote {write_json('feature_cache', figures)}")


if __name__ == "__main__":
    main()
