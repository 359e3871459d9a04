"""Dropdowns, menus, dialogs and tabs, driven through a Scene as the env drives them."""

from __future__ import annotations

import numpy as np
import pytest

from envs.ui.canvas import Rect
from envs.ui.scene import Scene
from envs.ui.style import Style, sample_style
from envs.ui.widgets.basic import Button
from envs.ui.widgets.popups import Dialog, Dropdown, MenuBar, MenuItem, MenuPopup, list_height
from envs.ui.widgets.tabs import TabBar

W, H = 320, 240


@pytest.fixture
def style() -> Style:
    return sample_style(np.random.default_rng(0), W, H, "light")


@pytest.fixture
def scene(style: Style) -> Scene:
    return Scene(W, H, style)


def press_counter(scene: Scene, style: Style, x: int, y: int) -> Button:
    return scene.add(Button.sized(style, x, y, "Other"))


# -- dropdown ------------------------------------------------------------------------------------
def test_dropdown_opens_below_selects_and_closes(scene: Scene, style: Style) -> None:
    changes: list[str | None] = []
    dd = scene.add(Dropdown.sized(style, 10, 10, ["Lima", "Oslo", "Riga", "Bern"]))
    dd.on_change = lambda: changes.append(dd.value)
    assert dd.value is None and dd.open_list(scene) is None
    scene.click(*dd.rect.center)
    popup = dd.open_list(scene)
    assert popup is not None and popup.rect.y == dd.rect.bottom
    assert popup.rect.h == list_height(style, 4)
    scene.click(*popup.row_rect(2, style).center)
    assert dd.value == "Riga" and changes == ["Riga"]
    assert dd.open_list(scene) is None and not scene.popups
    frame = scene.render()
    assert frame.shape == (H, W, 3)


def test_dropdown_opens_above_without_room_below(scene: Scene, style: Style) -> None:
    dd = scene.add(Dropdown.sized(style, 10, H - style.control_h - 2, ["a", "b", "c", "d", "e"]))
    scene.click(*dd.rect.center)
    popup = dd.open_list(scene)
    assert popup is not None and popup.rect.bottom == dd.rect.y


def test_dropdown_click_elsewhere_closes_and_is_consumed(scene: Scene, style: Style) -> None:
    other = press_counter(scene, style, 200, 200)
    dd = scene.add(Dropdown.sized(style, 10, 10, ["Lima", "Oslo", "Riga", "Bern"], selected=1))
    scene.click(*dd.rect.center)
    scene.click(*other.rect.center)
    assert other.pressed == 0 and not scene.popups and dd.value == "Oslo"
    scene.click(*other.rect.center)
    assert other.pressed == 1


def test_dropdown_escape_closes_and_keys_change_selection(scene: Scene, style: Style) -> None:
    dd = scene.add(Dropdown.sized(style, 10, 10, ["Lima", "Oslo", "Riga"]))
    scene.click(*dd.rect.center)
    scene.key("escape")
    assert dd.open_list(scene) is None and dd.value is None
    assert scene.focus is dd
    scene.key("down")
    scene.key("down")
    assert dd.value == "Oslo"
    scene.key("enter")
    assert dd.open_list(scene) is not None


# -- menus ---------------------------------------------------------------------------------------
def menu_bar(style: Style, chosen: list[str], x: int = 0) -> MenuBar:
    def leaf(label: str) -> MenuItem:
        return MenuItem(label, action=lambda: chosen.append(label))

    export = MenuItem("Export", items=[leaf("PDF"), leaf("PNG"), leaf("HTML")])
    menus = [
        MenuItem("File", items=[leaf("New"), export, leaf("Quit")]),
        MenuItem("Edit", items=[leaf("Copy"), leaf("Paste")]),
    ]
    return MenuBar.sized(style, x, 0, W - x, menus)


def open_menus(scene: Scene) -> list[MenuPopup]:
    return [p for p in scene.popups if isinstance(p, MenuPopup)]


def test_menu_two_levels_run_the_leaf_and_close(scene: Scene, style: Style) -> None:
    chosen: list[str] = []
    bar = scene.add(menu_bar(style, chosen))
    scene.click(*bar.titles[0].center)
    (file_menu,) = open_menus(scene)
    assert file_menu.rect.y == bar.rect.bottom - 1
    scene.click(*file_menu.row_rect(1, style).center)  # Export >
    _, export = open_menus(scene)
    assert export.level == 1 and export.rect.x >= file_menu.rect.right - 1
    assert file_menu.expanded == 1 and not chosen
    scene.click(*export.row_rect(0, style).center)
    assert chosen == ["PDF"] and not scene.popups


def test_menu_one_level_leaf_and_switching_submenus(scene: Scene, style: Style) -> None:
    chosen: list[str] = []
    bar = scene.add(menu_bar(style, chosen))
    scene.click(*bar.titles[0].center)
    (file_menu,) = open_menus(scene)
    scene.click(*file_menu.row_rect(1, style).center)
    scene.click(*file_menu.row_rect(1, style).center)  # again: still exactly one submenu
    assert len(open_menus(scene)) == 2
    scene.click(*file_menu.row_rect(2, style).center)
    assert chosen == ["Quit"] and not scene.popups


def test_menu_dismissal_by_click_elsewhere_and_escape(scene: Scene, style: Style) -> None:
    chosen: list[str] = []
    other = press_counter(scene, style, 200, 200)
    bar = scene.add(menu_bar(style, chosen))
    scene.click(*bar.titles[1].center)
    assert len(open_menus(scene)) == 1
    scene.click(*other.rect.center)
    assert not scene.popups and other.pressed == 0
    scene.click(*bar.titles[0].center)
    scene.key("escape")
    assert not scene.popups and not chosen


def test_submenu_opens_left_without_room_on_the_right(scene: Scene, style: Style) -> None:
    bar = scene.add(menu_bar(style, [], x=W - 60))
    scene.click(*bar.titles[0].center)
    (file_menu,) = open_menus(scene)
    scene.click(*file_menu.row_rect(1, style).center)
    _, export = open_menus(scene)
    assert export.rect.right <= file_menu.rect.x + 1
    assert export.rect.inside(scene.bounds) and file_menu.rect.inside(scene.bounds)


# -- dialog --------------------------------------------------------------------------------------
def dialog(style: Style) -> Dialog:
    rect = Rect(40, 50, 220, Dialog.height(style, 220, "Save changes to the file before closing?"))
    return Dialog.sized(
        style, rect, "Unsaved", "Save changes to the file before closing?", ["Save", "Cancel"]
    )


def test_modal_blocks_clicks_outside(scene: Scene, style: Style) -> None:
    other = press_counter(scene, style, 2, 2)
    dlg = dialog(style)
    dlg.show(scene)
    assert scene.modal is dlg and scene.backdrop
    assert scene.click(*other.rect.center) is None and other.pressed == 0
    assert scene.modal is dlg
    assert dlg.lines and all(line for line in dlg.lines)
    scene.render()


@pytest.mark.parametrize("control", ["Save", "Cancel", "x", "escape", "enter"])
def test_dialog_controls_run_their_callback_and_dismiss(
    scene: Scene, style: Style, control: str
) -> None:
    log: list[str] = []
    dlg = dialog(style)
    dlg.on_close = lambda: log.append("x")
    for b in dlg.buttons:
        b.on_press = lambda label=b.label: log.append(label)
    dlg.show(scene)
    if control in ("escape", "enter"):
        scene.key(control)
    elif control == "x":
        scene.click(*dlg.close_box(style).center)
    else:
        scene.click(*next(b for b in dlg.buttons if b.label == control).rect.center)
    expected = {"escape": "x", "enter": "Save"}.get(control, control)
    assert log == [expected] and scene.modal is None and not scene.backdrop


def test_dialog_buttons_fit_inside_and_do_not_overlap(style: Style) -> None:
    dlg = dialog(style)
    rects = [b.rect for b in dlg.buttons]
    assert all(r.inside(dlg.rect) for r in [*rects, dlg.close_box(style)])
    assert not rects[0].intersects(rects[1])


# -- tabs ----------------------------------------------------------------------------------------
def test_tab_click_switches_and_toggles_visibility(scene: Scene, style: Style) -> None:
    pages = [scene.add(Button.sized(style, 20, 80, label)) for label in ("Pay", "Save", "Send")]
    for i, page in enumerate(pages):
        page.visible = i == 0

    def show(tab: int) -> None:
        for i, page in enumerate(pages):
            page.visible = i == tab

    bar = scene.add(
        TabBar.sized(style, 10, 40, 300, ["General", "Billing", "Privacy"], on_change=show)
    )
    spot = pages[1].rect.center  # the pages overlap: only the visible one takes the click
    assert scene.click(*spot) is pages[0]
    scene.click(*bar.tabs[1].center)
    assert bar.active == 1 and [p.visible for p in pages] == [False, True, False]
    assert scene.click(*spot) is pages[1]
    assert [p.pressed for p in pages] == [1, 1, 0]
    scene.click(*bar.tabs[1].center)  # the active tab again: no change
    assert bar.active == 1
    assert all(t.inside(bar.rect) for t in bar.tabs)
