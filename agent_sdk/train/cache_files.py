"""Safetensors files a training run keeps in a cache folder (`--feature-cache`,
`--image-cache`): a cache may be lost or damaged at any time, so reading one that fails is a
warning and a recomputation, never an error, and writing is atomic."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from agent_sdk.errors import ConfigError

log = logging.getLogger(__name__)


def cache_folder(folder: str | Path, option: str) -> Path:
    """``folder`` as a cache folder (made when first written); ConfigError if it is a file."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {folder} is a file: give a folder")
    return path


def read_tensors(path: Path, names: tuple[str, ...]) -> dict[str, torch.Tensor] | None:
    """The tensors ``names`` of the file at ``path``; None when there is none, or when it cannot
    be read or lacks one of them (with a warning: the caller computes them anew)."""
    if not path.is_file():
        return None
    try:
        tensors = load_file(path)
        return {name: tensors[name] for name in names}
    except (SafetensorError, KeyError, OSError) as err:
        log.warning("ignoring the unreadable cache file %s (%s): computing anew", path, err)
        return None


def write_tensors(path: Path, tensors: dict[str, torch.Tensor], format: str) -> None:
    """Write ``tensors`` to ``path`` atomically (a killed run leaves no partial file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file({k: v.contiguous() for k, v in tensors.items()}, tmp, metadata={"format": format})
    tmp.replace(path)
