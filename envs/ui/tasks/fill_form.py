"""fill-form: fill several fields of a form (and tick the agreement), then submit."""

from __future__ import annotations

import numpy as np

from actions.schema import ActionBase
from envs.ui.canvas import text_size
from envs.ui.forms import fill_step, labelled_fields
from envs.ui.task import UITask
from envs.ui.widgets.basic import Button, Checkbox, Panel
from envs.ui.words import CITIES, FIRST_NAMES, LAST_NAMES


def _values(rng: np.random.Generator, first: str, last: str) -> dict[str, str]:
    return {
        "First name": first,
        "Last name": last,
        "Email": f"{first.lower()}.{last.lower()}@mail.com",
        "City": str(rng.choice(CITIES)),
        "Phone": "".join(str(d) for d in rng.integers(0, 10, 7)),
        "Zip": "".join(str(d) for d in rng.integers(0, 10, 5)),
    }


AGREE = "I agree to the terms"


class FillForm(UITask):
    """A form card with three to five labelled fields, sometimes an "I agree" checkbox, and a
    Submit button. Submit ends the episode; it succeeds when every field named in the
    instruction holds its value (and the box is ticked when asked)."""

    name = "fill-form"
    max_steps = 40
    summary = "Fill several fields of a form, then submit."

    def build(self) -> None:
        s, rng = self.style, self.rng
        values = _values(rng, str(rng.choice(FIRST_NAMES)), str(rng.choice(LAST_NAMES)))
        n = int(rng.integers(3, 6 if self.height >= 300 else 4))
        order = rng.permutation(len(values))[:n]
        labels = [list(values)[i] for i in sorted(order)]
        self.agree = bool(rng.random() < 0.4)
        extra = s.control_h + s.pad + (s.line_h + s.pad if self.agree else 0)
        agree_w = text_size(AGREE, s.font)[0] + s.line_h + s.pad if self.agree else 0
        fields, block = labelled_fields(self, labels, extra_h=extra, min_width=agree_w)
        self.scene.widgets.insert(0, Panel(block.inset(-s.pad)))  # the form's card, underneath
        self.wanted = {f: values[lb] for f, lb in zip(fields, labels, strict=True)}
        if rng.random() < 0.3:  # leave one field out of the instruction: it may stay empty
            del self.wanted[fields[int(rng.integers(len(fields)))]]
        for f in fields:
            f.on_submit = self.submit
        y = block.bottom - s.control_h
        self.checkbox = None
        if self.agree:
            y_box = y - s.line_h - s.pad
            self.checkbox = self.scene.add(Checkbox.sized(s, block.x, y_box, AGREE))
        self.button = self.scene.add(Button.sized(s, block.x, y, "Submit", on_press=self.submit))
        parts = ", ".join(
            f'{lb} "{values[lb]}"' for f, lb in zip(fields, labels, strict=True) if f in self.wanted
        )
        tick = ", tick I agree" if self.agree else ""
        templates = (
            "Fill in the form: {p}{a}, then click Submit.",
            "Complete the form with {p}{a} and submit it.",
        )
        self.instruction = str(rng.choice(templates)).format(p=parts, a=tick)

    def submit(self) -> None:
        ok = all(f.value == v for f, v in self.wanted.items())
        if ok and (self.checkbox is None or self.checkbox.checked):
            self.succeed()
        else:
            self.fail()

    def oracle(self) -> ActionBase:
        for field, value in self.wanted.items():
            step = fill_step(self, field, value)
            if step is not None:
                return step
        if self.checkbox is not None and not self.checkbox.checked:
            return self.click(self.checkbox.box_rect)
        return self.click(self.button)
