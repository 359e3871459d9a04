"""Image preprocessing as the released FastVLM expects it (``image_aspect_ratio: pad``).

Pad to a square with black (Apple pads with the image mean, which is 0), resize bicubically to
the model's input size, scale to [0, 1]; mean 0 and std 1 make normalisation the identity.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from perception.errors import PerceptionError

ImageLike = Union[np.ndarray, Image.Image, str, Path]  # noqa: UP007 - a runtime alias
"""An RGB array (H x W x 3 uint8), a PIL image, or the path of an image file."""


def load_image(image: ImageLike) -> Image.Image:
    """Any :data:`ImageLike` as an RGB PIL image; bad input raises :class:`PerceptionError`."""
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, (str, Path)):
        try:
            with Image.open(image) as img:
                return img.convert("RGB")
        except (OSError, UnidentifiedImageError) as err:
            raise PerceptionError(f"cannot read image {str(image)!r}: {err}") from err
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or 0 in image.shape:
            raise PerceptionError(
                f"an image array must be H x W x 3 uint8, got shape {image.shape} and dtype "
                f"{image.dtype}; convert with np.asarray(pil_image.convert('RGB'))"
            )
        return Image.fromarray(image, "RGB")
    raise PerceptionError(
        f"unsupported image type {type(image).__name__}; pass an H x W x 3 uint8 array, a PIL "
        "image or a file path"
    )


def pad_to_square(image: Image.Image, fill: tuple[int, int, int] = (0, 0, 0)) -> Image.Image:
    """Centre ``image`` on a square canvas of its longer side, filled with ``fill``."""
    w, h = image.size
    if w == h:
        return image
    side = max(w, h)
    canvas = Image.new("RGB", (side, side), fill)
    canvas.paste(image, ((side - w) // 2, (side - h) // 2))
    return canvas


def pad_fill(mean: Sequence[float]) -> tuple[int, int, int]:
    """The colour `preprocess` pads with: the normalisation mean as 0-255 RGB."""
    r, g, b = (round(m * 255) for m in mean)
    return r, g, b


def model_image(image: ImageLike, size: int, fill: tuple[int, int, int] = (0, 0, 0)) -> Image.Image:
    """``image`` padded to a square with ``fill`` and resized bicubically to ``size``: what the
    vision tower sees, before scaling and normalisation (`preprocess`)."""
    return pad_to_square(load_image(image), fill).resize((size, size), Image.Resampling.BICUBIC)


def preprocess(
    images: Sequence[ImageLike],
    size: int,
    mean: Sequence[float] = (0.0, 0.0, 0.0),
    std: Sequence[float] = (1.0, 1.0, 1.0),
) -> np.ndarray:
    """A batch ``B x 3 x size x size`` float32, ready for the vision tower.

    Pads with the mean colour (black for FastVLM), resizes, scales to [0, 1], normalises.
    """
    fill = pad_fill(mean)
    m = np.asarray(mean, np.float32)[:, None, None]
    s = np.asarray(std, np.float32)[:, None, None]
    out = np.empty((len(images), 3, size, size), dtype=np.float32)
    for i, image in enumerate(images):
        square = model_image(image, size, fill)
        out[i] = (np.asarray(square, dtype=np.float32).transpose(2, 0, 1) / 255.0 - m) / s
    return out
