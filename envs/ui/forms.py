"""Layout and expert helpers shared by the form tasks (enter-text, fill-form, click-checkboxes)."""

from __future__ import annotations

from actions.schema import ActionBase, Hotkey, TypeText
from envs.errors import TaskGenerationError
from envs.ui.canvas import Rect, text_size
from envs.ui.task import UITask
from envs.ui.widgets.basic import Label, TextField


def place_block(task: UITask, w: int, h: int) -> Rect:
    """A random spot for a ``w`` x ``h`` block inside the task's area."""
    if w > task.area.w or h > task.area.h:
        raise TaskGenerationError(f"{task.name}: a {w}x{h} block does not fit in {task.area}")
    return task.scatter([(w, h)])[0]


def labelled_fields(
    task: UITask, labels: list[str], extra_h: int = 0, min_width: int = 0
) -> tuple[list[TextField], Rect]:
    """A column of labelled text fields (labels beside or above, at random), placed at random.

    ``extra_h`` and ``min_width`` reserve room below the fields (for a checkbox or a button);
    returns the fields and the block's box.
    """
    s, rng = task.style, task.rng
    label_w = max(text_size(lb, s.font)[0] for lb in labels)
    field_w = int(min(task.area.w * rng.uniform(0.45, 0.75), s.font_px * rng.uniform(12, 18)))
    beside = label_w + s.pad + field_w <= task.area.w and rng.random() < 0.6
    gap = s.pad + int(rng.integers(1, s.pad + 2))
    row_h = s.control_h if beside else s.line_h + 2 + s.control_h
    width = max(label_w + s.pad * 2 + field_w if beside else max(label_w, field_w), min_width)
    block = place_block(task, width, len(labels) * (row_h + gap) + extra_h)
    fields = []
    for i, label in enumerate(labels):
        y = block.y + i * (row_h + gap)
        if beside:
            task.scene.add(Label.at(s, block.x, y + s.pad, label))
            rect = Rect(block.x + label_w + 2 * s.pad, y, field_w, s.control_h)
        else:
            task.scene.add(Label.at(s, block.x, y, label))
            rect = Rect(block.x, y + s.line_h + 2, field_w, s.control_h)
        fields.append(task.scene.add(TextField(rect)))
    return fields, block  # type: ignore[return-value]


def fill_step(task: UITask, field: TextField, text: str) -> ActionBase | None:
    """The expert's next action to make ``field`` hold ``text`` (None when it already does)."""
    if field.value == text:
        return None
    if task.scene.focus is not field:
        return task.click(field)
    if field.value and not field.all_selected:
        return Hotkey(keys=("ctrl", "a"))
    return TypeText(text=text)
