"""A frozen vision tower's features per data folder, kept on disk (`TrainConfig.feature_cache`).

With ``--freeze-tower`` a run's start is mostly the tower over every image (on two CPU cores,
about 9 minutes for 63,000 examples at 320 px); the features depend only on the data folder
(its manifest hash), the tower's weights and the preprocessing, so a resume, or another run
from the same ``--init`` on the same data, reads them back instead.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from agent_sdk.errors import ConfigError

log = logging.getLogger(__name__)

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
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise ConfigError(f"--feature-cache {folder} is a file: give a folder")

    def path(self, data_hash: str, fingerprint: str) -> Path:
        return self.folder / f"{data_hash}-{fingerprint}.safetensors"

    def load(self, data_hash: str, fingerprint: str, rows: int) -> torch.Tensor | None:
        """The first ``rows`` features, or None when no file holds that many (or it is
        unreadable: then it is recomputed and written anew)."""
        path = self.path(data_hash, fingerprint)
        if not path.is_file():
            return None
        try:
            features = load_file(path)["features"]
        except (SafetensorError, KeyError, OSError) as err:
            log.warning("ignoring the unreadable feature file %s (%s): computing anew", path, err)
            return None
        return features[:rows] if len(features) >= rows else None

    def save(self, data_hash: str, fingerprint: str, features: torch.Tensor) -> None:
        """Write a data set's features (atomically: a killed run leaves no partial file)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(data_hash, fingerprint)
        tmp = path.with_suffix(".tmp")
        save_file({"features": features.contiguous()}, tmp, metadata={"format": FORMAT})
        tmp.replace(path)
