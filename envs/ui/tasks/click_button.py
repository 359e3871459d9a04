"""click-button: click the button with a given label among several."""

from __future__ import annotations

from actions.schema import ActionBase
from envs.ui.canvas import text_size
from envs.ui.task import UITask
from envs.ui.widgets.basic import Button
from envs.ui.words import BUTTON_LABELS


class ClickButton(UITask):
    """Buttons with distinct labels scattered over the window; clicking any button ends the
    episode, with success only for the named one."""

    name = "click-button"
    max_steps = 3
    summary = "Click the button with the given label."

    def build(self) -> None:
        s = self.style
        n = int(self.rng.integers(2, 7))
        labels = self.choice(BUTTON_LABELS, n)
        sizes = [(text_size(lb, s.font)[0] + 4 * s.pad, s.control_h) for lb in labels]
        rects = self.scatter(sizes, gap=s.pad)
        self.buttons = []
        for i, (label, rect) in enumerate(zip(labels, rects, strict=True)):
            btn = Button(rect, label=label, primary=bool(self.rng.random() < 0.6), focusable=True)
            btn.on_press = self.succeed if i == 0 else self.fail
            self.buttons.append(self.scene.add(btn))
        self.target = self.buttons[0]
        self.distractors(int(self.rng.integers(0, 3)), rects)
        phrasing = ('Click the "{}" button.', 'Press "{}".', 'Click on the button labelled "{}".')
        self.instruction = str(self.rng.choice(phrasing)).format(labels[0])

    def oracle(self) -> ActionBase:
        return self.click(self.target)
