"""click-dialog: answer a modal dialog with the control the instruction asks for."""

from __future__ import annotations

from actions.schema import ActionBase
from envs.errors import TaskGenerationError
from envs.ui.canvas import Rect, text_size
from envs.ui.task import UITask
from envs.ui.widgets.basic import Button, Panel
from envs.ui.widgets.popups import Dialog
from envs.ui.words import BUTTON_LABELS, DIALOGS, WORDS

CLOSE = (
    "Close the dialog.",
    "Close the '{t}' dialog with its x button.",
    "Click the x of the dialog.",
)
CONFIRM = ("Confirm the dialog.", "Click {b} in the dialog.", "Answer the '{t}' dialog with {b}.")
CANCEL = ("Cancel the dialog.", "Click {b} in the dialog.", "Answer the '{t}' dialog with {b}.")
OTHER = ("Click {b} in the dialog.", "Answer the '{t}' dialog with {b}.")


class ClickDialog(UITask):
    """An app window (inert content) under a modal dialog with 1-3 buttons and a close box. The
    episode ends when the dialog is answered (a button, the close box, Escape or Enter): success
    only for the control the instruction asks for (close: the x; confirm: the first button;
    cancel: the last of two or more; or a button by name)."""

    name = "click-dialog"
    max_steps = 4  # the oracle needs one click
    summary = "Close, confirm or cancel a modal dialog."

    def build(self) -> None:
        s, area = self.style, self.area
        fitting = [d for d in DIALOGS if Dialog.min_width(s, list(d[2])) <= area.w]
        if not fitting:
            raise TaskGenerationError(f"{self.name}: no dialog's buttons fit {area.w} px")
        title, message, labels = fitting[int(self.rng.integers(len(fitting)))]
        message = message.format(str(self.rng.choice(WORDS)))
        self._background(list(labels))
        dialog = self._dialog(title, message, list(labels))
        target = int(self.rng.integers(-1, len(labels)))  # -1: the close box
        if target == -1:
            self.target, phrasing = dialog.close_box(s), CLOSE
        else:
            self.target = dialog.buttons[target].rect
            last = len(labels) > 1 and target == len(labels) - 1
            phrasing = CONFIRM if target == 0 else CANCEL if last else OTHER
        dialog.on_close = self.succeed if target == -1 else self.fail
        for i, button in enumerate(dialog.buttons):
            button.on_press = self.succeed if i == target else self.fail
        dialog.show(self.scene)
        label = labels[target] if target >= 0 else ""
        self.instruction = str(self.rng.choice(phrasing)).format(t=title, b=label)

    def _background(self, avoid_labels: list[str]) -> None:
        """A panel with a few buttons and texts that the dialog covers (and blocks)."""
        s = self.style
        self.scene.add(Panel(self.area))
        labels = self.choice([b for b in BUTTON_LABELS if b not in avoid_labels], 3)
        labels = labels[: int(self.rng.integers(1, 4))]
        sizes = [(text_size(lb, s.font)[0] + 4 * s.pad, s.control_h) for lb in labels]
        rects = self.scatter(sizes, area=self.area.inset(s.pad), gap=s.pad)
        for label, rect in zip(labels, rects, strict=True):
            self.scene.add(Button(rect, label=label, primary=bool(self.rng.random() < 0.5)))
        self.distractors(int(self.rng.integers(1, 4)), rects)

    def _dialog(self, title: str, message: str, labels: list[str]) -> Dialog:
        """The dialog, at a random width and place inside the window."""
        s, area = self.style, self.area
        need = text_size(title, s.bold)[0] + s.control_h + 4 * s.pad
        lo = min(max(Dialog.min_width(s, labels), need, min(area.w // 2, 18 * s.font_px)), area.w)
        width = int(self.rng.integers(lo, max(lo, min(area.w * 9 // 10, 30 * s.font_px)) + 1))
        height = Dialog.height(s, width, message)
        if height > area.h:
            raise TaskGenerationError(f"{self.name}: a {width}x{height} dialog does not fit {area}")
        x = int(self.rng.integers(area.x, area.right - width + 1))
        y = int(self.rng.integers(area.y, area.bottom - height + 1))
        return Dialog.sized(s, Rect(x, y, width, height), title, message, labels)

    def oracle(self) -> ActionBase:
        return self.click(self.target)
