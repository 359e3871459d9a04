"""click-checkboxes: tick exactly the named checkboxes, then submit."""

from __future__ import annotations

from actions.schema import ActionBase
from envs.ui.canvas import text_size
from envs.ui.forms import place_block
from envs.ui.task import UITask
from envs.ui.widgets.basic import Button, Checkbox
from envs.ui.words import WORDS


class ClickCheckboxes(UITask):
    """Three to eight checkboxes in one or two columns, some ticked at the start, and a Submit
    button. Submit ends the episode; it succeeds when exactly the named boxes are ticked."""

    name = "click-checkboxes"
    max_steps = 16
    summary = "Tick exactly the checkboxes named in the instruction, then submit."

    def build(self) -> None:
        s, rng = self.style, self.rng
        n = int(rng.integers(3, 9))
        labels = self.choice(WORDS, n)
        k = int(rng.integers(0, min(n, 4) + 1))
        self.wanted = set(labels[:k])
        order = [labels[i] for i in rng.permutation(n)]
        row_h = s.line_h + s.pad + int(rng.integers(0, s.pad + 1))
        cols = 2 if n * row_h + s.control_h > self.area.h * 0.8 else 1
        col_w = max(text_size(lb, s.font)[0] for lb in labels) + s.line_h + 3 * s.pad
        rows = -(-n // cols)
        block = place_block(self, max(cols * col_w, 60), rows * row_h + s.pad + s.control_h)
        self.boxes: list[Checkbox] = []
        for i, label in enumerate(order):
            x, y = block.x + (i // rows) * col_w, block.y + (i % rows) * row_h
            box = Checkbox.sized(s, x, y, label, checked=bool(rng.random() < 0.3))
            self.boxes.append(self.scene.add(box))  # type: ignore[arg-type]
        self.button = Button.sized(
            s, block.x, block.bottom - s.control_h, "Submit", on_press=self.submit
        )
        self.scene.add(self.button)
        if k == 0:
            self.instruction = "Untick every checkbox, then click Submit."
        else:
            names = ", ".join(f'"{w}"' for w in labels[:k])
            templates = (
                "Select {n} and nothing else, then click Submit.",
                "Tick only {n} and press Submit.",
                "Check exactly these boxes: {n}. Then submit.",
            )
            self.instruction = str(rng.choice(templates)).format(n=names)
        self.distractors(int(rng.integers(0, 3)), [block])

    def submit(self) -> None:
        if {b.label for b in self.boxes if b.checked} == self.wanted:
            self.succeed()
        else:
            self.fail()

    def oracle(self) -> ActionBase:
        for box in self.boxes:
            if box.checked != (box.label in self.wanted):
                return self.click(box.box_rect)
        return self.click(self.button)
