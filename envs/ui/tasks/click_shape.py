"""click-shape: click the shape of a given colour and kind among others."""

from __future__ import annotations

import math

from actions.schema import ActionBase
from envs.ui.task import UITask
from envs.ui.widgets.controls import SHAPE_KINDS, Shape

BASE_COLORS = ("red", "green", "blue", "yellow", "orange", "purple", "pink", "brown")
"""Fill colours for every theme; black joins them on light themes and white on dark ones."""


class ClickShape(UITask):
    """3-9 coloured shapes scattered over the window, exactly one of the named colour and kind.
    Clicking a shape ends the episode: success for the named one, failure for any other."""

    name = "click-shape"
    max_steps = 4
    summary = "Click the shape with the given colour and kind."

    def build(self) -> None:
        s, rng = self.style, self.rng
        colors = [*BASE_COLORS, "black" if s.theme == "light" else "white"]
        n = int(rng.integers(3, 10 if self.area.w * self.area.h >= 40_000 else 7))
        combos = [(c, k) for c in colors for k in SHAPE_KINDS]
        picked = [combos[int(i)] for i in rng.choice(len(combos), size=n, replace=False)]
        target = picked[0]
        alike = [c for c in combos if (c[0] == target[0]) != (c[1] == target[1])]
        for i in range(1, n):  # look-alikes: many others share the colour or the kind
            if rng.random() < 0.5:
                picked[i] = alike[int(rng.integers(len(alike)))]
        side = min(math.sqrt(self.area.w * self.area.h / (n * 5)), 5.0 * s.line_h)
        sizes = [max(int(side * rng.uniform(0.7, 1.0)), 2 * s.line_h) for _ in range(n)]
        rects = self.scatter([(d, d) for d in sizes], gap=s.pad + 2)
        self.shapes = [
            Shape(r, kind=kind, color=color, on_press=self.fail)
            for (color, kind), r in zip(picked, rects, strict=True)
        ]
        self.shapes[0].on_press = self.succeed
        for shape in self.shapes:
            self.scene.add(shape)
        self.distractors(int(rng.integers(0, 3)), rects)
        phrasing = ("Click the {} {}.", "Find the {} {} and click it.", "Select the {} {}.")
        self.instruction = str(rng.choice(phrasing)).format(*target)

    def oracle(self) -> ActionBase:
        return self.click(self.shapes[0])
