"""The GUI suite's element listing: every drawn thing with its box, role and text."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import pytest
from gymnasium.error import ResetNeeded

import envs  # noqa: F401  (registers the GUI suite)
from envs.contract import Element
from envs.ui.elements import scene_elements
from envs.ui.widgets.controls import Shape


def test_shapes_are_listed_with_their_kind_and_colour() -> None:
    env = gym.make("agent_sdk/ui-click-shape-v0")
    env.reset(seed=4)
    task = env.unwrapped.task
    listed = {(e.x, e.y, e.w, e.h, e.role, e.text) for e in env.unwrapped.elements()}
    shapes = [w for w in task.scene.widgets if isinstance(w, Shape)]
    assert len(shapes) >= 3
    assert {(s.rect.x, s.rect.y, s.rect.w, s.rect.h, s.kind, s.color) for s in shapes} <= listed
    target = task.shapes[0]  # the one the instruction names
    assert f"{target.color} {target.kind}" in task.instruction


def test_buttons_checkboxes_and_fields_carry_their_text() -> None:
    env = gym.make("agent_sdk/ui-click-checkboxes-v0")
    env.reset(seed=1)
    roles = {e.role for e in env.unwrapped.elements()}
    assert {"button"} <= roles and roles & {"checkbox", "checked box"}
    env.step(env.unwrapped.oracle().to_json())  # ticks one box
    assert "checked box" in {e.role for e in env.unwrapped.elements()}
    env = gym.make("agent_sdk/ui-click-button-v0")
    obs, _ = env.reset(seed=3)
    buttons = [e for e in env.unwrapped.elements() if e.role == "button"]
    named = obs["instruction"].split('"')[1]  # Click the "Archive" button.
    assert named in {b.text for b in buttons}
    height, width = obs["image"].shape[:2]
    for e in env.unwrapped.elements():  # every box lies on the screen
        assert e.x >= 0 and e.x + e.w <= width and 0 <= e.y <= height


def test_open_menus_and_dialogs_are_listed_on_top() -> None:
    env = gym.make("agent_sdk/ui-navigate-menu-v0")
    env.reset(seed=2)
    before = env.unwrapped.elements()
    env.step(env.unwrapped.oracle().to_json())  # opens the first menu
    after = env.unwrapped.elements()
    assert len(after) > len(before)
    assert after[-1].role in ("menu item", "submenu")  # the popup's rows come last
    env = gym.make("agent_sdk/ui-click-dialog-v0")
    env.reset(seed=0)
    roles = [e.role for e in scene_elements(env.unwrapped.task.scene)]
    assert "title" in roles and "close" in roles and "button" in roles


def test_what_a_modal_or_an_open_popup_keeps_from_clicks_is_covered() -> None:
    env = gym.make("agent_sdk/ui-click-dialog-v0")
    env.reset(seed=0)
    scene = env.unwrapped.task.scene
    elements = env.unwrapped.elements()
    modal, scene.modal = scene.modal, None
    below = scene_elements(scene)  # the window under the dialog, listed first
    scene.modal = modal
    assert (
        below and [dataclasses.replace(e, covered=False) for e in elements[: len(below)]] == below
    )
    assert all(e.covered for e in elements[: len(below)])
    assert elements[len(below) :] and not any(e.covered for e in elements[len(below) :])
    assert all(scene.widget_at(*map(int, e.center)) is modal for e in elements[len(below) :])
    env = gym.make("agent_sdk/ui-choose-dropdown-v0")
    env.reset(seed=1)
    env.step(env.unwrapped.oracle().to_json())  # opens the dropdown's option list
    scene = env.unwrapped.task.scene
    assert scene.popups
    elements = env.unwrapped.elements()
    for e in elements:  # the options are the popup; what it is drawn over is covered
        under_popup = any(p.hit(*map(int, e.center)) for p in scene.popups)
        assert e.covered == (under_popup and e.role != "option"), e
    assert any(e.covered for e in elements)


def test_words_are_lower_case_role_and_text() -> None:
    element = Element(0, 0, 4, 4, "list item", "Hana Tanaka 3")
    assert element.words == ["list", "item", "hana", "tanaka"]  # numbers are left out
    assert Element(0, 0, 1, 1, "star", "pink").words == ["star", "pink"]
    assert Element(10, 20, 4, 6, "text").center == (12, 23)


def test_elements_need_a_reset() -> None:
    env = gym.make("agent_sdk/ui-click-button-v0")
    with pytest.raises(ResetNeeded, match="reset"):
        env.unwrapped.elements()
