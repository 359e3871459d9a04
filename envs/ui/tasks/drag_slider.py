"""drag-slider: drag a labelled slider to a value, then submit."""

from __future__ import annotations

from actions.schema import ActionBase, Drag
from envs.errors import TaskGenerationError
from envs.ui.canvas import Rect, text_size
from envs.ui.task import UITask
from envs.ui.widgets.basic import Button, Label, Panel
from envs.ui.widgets.controls import Slider
from envs.ui.words import SLIDER_LABELS

RANGES = ((0, 10, 1), (1, 10, 1), (0, 20, 1), (0, 30, 1), (0, 40, 2), (0, 50, 5), (0, 100, 5))
"""Candidate ``(lo, hi, step)`` ranges; a slider takes one whose steps fit its track."""
MIN_STEP_PX = 5  # pixels per step, so that every value is reachable by a drag


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
        card = s.pad * 2 if rng.random() < 0.4 else 0
        label_w = max(text_size(n, s.font)[0] for n in names) + 2 * s.pad
        beside = rng.random() < 0.5 and label_w < self.area.w // 3
        spare = 2 * max(4, s.line_h // 2) + s.pad + text_size("100", s.font)[0] + 1 + 2 * card
        most = min(self.area.w - spare - (label_w if beside else 0), 40 * s.font_px)
        gap = int(rng.integers(s.line_h // 2, 2 * s.line_h + 1))
        x0 = self.area.x + card + (label_w if beside else 0)
        y, rects = self.area.y + card, []
        self.sliders: list[Slider] = []
        for name in names:
            track_w = int(rng.integers(most // 2, most + 1))
            fits = [r for r in RANGES if track_w * r[2] >= MIN_STEP_PX * (r[1] - r[0])]
            if not fits:
                raise TaskGenerationError(f"{self.name}: no room for a slider in {self.area}")
            lo, hi, step = fits[int(rng.integers(len(fits)))]
            label = Label.at(s, self.area.x + card, y, name)
            if not beside:
                y += s.line_h + 2
            value = lo + step * int(rng.integers(0, (hi - lo) // step + 1))
            slider = Slider.sized(s, x0, y, track_w, lo, hi, step, ticks=bool(rng.random() < 0.5))
            slider.value = value
            if beside:
                label = Label.at(s, label.rect.x, slider.track_y - s.line_h // 2, name)
            rects += [label.rect, slider.rect]
            self.scene.add(label)
            self.sliders.append(self.scene.add(slider))
            y = slider.rect.bottom + gap
        label = str(rng.choice(("Submit", "Apply", "Save", "OK")))
        self.button = Button.sized(s, self.area.x + card, y, label, on_press=self._submit)
        right = max(r.right for r in rects) + card
        if rng.random() < 0.5:  # right-align the button
            self.button.rect = self.button.rect.moved(right - card - self.button.rect.right, 0)
        rects.append(self.button.rect)
        self.scene.add(self.button)
        self._place(Rect(self.area.x, self.area.y, right - self.area.x, y + self.button.rect.h + card - self.area.y), card)
        self.target = self.sliders[0]
        steps = [v for v in range(self.target.lo, self.target.hi + 1, self.target.step)]
        self.goal = int(rng.choice([v for v in steps if v != self.target.value]))
        phrasing = (
            "Set the {} slider to {} and click {}.",
            "Drag the {} slider to {}, then press {}.",
            "Move {} to {} and click {}.",
        )
        self.instruction = str(rng.choice(phrasing)).format(names[0], self.goal, label)

    def _place(self, box: Rect, card: int) -> None:
        """Move the laid-out widgets (``box``, top-left of the area) to a random free spot."""
        if not box.inside(self.area):
            raise TaskGenerationError(f"{self.name}: the sliders do not fit in {self.area}")
        dx = int(self.rng.integers(0, self.area.right - box.right + 1))
        dy = int(self.rng.integers(0, self.area.bottom - box.bottom + 1))
        for w in self.scene.widgets[-len(...) :]:
            pass
