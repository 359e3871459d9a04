"""Scene routing and the basic widgets, driven directly."""

from __future__ import annotations

import numpy as np

from envs.ui.canvas import Rect
from envs.ui.scene import Scene
from envs.ui.style import sample_style
from envs.ui.widgets.basic import Button, Checkbox, Label, TextField


def make_scene() -> Scene:
    style = sample_style(np.random.default_rng(0), 320, 240, theme="light")
    return Scene(320, 240, style)


def test_click_reaches_the_topmost_widget_and_labels_pass_clicks_through() -> None:
    scene = make_scene()
    pressed = []
    btn = scene.add(Button(Rect(10, 10, 60, 20), label="OK", on_press=lambda: pressed.append(1)))
    scene.add(Label(Rect(10, 10, 60, 20), text="over"))
    assert scene.click(30, 20) is btn and pressed == [1]
    assert scene.click(200, 200) is None and pressed == [1]


def test_checkbox_toggles_and_redraws() -> None:
    scene = make_scene()
    box = scene.add(Checkbox(Rect(10, 10, 80, 14), label="apple", focusable=True))
    before = scene.render()
    scene.click(*box.rect.center)
    assert box.checked
    assert not np.array_equal(before, scene.render())
    scene.click(*box.rect.center)
    assert not box.checked


def test_text_field_focus_typing_select_all_and_enter() -> None:
    scene = make_scene()
    submitted = []
    field = scene.add(TextField(Rect(10, 10, 120, 20), on_submit=lambda: submitted.append(1)))
    assert scene.type_text("lost") is None and field.value == ""  # not focused yet
    scene.click(*field.rect.center)
    assert scene.focus is field
    scene.type_text("hello")
    scene.key("backspace")
    assert field.value == "hell"
    scene.hotkey(("ctrl", "a"))
    scene.type_text("new")
    assert field.value == "new"
    scene.key("enter")
    assert submitted == [1]
    scene.click(300, 230)  # clicking empty space drops focus
    assert scene.focus is None


def test_tab_cycles_focus_through_focusable_widgets() -> None:
    scene = make_scene()
    a = scene.add(TextField(Rect(10, 10, 100, 20)))
    scene.add(Label(Rect(10, 40, 50, 12), text="x"))
    b = scene.add(Button(Rect(10, 60, 50, 20), label="Go", focusable=True))
    scene.key("tab")
    assert scene.focus is a
    scene.key("tab")
    assert scene.focus is b
    scene.key("tab")
    assert scene.focus is a


def test_render_is_cached_until_input_reaches_a_widget() -> None:
    scene = make_scene()
    scene.add(Button(Rect(10, 10, 60, 20), label="OK"))
    first = scene.render()
    frame = scene._frame
    scene.click(300, 230)  # misses everything
    assert scene._frame is frame
    assert not np.shares_memory(first, scene.render())  # callers get a copy
