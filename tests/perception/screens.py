"""Random screenshots for the perception tests."""

from __future__ import annotations

import numpy as np


def screen(seed: int = 0, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    """A ``size`` (width, height) RGB uint8 image of noise, the same for the same seed."""
    return np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
