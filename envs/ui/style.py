"""Looks of a synthetic screen: themes, colours, fonts and sizes, sampled per episode.

Fonts are DejaVu from the system (Debian's ``fonts-dejavu-core``, and ``fonts-dejavu-extra`` for
the condensed family); a family whose file is missing is drawn with Pillow's bundled scalable
font, so the suite still runs, with less variety and screens unlike those drawn with DejaVu.
"""

from __future__ import annotations

import colorsys
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import ImageFont

from envs.ui.canvas import RGB

log = logging.getLogger(__name__)

FONT_DIRS = (
    os.environ.get("AGENT_SDK_FONT_DIR", ""),
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/local/share/fonts",
    "/Library/Fonts",
    str(Path.home() / ".fonts"),
)
FAMILIES: dict[str, tuple[str, str]] = {
    "sans": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    "condensed": ("DejaVuSansCondensed.ttf", "DejaVuSansCondensed-Bold.ttf"),
    "serif": ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf"),
    "mono": ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf"),
}
ThemeName = Literal["light", "dark"]


@lru_cache(maxsize=32)
def _font_file(name: str) -> str | None:
    for folder in FONT_DIRS:
        if folder and (path := Path(folder) / name).is_file():
            return str(path)
    return None


@lru_cache(maxsize=256)
def load_font(family: str, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """A TrueType font of ``family`` (sans, condensed, serif, mono) at ``size`` pixels."""
    name = FAMILIES[family][int(bold)]
    path = _font_file(name)
    if path is None:
        log.warning(
            "%s not found; using Pillow's bundled font, so screens differ from those drawn "
            "with DejaVu (apt install fonts-dejavu-core fonts-dejavu-extra, or set "
            "AGENT_SDK_FONT_DIR to a folder that holds it)",
            name,
        )
        return ImageFont.load_default(size)  # type: ignore[return-value]
    return ImageFont.truetype(path, size)


def _hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return round(r * 255), round(g * 255), round(b * 255)


@dataclass(frozen=True)
class Style:
    """Everything that decides how a scene looks, but not what it contains."""

    theme: ThemeName
    background: RGB  # screen background
    surface: RGB  # panels, fields, popups
    text: RGB  # body text
    muted: RGB  # secondary text, placeholders
    border: RGB  # outlines
    accent: RGB  # primary buttons, selection, slider fill
    accent_text: RGB  # text on accent
    link: RGB  # hyperlinks
    focus: RGB  # focus ring
    family: str  # font family name (key of FAMILIES)
    font_px: int  # body font size in pixels
    radius: int  # corner radius of boxes
    pad: int  # inner padding of controls

    @property
    def font(self) -> ImageFont.FreeTypeFont:
        return load_font(self.family, self.font_px)

    @property
    def bold(self) -> ImageFont.FreeTypeFont:
        return load_font(self.family, self.font_px, bold=True)

    @property
    def small(self) -> ImageFont.FreeTypeFont:
        return load_font(self.family, max(self.font_px - 2, 7))

    @property
    def line_h(self) -> int:
        """Height of one line of body text."""
        ascent, descent = self.font.getmetrics()
        return ascent + descent

    @property
    def control_h(self) -> int:
        """Height of a one-line control (button, field, row)."""
        return self.line_h + 2 * self.pad


def base_font_px(width: int, height: int) -> int:
    """The body font size that suits a screen: 9 px at 160x210, 11 at 320x240, ~18 at 1280x800."""
    return int(np.clip(round(min(width, height * 1.3) / 24), 9, 18))


def sample_style(
    rng: np.random.Generator, width: int, height: int, theme: ThemeName | None = None
) -> Style:
    """A random style for a ``width`` x ``height`` screen (theme random unless given)."""
    theme = theme or ("dark" if rng.random() < 0.35 else "light")
    hue = float(rng.random())
    tint = float(rng.uniform(0.0, 0.08))
    if theme == "light":
        background = _hsv(hue, tint, float(rng.uniform(0.90, 0.98)))
        surface = _hsv(hue, tint * 0.5, 1.0)
        text = _hsv(hue, 0.1, float(rng.uniform(0.05, 0.2)))
        muted = _hsv(hue, 0.05, 0.48)
        border = _hsv(hue, 0.08, float(rng.uniform(0.6, 0.75)))
        link = _hsv(float(rng.uniform(0.58, 0.70)), 0.85, 0.75)
    else:
        background = _hsv(hue, tint, float(rng.uniform(0.10, 0.18)))
        surface = _hsv(hue, tint, float(rng.uniform(0.20, 0.27)))
        text = _hsv(hue, 0.05, float(rng.uniform(0.88, 0.97)))
        muted = _hsv(hue, 0.05, 0.62)
        border = _hsv(hue, 0.08, float(rng.uniform(0.38, 0.5)))
        link = _hsv(float(rng.uniform(0.52, 0.62)), 0.55, 1.0)
    accent_hue = float(rng.random())
    accent = _hsv(accent_hue, float(rng.uniform(0.55, 0.85)), float(rng.uniform(0.55, 0.8)))
    font_px = base_font_px(width, height) + int(rng.integers(-1, 2))
    return Style(
        theme=theme,
        background=background,
        surface=surface,
        text=text,
        muted=muted,
        border=border,
        accent=accent,
        accent_text=(255, 255, 255),
        link=link,
        focus=_hsv(accent_hue + 0.5, 0.7, 0.95),
        family=str(rng.choice(list(FAMILIES), p=[0.5, 0.2, 0.15, 0.15])),
        font_px=max(font_px, 8),
        radius=int(rng.integers(0, 6)),
        pad=max(2, font_px // 4 + int(rng.integers(0, 2))),
    )
