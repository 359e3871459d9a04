"""A run's images as the model takes them, kept on disk (`TrainConfig.image_cache`).

Each start of a run reads every data folder's PNGs, decodes them, pads and resizes them to the
model's input size and packs them again (`data.build_dataset`): about 12 s per 10,000 GUI
examples on one core here, and 110-130 s for 44,873 examples on a 16-core GPU machine, a third
of a short call there. What comes out depends only on the data folders (their manifest
hashes, in order), how many examples are used, the image size and the padding colour (and
the code that resizes: Pillow's version and `FORMAT`, to bump when the SDK's preprocessing
changes), so a ``--resume`` or another run on the same data reads the packed images back.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import PIL
import torch

from agent_sdk.train.cache_files import cache_folder, read_tensors, write_tensors
from agent_sdk.train.data import Packed

log = logging.getLogger(__name__)

FORMAT = "agent-sdk-packed-images/1"


def images_key(
    data_hashes: Sequence[str], examples: int, image_size: int, mean: Sequence[float]
) -> str:
    """A hash of what a run's packed images depend on: its folders' manifest hashes in order,
    the number of examples taken from them, the model image size and the padding colour (and
    the resizing code: `FORMAT` and Pillow's version)."""
    text = (f"{FORMAT} Pillow {PIL.__version__} {list(data_hashes)} {examples} {image_size} "
            f"{[float(m) for m in mean]}")  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class ImageCache:
    """Packed-image files in ``folder``, one per `images_key`: every example's PNG bytes (as
    `data.PackedImages` keeps them) and its source image's width and height."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = cache_folder(folder, "--image-cache")

    def path(self, key: str) -> Path:
        return self.folder / f"images-{key}.safetensors"

    def load(self, key: str, rows: int) -> Packed | None:
        """The packed images and source sizes of ``rows`` examples, or None when no file holds
        exactly that many (or it is unreadable: then they are built and written anew)."""
        path = self.path(key)
        tensors = read_tensors(path, ("bytes", "offsets", "sizes"))
        if tensors is None:
            return None
        data, offsets, sizes = tensors["bytes"], tensors["offsets"], tensors["sizes"]
        if len(sizes) != rows or len(offsets) != rows + 1 or int(offsets[-1]) != len(data):
            log.warning("ignoring the image cache %s: it holds %d images, the run %d", path,
                        len(sizes), rows)  # fmt: skip
            return None
        raw = data.numpy()  # the blobs are views of it: no copy
        blobs = [raw[a:b] for a, b in itertools.pairwise(offsets.tolist())]
        return blobs, [(int(w), int(h)) for w, h in sizes.tolist()]

    def save(self, key: str, blobs: Sequence[np.ndarray], sizes: Sequence[tuple[int, int]]) -> None:
        """Write a run's packed images (atomically: a killed run leaves no partial file)."""
        lengths = torch.tensor([0, *(len(b) for b in blobs)], dtype=torch.long)
        data = np.concatenate(blobs) if blobs else np.zeros(0, dtype=np.uint8)
        size_rows = torch.tensor(list(sizes), dtype=torch.int32).reshape(-1, 2)
        tensors = {"bytes": torch.from_numpy(data), "offsets": lengths.cumsum(0),
                   "sizes": size_rows}  # fmt: skip
        write_tensors(self.path(key), tensors, FORMAT)
