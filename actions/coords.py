"""Coordinate systems and the conversions between them.

Three systems meet in the SDK:

* **normalised**: ``x, y`` in ``[0, 1]`` of the observation image, from the top-left; what every
  :mod:`actions.schema` action carries.
* **model**: integers ``0..1000`` of the observation image; what model text uses.
* **pixels** of the observation image (``0..width-1``), and **screen** coordinates in the units
  pyautogui uses (points), reached through a :class:`ScreenFrame`.

Points outside a frame raise :class:`~actions.errors.CoordinateError`; nothing is clamped.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

from actions.errors import CoordinateError

MODEL_SCALE = 1000
"""Model text writes a normalised coordinate ``v`` as the integer ``round(v * MODEL_SCALE)``."""


def _check_unit(x: float, y: float) -> None:
    if not (math.isfinite(x) and math.isfinite(y) and 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise CoordinateError(
            f"normalised point ({x}, {y}) is outside the image; both coordinates must lie in [0, 1]"
        )


def model_to_norm(v: float) -> float:
    """Model units (0..1000) to a normalised coordinate; refuses values outside 0..1000."""
    if not (math.isfinite(v) and 0 <= v <= MODEL_SCALE):
        raise CoordinateError(f"model coordinate {v} is outside 0..{MODEL_SCALE}")
    return v / MODEL_SCALE


def norm_to_model(v: float) -> int:
    """Normalised coordinate to the nearest model unit (0..1000)."""
    _check_unit(v, 0.0)
    return round(v * MODEL_SCALE)


def norm_to_pixels(x: float, y: float, width: int, height: int) -> tuple[int, int]:
    """Normalised point to the image pixel that contains it (``x == 1`` is the last column)."""
    _check_unit(x, y)
    return min(int(x * width), width - 1), min(int(y * height), height - 1)


def pixels_to_norm(px: int, py: int, width: int, height: int) -> tuple[float, float]:
    """Image pixel index to the normalised point at its centre.

    ``norm_to_pixels(*pixels_to_norm(px, py, w, h), w, h) == (px, py)`` for every pixel.
    """
    if not (0 <= px < width and 0 <= py < height):
        raise CoordinateError(
            f"pixel ({px}, {py}) is outside the {width}x{height} image; "
            f"x must be in [0, {width}) and y in [0, {height})"
        )
    return (int(px) + 0.5) / width, (int(py) + 0.5) / height


class ScreenFrame(BaseModel):
    """Where an observation image lies on the screen that an executor drives.

    ``width`` and ``height`` are the screenshot's size in pixels; ``left`` and ``top`` are the
    monitor's origin in screen points (pyautogui's units, which include the offsets of other
    monitors); ``scale`` is screenshot pixels per screen point (2.0 on a Retina display).
    """

    model_config = ConfigDict(frozen=True)

    width: int = Field(gt=0, description="screenshot width in pixels")
    height: int = Field(gt=0, description="screenshot height in pixels")
    left: float = Field(0.0, description="monitor origin x, in screen points")
    top: float = Field(0.0, description="monitor origin y, in screen points")
    scale: float = Field(1.0, gt=0, description="screenshot pixels per screen point (HiDPI)")

    def to_pixels(self, x: float, y: float) -> tuple[int, int]:
        """Normalised point to the screenshot pixel that contains it."""
        return norm_to_pixels(x, y, self.width, self.height)

    def to_screen(self, x: float, y: float) -> tuple[int, int]:
        """Normalised point to integer screen points for pyautogui."""
        _check_unit(x, y)
        sx = self.left + min(x * self.width, self.width - 0.5) / self.scale
        sy = self.top + min(y * self.height, self.height - 0.5) / self.scale
        return math.floor(sx), math.floor(sy)

    def from_screen(self, sx: float, sy: float) -> tuple[float, float]:
        """Screen point to the normalised point; refuses points outside this frame."""
        px = (sx - self.left) * self.scale
        py = (sy - self.top) * self.scale
        if not (0 <= px < self.width and 0 <= py < self.height):
            raise CoordinateError(
                f"screen point ({sx}, {sy}) is outside the frame at ({self.left}, {self.top}) "
                f"of {self.width / self.scale:g}x{self.height / self.scale:g} points; "
                "capture the monitor that holds it or pass its ScreenFrame"
            )
        return px / self.width, py / self.height

    def contains_screen(self, sx: float, sy: float) -> bool:
        """Whether a screen point lies inside this frame."""
        px = (sx - self.left) * self.scale
        py = (sy - self.top) * self.scale
        return 0 <= px < self.width and 0 <= py < self.height
