"""The data folders' images packed as the model takes them, shard by shard in worker processes.

A run's first start reads every shard (tar headers, JSON, PNG decoding), pads and resizes each
image and packs it again (`data.pack_model_images`). Most of that is Python or holds the GIL
(measured on `data/ui-300` with one thread: 10.2 of 21.2 s in PIL's PNG decoder, 1.4 s in
``tarfile``), so threads hardly help. Here a `torch.utils.data.DataLoader`'s worker processes
each take whole shards, in order, and send back only the packed images (about 16 KB each).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from agent_sdk.collect import Shard, data_shards, shard_examples
from agent_sdk.train.data import Packed, pack_model_images

ShardImages = tuple[list[np.ndarray], list[tuple[int, int]]]
"""One shard's packed images and their source (width, height), in order."""


class _PackedShards(torch.utils.data.Dataset[ShardImages]):
    """Item ``i``: shard ``i``'s images packed for the model, decoded one at a time (a worker
    holds one decoded image, not a shard's)."""

    def __init__(self, shards: Sequence[Shard], image_size: int, mean: Sequence[float]) -> None:
        self.shards, self.image_size, self.mean = list(shards), image_size, tuple(mean)

    def __len__(self) -> int:
        return len(self.shards)

    def __getitem__(self, i: int) -> ShardImages:
        blobs, sizes = [], []
        for example in shard_examples(self.shards[i]):
            blobs += pack_model_images([example.image], self.image_size, self.mean)
            sizes.append((example.image.shape[1], example.image.shape[0]))
        return blobs, sizes


def _as_is(item: ShardImages) -> ShardImages:
    return item


def pack_folders(
    data: Sequence[str | Path], image_size: int, mean: Sequence[float], workers: int,
    limit: int | None = None,
) -> Packed:  # fmt: skip
    """The images of the data folders ``data`` (all, or the first ``limit``), in
    `read_examples` order, packed as `build_dataset` packs them (`pack_model_images`), with
    their source sizes: ``build_dataset(examples, ..., packed=...)`` takes them. ``workers``
    processes read the shards (two shards ahead each); a shard that does not match its
    manifest raises `ConfigError` from the worker."""
    needed = data_shards(data)
    if limit is not None:  # the shards that hold the first ``limit`` examples, by the manifests
        held = itertools.accumulate(shard.entry["examples"] for shard in needed)
        needed = needed[: next((i + 1 for i, n in enumerate(held) if n >= limit), len(needed))]
    shards = _PackedShards(needed, image_size, mean)
    # its own generator: drawing the workers' seeds must not move torch's global RNG
    loader = DataLoader(shards, batch_size=None, collate_fn=_as_is, num_workers=workers,
                        prefetch_factor=2 if workers else None,
                        generator=torch.Generator())  # fmt: skip
    blobs: list[np.ndarray] = []
    sizes: list[tuple[int, int]] = []
    for shard_blobs, shard_sizes in loader:
        blobs += shard_blobs
        sizes += shard_sizes
    return blobs[:limit], sizes[:limit]
