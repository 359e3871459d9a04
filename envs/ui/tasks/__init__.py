"""The registry of GUI-suite tasks: name -> task class, imported on first use."""

from __future__ import annotations

import difflib
import importlib
from functools import cache

from envs.errors import UnknownTaskError
from envs.ui.task import UITask

_TASKS: dict[str, str] = {
    "click-button": "click_button:ClickButton",
    "click-link": "click_link:ClickLink",
    "click-checkboxes": "click_checkboxes:ClickCheckboxes",
    "enter-text": "enter_text:EnterText",
    "choose-dropdown": "choose_dropdown:ChooseDropdown",
    "navigate-menu": "navigate_menu:NavigateMenu",
    "click-dialog": "click_dialog:ClickDialog",
    "click-tab": "click_tab:ClickTab",
    "drag-slider": "drag_slider:DragSlider",
    "scroll-list": "scroll_list:ScrollList",
    "click-shape": "click_shape:ClickShape",
    "fill-form": "fill_form:FillForm",
}
TASK_NAMES: tuple[str, ...] = tuple(_TASKS)


@cache
def get_task(name: str) -> type[UITask]:
    """The task class registered as ``name``; unknown names suggest the nearest ones."""
    if name not in _TASKS:
        near = difflib.get_close_matches(name, TASK_NAMES, n=3)
        hint = f" Did you mean {', '.join(near)}?" if near else ""
        raise UnknownTaskError(
            f"unknown GUI task {name!r}.{hint} Known tasks: {', '.join(TASK_NAMES)}"
        )
    module, cls = _TASKS[name].split(":")
    task = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
    assert task.name == name, f"{cls}.name is {task.name!r}, registered as {name!r}"
    return task
