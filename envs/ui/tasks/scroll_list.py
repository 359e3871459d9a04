"""scroll-list: scroll a list box until an item shows, then click it."""

from __future__ import annotations

from actions.schema import ActionBase, Scroll
from envs.errors import TaskGenerationError
from envs.ui.canvas import Rect, text_size
from envs.ui.task import UITask
from envs.ui.widgets.basic import Label
from envs.ui.widgets.controls import ListBox
from envs.ui.words import (
    ANIMALS,
    CITIES,
    COUNTRIES,
    FIRST_NAMES,
    LAST_NAMES,
    LIST_TITLES,
    MORE_CITIES,
    WORDS,
)

FULL_NAMES = tuple(f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES)
POOLS: tuple[tuple[str, ...], ...] = (
    CITIES + MORE_CITIES,
    COUNTRIES,
    tuple(a.capitalize() for a in ANIMALS),
    WORDS,
    FULL_NAMES,
)
"""Vocabularies a list draws its items from (each has more than 40 entries)."""


class ScrollList(UITask):
    """A list box showing 4-8 of its 12-40 items, the named item usually hidden below. The
    wheel scrolls the list; clicking a row ends the episode: success for the named item,
    failure for any other."""

    name = "scroll-list"
    max_steps = 5
    summary = "Scroll a list to the named item and click it."

    def build(self) -> None:
        s, rng = self.style, self.rng
        heading = str(rng.choice(LIST_TITLES)) if rng.random() < 0.5 else ""
        head_h = s.line_h + s.pad if heading else 0
        row_h = s.line_h + s.pad
        rows = min(int(rng.integers(4, 9)), (self.area.h - head_h - 2) // row_h)
        if rows < 3:
            raise TaskGenerationError(f"{self.name}: no room for a list in {self.area}")
        items = self.choice(POOLS[int(rng.integers(len(POOLS)))], int(rng.integers(12, 41)))
        if rng.random() < 0.5:
            items.sort()
        hidden = rng.random() < 0.8
        self.target = items[int(rng.integers(rows if hidden else 0, len(items)))]
        narrow = ListBox.width_for(s, items)
        if narrow > self.area.w:
            raise TaskGenerationError(f"{self.name}: the items do not fit in {self.area}")
        w = min(self.area.w, narrow + int(rng.integers(0, max(self.area.w // 3, 1))))
        w = max(w, text_size(heading, s.bold)[0])
        if w > self.area.w:
            raise TaskGenerationError(f"{self.name}: the heading does not fit in {self.area}")
        h = head_h + rows * row_h + 2
        x = int(rng.integers(self.area.x, self.area.right - w + 1))
        y = int(rng.integers(self.area.y, self.area.bottom - h + 1))
        if heading:
            self.scene.add(Label.at(s, x, y, heading, font="bold"))
        self.list = ListBox.sized(s, x, y + head_h, w, items, rows, on_select=self._on_select)
        if not hidden and rng.random() < 0.5:  # start somewhere in the middle
            self.list.top = int(rng.integers(0, self.list.max_top + 1))
        self.scene.add(self.list)
        self.distractors(int(rng.integers(0, 4)), [Rect(x, y, w, h)])
        phrasing = (
            "Scroll the list to find '{}' and click it.",
            "Find '{}' in the list and click it.",
            'Select "{}" from the list.',
        )
        self.instruction = str(rng.choice(phrasing)).format(self.target)

    def _on_select(self, item: str) -> None:
        if item == self.target:
            self.succeed()
        else:
            self.fail()

    def oracle(self) -> ActionBase:
        box = self.list
        index = box.items.index(self.target)
        row = box.row_rect(index)
        if row is not None:
            return self.click(row)
        below = index - (box.top + box.rows - 1)
        x, y = self.point(*box.rect.center)
        return Scroll(x=x, y=y, dy=max(min(below if below > 0 else index - box.top, 50), -50))
