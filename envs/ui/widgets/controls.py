"""Richer controls: paragraphs with links, sliders, scrollable lists and clickable shapes.

Layouts (word wrapping, slider geometry, shape polygons) are computed once in the constructors,
so drawing a frame only pastes cached text masks and fills a few boxes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, NamedTuple

from PIL import ImageFont

from envs.ui.canvas import RGB, Canvas, Rect, text_size
from envs.ui.scene import Scene, Widget
from envs.ui.style import Style

COLORS: dict[str, RGB] = {
    "red": (215, 38, 38),
    "green": (34, 160, 60),
    "blue": (35, 90, 215),
    "yellow": (240, 200, 20),
    "orange": (245, 125, 15),
    "purple": (135, 55, 185),
    "pink": (240, 100, 175),
    "brown": (125, 75, 35),
    "black": (20, 20, 20),
    "white": (245, 245, 245),
}
"""Named fill colours of shapes, far apart in RGB (black suits light themes, white dark ones)."""

ShapeKind = Literal["circle", "square", "triangle", "diamond", "star", "hexagon", "cross"]
SHAPE_KINDS: tuple[ShapeKind, ...] = (
    "circle", "square", "triangle", "diamond", "star", "hexagon", "cross",
)  # fmt: skip


class Run(NamedTuple):
    """A piece of paragraph text; spaces inside and between runs separate words."""

    text: str
    link: bool = False


class Fragment(NamedTuple):
    """One word (or the part of a word in one run) at ``(x, y)``; ``link`` is its link's text."""

    x: int
    y: int
    text: str
    link: str | None


@lru_cache(maxsize=8192)
def _advance(text: str, font: ImageFont.FreeTypeFont) -> float:
    return font.getlength(text)


def _words(runs: list[Run]) -> list[list[tuple[str, int]]]:
    """The words of ``runs`` as lists of ``(piece, run index)`` (a word may span runs)."""
    words: list[list[tuple[str, int]]] = [[]]
    for i, run in enumerate(runs):
        for j, part in enumerate(run.text.split(" ")):
            if j > 0:
                words.append([])
            if part:
                words[-1].append((part, i))
    return [w for w in words if w]


@dataclass(eq=False)
class Paragraph(Widget):
    """Word-wrapped text whose link runs are drawn underlined in the link colour.

    A click on a link calls ``on_link`` with the link's text; clicks on plain text do nothing.
    Words are drawn one by one, so their cached masks serve every paragraph that uses them.
    """

    fragments: list[Fragment] = field(default_factory=list)
    links: dict[str, list[Rect]] = field(default_factory=dict)  # a wrapped link has several
    on_link: Callable[[str], None] | None = None

    @classmethod
    def wrapped(cls, style: Style, x: int, y: int, width: int, runs: list[Run], **kw) -> Paragraph:
        """Lay ``runs`` out (greedy word wrap) in lines no wider than ``width`` from ``(x, y)``."""
        font, lead = style.font, style.line_h + max(1, style.line_h // 5)
        space = _advance(" ", font)
        fragments: list[Fragment] = []
        links: dict[str, list[Rect]] = {}
        cx, row, right, prev = 0.0, 0, 0.0, (-1, -1)
        for word in _words(runs):
            w = sum(_advance(piece, font) for piece, _ in word)
            if cx and cx + space + w > width:
                cx, row = 0.0, row + 1
            elif cx:
                cx += space
            for piece, i in word:
                fx, fy, link = x + round(cx), y + row * lead, runs[i].text if runs[i].link else None
                cx += _advance(piece, font)
                fragments.append(Fragment(fx, fy, piece, link))
                if link is not None:
                    rects = links.setdefault(link, [])
                    if prev == (i, row):  # the link goes on: widen its box over the space
                        fx = rects.pop().x
                    rects.append(Rect(fx, fy, x + round(cx) - fx, style.line_h))
                prev = (i, row)
            right = max(right, cx)
        h = row * lead + style.line_h if fragments else 0
        return cls(Rect(x, y, round(right), h), fragments=fragments, links=links, **kw)

    def on_click(self, scene: Scene, px: int, py: int) -> None:
        for text, rects in self.links.items():
            if any(r.contains(px, py) for r in rects) and self.on_link is not None:
                self.on_link(text)
                return

    def draw(self, canvas: Canvas, style: Style, focused: bool) -> None:
        for f in self.fragments:
            canvas.text(
                (f.x, f.y), f.text, style.font, style.text if f.link is None else style.link
            )
        under, thick = style.font.getmetrics()[0] + 1, max(1, style.font_px // 14)
        for rects in self.links.values():
            for r in rects:
                canvas.line([(r.x, r.y + under), (r.right - 1, r.y + under)], style.link, thick)


@dataclass(eq=False)
class Slider(Widget):
    """A horizontal slider over ``lo..hi`` in integer ``step``s, its value shown on the right.

    Only a drag that starts on the thumb moves it: to the release point's x, snapped to the
    nearest step and clamped to the track. Clicks do nothing.
    """

    lo: int = 0
    hi: int = 10
    step: int = 1
    value: int = 0
    track_x: int = 0  # pixel of ``lo``
    track_w: int = 1  # pixels from ``lo`` to ``hi``
    track_y: int = 0  # pixel row of the track's centre
    knob: int = 4  # thumb radius
    ticks: bool = False  # draw ``lo`` and ``hi`` under the ends of the track

    @classmethod
    def sized(
        cls,
        style: Style,
        x: int,
        y: int,
        track_w: int,
        lo: int,
        hi: int,
        step: int = 1,
        ticks: bool = False,
        **kw,
    ) -> Slider:
        """A slider whose track is ``track_w`` pixels long, with its top-left at ``(x, y)``."""
        knob = max(4, style.line_h // 2)
        label_w = max(text_size(str(v), style.font)[0] for v in range(lo, hi + 1, step))
        row_h = max(2 * knob + 1, style.line_h)
        h = row_h + (text_size("0", style.small)[1] + 1 if ticks else 0)
        w = 2 * knob + track_w + style.pad + label_w + 1
        geometry = {"track_x": x + knob, "track_w": track_w, "track_y": y + row_h // 2}
        return cls(
            Rect(x, y, w, h), lo=lo, hi=hi, step=step, knob=knob, ticks=ticks, **geometry, **kw
        )

    def x_of(self, value: int) -> int:
        """The pixel column of a value on the track."""
        return self.track_x + round((value - self.lo) / (self.hi - self.lo) * self.track_w)

    def value_at(self, px: int) -> int:
        """The value nearest to a pixel column, snapped to a step and clamped to the range."""
        steps = round((px - self.track_x) / self.track_w * (self.hi - self.lo) / self.step)
        return min(max(self.lo + steps * self.step, self.lo), self.hi)

    @property
    def thumb(self) -> Rect:
        cx = self.x_of(self.value)
        return Rect(cx - self.knob, self.track_y - self.knob, 2 * self.knob + 1, 2 * self.knob + 1)

    def on_drag(self, scene: Scene, start: tuple[int, int], end: tuple[int, int]) -> None:
        if self.thumb.contains(*start):
            self.value = self.value_at(end[0])

    def draw(self, canvas: Canvas, style: Style, focused: bool) -> None:
        t = max(3, self.knob // 2)
        bar = Rect(self.track_x, self.track_y - t // 2, self.track_w + 1, t)
        canvas.box(bar, style.border, None, t // 2)
        canvas.box(
            Rect(bar.x, bar.y, self.x_of(self.value) - bar.x + 1, t), style.accent, None, t // 2
        )
        thumb = self.thumb
        canvas.ellipse(thumb, style.accent)
        canvas.ellipse(thumb.inset(max(2, self.knob // 3)), style.surface)
        label_x = self.track_x + self.track_w + self.knob + style.pad
        canvas.text(
            (label_x, self.track_y - style.line_h // 2), str(self.value), style.font, style.text
        )
        if self.ticks:
            ty = self.track_y + self.knob + 1
            hi = str(self.hi)
            hi_x = self.track_x + self.track_w + self.knob - text_size(hi, style.small)[0]
            canvas.text((self.rect.x, ty), str(self.lo), style.small, style.muted)
            canvas.text((hi_x, ty), hi, style.small, style.muted)


def _bar_w(style: Style) -> int:
    """Width of a list's scrollbar."""
    return max(6, style.line_h // 2)


@dataclass(eq=False)
class ListBox(Widget):
    """A bordered list showing ``rows`` of its ``items`` from ``top``, with a scrollbar.

    The wheel scrolls one row per click (clamped); a click on a visible row calls ``on_select``
    with its item.
    """

    items: list[str] = field(default_factory=list)
    rows: int = 5
    top: int = 0  # index of the first visible item
    row_h: int = 16
    bar_w: int = 8  # scrollbar width
    on_select: Callable[[str], None] | None = None

    @classmethod
    def sized(
        cls, style: Style, x: int, y: int, w: int, items: list[str], rows: int, **kw
    ) -> ListBox:
        """A list ``w`` pixels wide, tall enough for ``rows`` rows."""
        row_h = style.line_h + style.pad
        rect = Rect(x, y, w, rows * row_h + 2)
        return cls(rect, items=items, rows=rows, row_h=row_h, bar_w=_bar_w(style), **kw)

    @staticmethod
    def width_for(style: Style, items: list[str]) -> int:
        """The narrowest width that shows every item in full."""
        widest = max(text_size(t, style.font)[0] for t in items)
        return widest + 2 * style.pad + _bar_w(style) + 2

    @property
    def max_top(self) -> int:
        return max(len(self.items) - self.rows, 0)

    @property
    def shown(self) -> range:
        """Indices of the visible items."""
        return range(self.top, min(self.top + self.rows, len(self.items)))

    def row_rect(self, index: int) -> Rect | None:
        """The box of item ``index`` if it is visible, else None."""
        if index not in self.shown:
            return None
        r, row_y = self.rect, self.rect.y + 1 + (index - self.top) * self.row_h
        return Rect(r.x + 1, row_y, r.w - 2 - self.bar_w, self.row_h)

    def on_scroll(self, scene: Scene, px: int, py: int, dx: int, dy: int) -> None:
        self.top = min(max(self.top + dy, 0), self.max_top)

    def on_click(self, scene: Scene, px: int, py: int) -> None:
        r = self.rect
        if not (r.x < px < r.right - 1 - self.bar_w and r.y < py < r.bottom - 1):
            return
        index = self.top + (py - r.y - 1) // self.row_h
        if index in self.shown and self.on_select is not None:
            self.on_select(self.items[index])

    def draw(self, canvas: Canvas, style: Style, focused: bool) -> None:
        r = self.rect
        canvas.box(r, style.surface, style.border, min(style.radius, 3))
        dy = (self.row_h - style.line_h) // 2
        x, right = r.x + 1 + style.pad, r.right - 2 - self.bar_w
        for k, i in enumerate(self.shown):
            y = r.y + 1 + k * self.row_h
            if k:
                canvas.line([(r.x + 2, y), (right - 1, y)], style.background)
            canvas.text((x, y + dy), self.items[i], style.font, style.text)
        track = Rect(r.right - 1 - self.bar_w, r.y + 1, self.bar_w, r.h - 2)
        canvas.box(track, style.background, None)
        n = max(len(self.items), 1)
        knob_h = max(track.h * self.rows // n, self.bar_w)
        knob_y = track.y + (track.h - knob_h) * self.top // max(self.max_top, 1)
        canvas.box(
            Rect(track.x + 1, knob_y, self.bar_w - 2, knob_h),
            style.border,
            None,
            (self.bar_w - 2) // 2,
        )


def _outline(points: list[tuple[float, float]], r: Rect) -> list[tuple[int, int]]:
    """Unit-box points (0..1) mapped into ``r``."""
    return [(round(r.x + u * (r.w - 1)), round(r.y + v * (r.h - 1))) for u, v in points]


def _star(n: int, inner: float) -> list[tuple[float, float]]:
    """An ``n``-pointed star, upright in the unit box; ``inner`` is the notch radius (0..1)."""
    return [
        (0.5 + 0.5 * r * math.cos(a), 0.5 + 0.5 * r * math.sin(a))
        for k in range(2 * n)
        for r, a in [(1.0 if k % 2 == 0 else inner, -math.pi / 2 + k * math.pi / n)]
    ]


_UNIT_SHAPES: dict[str, list[tuple[float, float]]] = {
    "square": [(0.08, 0.08), (0.92, 0.08), (0.92, 0.92), (0.08, 0.92)],
    "triangle": [(0.5, 0.04), (0.98, 0.92), (0.02, 0.92)],
    "diamond": [(0.5, 0.0), (1.0, 0.5), (0.5, 1.0), (0.0, 0.5)],
    "star": _star(5, 0.45),
    "hexagon": [(0.0, 0.5), (0.25, 0.07), (0.75, 0.07), (1.0, 0.5), (0.75, 0.93), (0.25, 0.93)],
    "cross": [
        (0.35, 0.05), (0.65, 0.05), (0.65, 0.35), (0.95, 0.35), (0.95, 0.65), (0.65, 0.65),
        (0.65, 0.95), (0.35, 0.95), (0.35, 0.65), (0.05, 0.65), (0.05, 0.35), (0.35, 0.35),
    ],
}  # fmt: skip


@dataclass(eq=False)
class Shape(Widget):
    """A shape filled with a named colour (:data:`COLORS`); a click in its box runs ``on_press``."""

    kind: ShapeKind = "circle"
    color: str = "red"
    on_press: Callable[[], None] | None = None
    points: list[tuple[int, int]] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if self.kind != "circle":
            self.points = _outline(_UNIT_SHAPES[self.kind], self.rect)

    def on_click(self, scene: Scene, px: int, py: int) -> None:
        if self.on_press is not None:
            self.on_press()

    def draw(self, canvas: Canvas, style: Style, focused: bool) -> None:
        fill = COLORS[self.color]
        edge = (fill[0] * 3 // 5, fill[1] * 3 // 5, fill[2] * 3 // 5)
        if self.kind == "circle":
            canvas.ellipse(self.rect, fill, edge)
        else:
            canvas.polygon(self.points, fill, edge)
