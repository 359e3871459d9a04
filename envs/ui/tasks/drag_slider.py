"""drag-slider: drag a labelled slider to a value, then submit."""

from __future__ import annotations

from typing import NamedTuple

from actions.schema import ActionBase, Drag
from envs.errors import TaskGenerationError
from envs.ui.canvas import Rect, text_size
from envs.ui.scene import Widget
from envs.ui.task import UITask
from envs.ui.widgets.basic import Button, Label, Panel
from envs.ui.widgets.controls import Slider
from envs.ui.words import SLIDER_LABELS

RANGES = ((0, 10, 1), (1, 10, 1), (0, 20, 1), (0, 30, 1), (0, 40, 2), (0, 50, 5), (0, 100, 5))
"""Candidate ``(lo, hi, step)`` ranges; a slider takes one whose steps fit its track."""
MIN_STEP_PX = 5  # pixels per step, so that every value is reachable by a drag
MIN_TRACK = 10 * MIN_STEP_PX  # the shortest track: room for 0-10


class Row(NamedTuple):
    """What one labelled slider shows."""

    name: str
    track_w: int
    lo: int
    hi: int
    step: int
    value: int
    ticks: bool


class DragSlider(UITask):
    """One or two labelled sliders (the named one and a distractor) above a submit button.
    Pressing the button ends the episode: success if the named slider holds the asked value,
    failure otherwise. Only a drag that starts on a thumb moves it."""

    name = "drag-slider"
    max_steps = 5
    summary = "Drag the named slider to a value, then press the submit button."

    def build(self) -> None:
        s, rng = self.style, self.rng
        names = self.choice(SLIDER_LABELS, 2 if rng.random() < 0.4 else 1)
        self.card = s.pad * 2 if rng.random() < 0.4 else 0
        label_w = max(text_size(n, s.font)[0] for n in names) + 2 * s.pad
        self.gap = int(rng.integers(s.line_h // 2, 2 * s.line_h + 1))
        self.submit = str(rng.choice(("Submit", "Apply", "Save", "OK")))
        self.right_button = bool(rng.random() < 0.5)
        spare = 2 * max(4, s.line_h // 2) + s.pad + text_size("100", s.font)[0] + 1
        room = self.area.w - spare - 2 * self.card
        beside = rng.random() < 0.5 and room - label_w >= 2 * MIN_TRACK  # labels left of sliders
        self.label_w = label_w if beside else 0
        most = min(room - self.label_w, 40 * s.font_px)
        if most < MIN_TRACK:
            raise TaskGenerationError(f"{self.name}: no room for a slider in {self.area}")
        track_w = int(rng.integers(max(most // 2, MIN_TRACK), most + 1))
        self.rows = [self._row(name, track_w) for name in names]
        box, _ = self._column(0, 0)
        if box.w > self.area.w or box.h > self.area.h:
            raise TaskGenerationError(f"{self.name}: the sliders do not fit in {self.area}")
        x = int(rng.integers(self.area.x, self.area.right - box.w + 1))
        y = int(rng.integers(self.area.y, self.area.bottom - box.h + 1))
        box, widgets = self._column(x, y)
        for widget in [Panel(box), *widgets] if self.card else widgets:
            self.scene.add(widget)
        self.distractors(int(rng.integers(0, 4)), [box])
        target = self.rows[0]
        values = range(target.lo, target.hi + 1, target.step)
        self.goal = int(rng.choice([v for v in values if v != target.value]))
        phrasing = (
            "Set the {} slider to {} and click {}.",
            "Drag the {} slider to {}, then press {}.",
            "Move {} to {} and click {}.",
        )
        self.instruction = str(rng.choice(phrasing)).format(target.name, self.goal, self.submit)

    def _row(self, name: str, track_w: int) -> Row:
        """A slider of a random range that suits ``track_w``, at a random value."""
        fits = [r for r in RANGES if track_w * r[2] >= MIN_STEP_PX * (r[1] - r[0])]
        lo, hi, step = fits[int(self.rng.integers(len(fits)))]
        value = lo + step * int(self.rng.integers(0, (hi - lo) // step + 1))
        return Row(name, track_w, lo, hi, step, value, bool(self.rng.random() < 0.5))

    def _column(self, x: int, y: int) -> tuple[Rect, list[Widget]]:
        """The labels, sliders and button laid out from ``(x, y)``, and the box around them
        (the sliders and the button are kept for the oracle)."""
        s, pad = self.style, self.card
        out: list[Widget] = []
        self.sliders: list[Slider] = []
        top = y + pad
        for row in self.rows:
            label_y = top
            if not self.label_w:
                top += s.line_h + 2
            sx, kw = x + pad + self.label_w, {"ticks": row.ticks, "value": row.value}
            slider = Slider.sized(s, sx, top, row.track_w, row.lo, row.hi, row.step, **kw)
            if self.label_w:
                label_y = slider.track_y - s.line_h // 2
            out += [Label.at(s, x + pad, label_y, row.name), slider]
            self.sliders.append(slider)
            top = slider.rect.bottom + self.gap
        self.button = Button.sized(s, x + pad, top, self.submit, on_press=self._on_submit)
        right = max(w.rect.right for w in out)
        if self.right_button and self.button.rect.right < right:
            self.button.rect = self.button.rect.moved(right - self.button.rect.right, 0)
        out.append(self.button)
        right = max(right, self.button.rect.right)
        return Rect(x, y, right + pad - x, self.button.rect.bottom + pad - y), out

    def _on_submit(self) -> None:
        if self.sliders[0].value == self.goal:
            self.succeed()
        else:
            self.fail()

    def oracle(self) -> ActionBase:
        slider = self.sliders[0]
        if slider.value == self.goal:
            return self.click(self.button)
        x, y = self.point(*slider.thumb.center)
        to_x, to_y = self.point(slider.x_of(self.goal), slider.track_y)
        return Drag(x=x, y=y, to_x=to_x, to_y=to_y)
