"""The base class of GUI-suite tasks: a generated scene, an instruction, an outcome, an oracle."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from actions.coords import pixels_to_norm
from actions.schema import ActionBase, Click
from envs.errors import TaskGenerationError
from envs.ui.canvas import Rect, text_size
from envs.ui.scene import Scene, Widget
from envs.ui.style import Style
from envs.ui.widgets.basic import Label, Panel
from envs.ui.words import APP_TITLES, FILLER


class UITask(ABC):
    """One episode's task: :meth:`build` makes the scene, :meth:`oracle` solves it.

    A task decides its own outcome through :meth:`succeed` and :meth:`fail` (from widget
    callbacks); the first decision ends the episode.
    """

    name: ClassVar[str]  # registry name, e.g. "click-button"
    max_steps: ClassVar[int]  # step budget; truncation after this many steps
    summary: ClassVar[str]  # one line for the suite listing

    def __init__(self, rng: np.random.Generator, width: int, height: int, style: Style) -> None:
        self.rng, self.width, self.height, self.style = rng, width, height, style
        self.scene = Scene(width, height, style)
        self.instruction = ""
        self.outcome: bool | None = None
        self.area = self._window()
        self.build()
        if not self.instruction:
            raise TaskGenerationError(f"{self.name}: build() set no instruction")

    # -- for subclasses ---------------------------------------------------------------------------
    @abstractmethod
    def build(self) -> None:
        """Add widgets to ``self.scene`` inside ``self.area`` and set ``self.instruction``."""

    @abstractmethod
    def oracle(self) -> ActionBase:
        """The expert's next action, from the scene's true state."""

    def succeed(self) -> None:
        if self.outcome is None:
            self.outcome = True

    def fail(self) -> None:
        if self.outcome is None:
            self.outcome = False

    def done_outcome(self) -> bool:
        """Whether the task counts as solved when the agent says ``done()`` (default: no)."""
        return False

    # -- helpers ----------------------------------------------------------------------------------
    def point(self, px: int, py: int) -> tuple[float, float]:
        """Normalised coordinates of a pixel's centre."""
        return pixels_to_norm(px, py, self.width, self.height)

    def click(self, target: Widget | Rect) -> Click:
        """A click at the centre of a widget or box."""
        rect = target.rect if isinstance(target, Widget) else target
        x, y = self.point(*rect.center)
        return Click(x=x, y=y)

    def choice(self, options: tuple[str, ...] | list[str], k: int) -> list[str]:
        """``k`` distinct random items."""
        if k > len(options):
            raise TaskGenerationError(f"{self.name}: asked for {k} of {len(options)} options")
        return [options[i] for i in self.rng.choice(len(options), size=k, replace=False)]

    def scatter(
        self,
        sizes: list[tuple[int, int]],
        area: Rect | None = None,
        gap: int = 4,
        avoid: list[Rect] | None = None,
    ) -> list[Rect]:
        """Random non-overlapping boxes of the given sizes inside ``area`` (default: the window)."""
        area = area or self.area
        placed: list[Rect] = list(avoid or [])
        out: list[Rect] = []
        for w, h in sizes:
            if w > area.w or h > area.h:
                raise TaskGenerationError(f"{self.name}: a {w}x{h} box does not fit in {area}")
            for _ in range(300):
                r = Rect(
                    int(self.rng.integers(area.x, area.right - w + 1)),
                    int(self.rng.integers(area.y, area.bottom - h + 1)),
                    w,
                    h,
                )
                if not any(r.intersects(o, gap) for o in placed):
                    break
            else:
                raise TaskGenerationError(
                    f"{self.name}: could not place {len(sizes)} boxes in {area}"
                )
            placed.append(r)
            out.append(r)
        return out

    def distractors(self, n: int, avoid: list[Rect]) -> None:
        """Up to ``n`` muted filler texts in free space (never over ``avoid``)."""
        placed = list(avoid)
        for text in self.choice(FILLER, min(n, len(FILLER))):
            w, h = text_size(text, self.style.small)
            if w >= self.area.w or h >= self.area.h:
                continue
            for _ in range(30):
                r = Rect(
                    int(self.rng.integers(self.area.x, self.area.right - w + 1)),
                    int(self.rng.integers(self.area.y, self.area.bottom - h + 1)),
                    w,
                    h,
                )
                if not any(r.intersects(o, 2 * self.style.pad + 4) for o in placed):
                    self.scene.add(Label(r, text=text, font="small", color="muted"))
                    placed.append(r)
                    break

    def _window(self) -> Rect:
        """Optional app chrome (a title bar) and margins; returns the content area."""
        s, m = self.style, int(self.rng.integers(2, 2 + max(self.width, self.height) // 40))
        top = 0
        if self.rng.random() < 0.5:
            title = str(self.rng.choice(APP_TITLES))
            h = s.control_h
            self.scene.add(Panel(Rect(0, 0, self.width, h + 2), title=""))
            self.scene.add(Label.at(s, s.pad * 2, (h + 2 - s.line_h) // 2, title, font="bold"))
            top = h + 2
        return Rect(m, top + m, self.width - 2 * m, self.height - top - 2 * m)
