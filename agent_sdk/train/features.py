"""A frozen vision tower's features per data folder, kept on disk (`TrainConfig.feature_cache`).

With ``--freeze-tower`` a run's start is mostly the tower over every image (on two CPU cores,
about 9 minutes for 63,000 examples at 320 px); the features depend only on the data folder
(its manifest hash), the tower's weights and the preprocessing, so a resume, or another run
from the same ``--init`` on the same data, reads them back instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import torch

from agent_sdk.train.cache_files import cache_folder, read_tensors, write_tensors

FORMAT = "agent-sdk-tower-features/1"


def tower_fingerprint(
    tower: torch.nn.Module, image_size: int, mean: Sequence[float], std: Sequence[float]
) -> str:
    """A hash of what a tower's features depend on besides the images: its weights and
    buffers (BatchNorm statistics included), the model image size and the normalisation."""
    digest = hashlib.sha256(f"{FORMAT} {image_size} {list(mean)} {list(std)}".encode())
    for name, tensor in sorted(tower.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy())
    return digest.hexdigest()[:16]


class FeatureCache:
    """Feature files in ``folder``: one per data set (manifest hash) and tower fingerprint,
    ``rows x tokens x C`` float16, the first ``rows`` examples of the data set."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = cache_folder(folder, "--feature-cache")

    def path(self, data_hash: str, fingerprint: str) -> Path:
        return self.folder / f"{data_hash}-{fingerprint}.safetensors"

    def load(self, data_hash: str, fingerprint: str, rows: int) -> torch.Tensor | None:
        """The first ``rows`` features, or None when no file holds that many (or it is
        unreadable: then it is recomputed and written anew)."""
        tensors = read_tensors(self.path(data_hash, fingerprint), ("features",))
        if tensors is None:
            return None
        features = tensors["features"]
        return features[:rows] if len(features) >= rows else None

    def save(self, data_hash: str, fingerprint: str, features: torch.Tensor) -> None:
        """Write a data set's features (atomically: a killed run leaves no partial file)."""
        write_tensors(self.path(data_hash, fingerprint), {"features": features}, FORMAT)
