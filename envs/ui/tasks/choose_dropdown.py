"""choose-dropdown: pick the named option from a labelled dropdown list, then submit."""

from __future__ import annotations

from actions.schema import ActionBase
from envs.errors import TaskGenerationError
from envs.ui.canvas import Rect, text_size
from envs.ui.task import UITask
from envs.ui.widgets.basic import Button, Label
from envs.ui.widgets.popups import Dropdown, list_height, row_height
from envs.ui.words import DROPDOWN_FIELDS, DROPDOWN_PLACEHOLDERS, SUBMIT_LABELS

MIN_OPTIONS, MAX_OPTIONS = 4, 10


class ChooseDropdown(UITask):
    """One or two labelled dropdowns (the second a distractor) and a submit button. The episode
    ends when the button is pressed: success if the named field holds the named option."""

    name = "choose-dropdown"
    max_steps = 6  # the oracle needs at most 3 clicks: open, pick, submit
    summary = "Select an option from a dropdown list and submit."

    def build(self) -> None:
        s = self.style
        labels = self.choice(list(DROPDOWN_FIELDS), int(self.rng.integers(1, 3)))
        placeholder = str(self.rng.choice(DROPDOWN_PLACEHOLDERS))
        fields = [self._field(label, placeholder) for label in labels]
        submit_label = str(self.rng.choice(SUBMIT_LABELS))
        submit_size = (text_size(submit_label, s.font)[0] + 4 * s.pad, s.control_h)
        rects = self.scatter([self._group_size(*f) for f in fields] + [submit_size], gap=2 * s.pad)
        for (label, dropdown, beside), rect in zip(fields, rects[:-1], strict=True):
            self._place(label, dropdown, beside, rect)
        self.dropdown = fields[0][1]
        self.target = str(self.rng.choice(self.dropdown.options))
        for _, dropdown, _ in fields:
            self._fit_options(dropdown, keep=self.target if dropdown is self.dropdown else None)
        self._preselect([f[1] for f in fields])
        self.submit = self.scene.add(
            Button(rects[-1], label=submit_label, focusable=True, on_press=self._on_submit)
        )
        self.distractors(int(self.rng.integers(0, 3)), rects)
        phrasing = (
            "Select '{o}' from the {f} list and press {b}.",
            "Choose {o} as the {f}, then click {b}.",
            "Set the {f} field to '{o}' and click '{b}'.",
        )
        self.instruction = str(self.rng.choice(phrasing)).format(
            o=self.target, f=labels[0], b=submit_label
        )

    def _field(self, label: str, placeholder: str) -> tuple[Label, Dropdown, bool]:
        """A caption and a dropdown (both at the origin), and whether the caption sits beside it."""
        s, pool = self.style, DROPDOWN_FIELDS[label]
        options = self.choice(
            pool, int(self.rng.integers(MIN_OPTIONS, min(MAX_OPTIONS, len(pool)) + 1))
        )
        caption = Label.at(s, 0, 0, f"{label}:")
        dropdown = Dropdown.sized(s, 0, 0, options, placeholder=placeholder)
        width = caption.rect.w + s.pad + dropdown.rect.w
        return caption, dropdown, width <= self.area.w and self.rng.random() < 0.6

    def _group_size(self, caption: Label, dropdown: Dropdown, beside: bool) -> tuple[int, int]:
        c, d, p = caption.rect, dropdown.rect, self.style.pad
        return (c.w + p + d.w, d.h) if beside else (max(c.w, d.w), c.h + p + d.h)

    def _place(self, caption: Label, dropdown: Dropdown, beside: bool, at: Rect) -> None:
        c, d, p = caption.rect, dropdown.rect, self.style.pad
        if beside:
            caption.rect = Rect(at.x, at.y + (d.h - c.h) // 2, c.w, c.h)
            dropdown.rect = Rect(at.x + c.w + p, at.y, d.w, d.h)
        else:
            caption.rect = Rect(at.x, at.y, c.w, c.h)
            dropdown.rect = Rect(at.x, at.y + c.h + p, d.w, d.h)
        self.scene.add(caption)
        self.scene.add(dropdown)

    def _fit_options(self, dropdown: Dropdown, keep: str | None) -> None:
        """Drop options (never ``keep``) until the open list fits above or below the box."""
        room = max(self.height - dropdown.rect.bottom, dropdown.rect.y) - list_height(self.style, 0)
        rows = room // row_height(self.style)
        if rows < MIN_OPTIONS:
            raise TaskGenerationError(f"{self.name}: no room for an open list of {MIN_OPTIONS}")
        while len(dropdown.options) > rows:
            dropdown.options.remove(next(o for o in reversed(dropdown.options) if o != keep))

    def _preselect(self, dropdowns: list[Dropdown]) -> None:
        """Start each box empty or on a random option (the target field never on the target)."""
        for dropdown in dropdowns:
            if self.rng.random() < 0.5:
                continue
            choices = [i for i, o in enumerate(dropdown.options) if o != self.target]
            dropdown.selected = int(self.rng.choice(choices))

    def _on_submit(self) -> None:
        if self.dropdown.value == self.target:
            self.succeed()
        else:
            self.fail()

    def oracle(self) -> ActionBase:
        dropdown = self.dropdown
        if (popup := dropdown.open_list(self.scene)) is not None:
            return self.click(popup.row_rect(dropdown.options.index(self.target), self.style))
        if dropdown.value != self.target:
            return self.click(dropdown)
        return self.click(self.submit)
