"""What is on a GUI-suite screen, element by element (`envs.contract.Element`).

The scene knows every widget it drew; `scene_elements` lists them as elements (a
button's box and label, a shape's colour and kind, each visible row of a list or menu, each
word run of a paragraph). Training uses them as dense labels of the screen (what lies under
each image token), tests and tools as ground truth; the agent never sees them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from envs.contract import Element
from envs.ui.canvas import Rect, text_size
from envs.ui.scene import Scene, Widget
from envs.ui.style import Style
from envs.ui.widgets.basic import Button, Checkbox, Label, Panel, TextField
from envs.ui.widgets.controls import ListBox, Paragraph, Shape, Slider
from envs.ui.widgets.popups import Dialog, Dropdown, MenuBar, MenuPopup, OptionList
from envs.ui.widgets.tabs import TabBar


def scene_elements(scene: Scene) -> list[Element]:
    """The visible elements of ``scene``, bottom to top (widgets, the modal, open popups);
    ``covered`` where a click at the centre would not reach the element: everything under an
    open modal dialog, and whatever an open popup above is drawn over."""
    layers = [*scene.widgets, *([scene.modal] if scene.modal else []), *scene.popups]
    popups = [id(p) for p in scene.popups]  # by identity: widgets compare by value
    seen: set[int] = set()
    out: list[Element] = []
    for widget in layers:
        if not widget.visible or id(widget) in seen:
            continue
        seen.add(id(widget))
        popup = id(widget) in popups
        above = scene.popups[popups.index(id(widget)) + 1 :] if popup else scene.popups
        under_modal = scene.modal is not None and widget is not scene.modal and not popup
        for element in _describe(widget, scene.style):
            cx, cy = map(int, element.center)
            if under_modal or any(p.hit(cx, cy) for p in above):
                element = dataclasses.replace(element, covered=True)
            out.append(element)
    return out


def _describe(w: Widget, style: Style) -> Iterator[Element]:
    for rect, role, text in _boxes(w, style):
        yield Element(rect.x, rect.y, rect.w, rect.h, role, text)


def _boxes(w: Widget, style: Style) -> Iterator[tuple[Rect, str, str]]:
    """``w``'s parts as (box, role, text); widgets that show nothing nameable give none."""
    if isinstance(w, Shape):
        yield (w.rect, w.kind, w.color)
    elif isinstance(w, Button):
        yield (w.rect, "button", w.label)
    elif isinstance(w, Checkbox):
        yield (w.rect, "checked box" if w.checked else "checkbox", w.label)
    elif isinstance(w, TextField):
        yield (w.rect, "field", w.value or w.placeholder)
    elif isinstance(w, Label):
        yield (w.rect, "text", w.text)
    elif isinstance(w, Panel):
        if w.title:
            strip = Rect(w.rect.x + 1, w.rect.y + 1, w.rect.w - 2, style.control_h)
            yield (strip, "title", w.title)
    elif isinstance(w, Paragraph):
        for frag in w.fragments:
            width, height = text_size(frag.text, style.font)
            yield Rect(frag.x, frag.y, width, height), "link" if frag.link else "text", frag.text
    elif isinstance(w, Slider):
        yield (w.rect, "slider", "")
    elif isinstance(w, ListBox):
        for i in w.shown:
            row = w.row_rect(i)
            if row is not None:
                yield (row, "list item", w.items[i])
    elif isinstance(w, Dropdown):
        shown = w.options[w.selected] if w.selected is not None else w.placeholder
        yield (w.rect, "dropdown", shown)
    elif isinstance(w, OptionList):
        for i, option in enumerate(w.owner.options):
            yield (w.row_rect(i, style), "option", option)
    elif isinstance(w, MenuBar):
        for menu, title in zip(w.menus, w.titles, strict=True):
            yield (title, "menu", menu.label)
    elif isinstance(w, MenuPopup):
        for i, item in enumerate(w.items):
            role = "submenu" if item.items else "menu item"
            yield w.row_rect(i, style), role, item.label
    elif isinstance(w, TabBar):
        for i, (label, tab) in enumerate(zip(w.labels, w.tabs, strict=True)):
            yield (tab, "active tab" if i == w.active else "tab", label)
    elif isinstance(w, Dialog):
        yield (w.title_bar(style), "title", w.title)
        yield (w.close_box(style), "close", "")
        top = w.title_bar(style).bottom + 2 * style.pad  # as Dialog.draw lays the lines out
        for i, line in enumerate(w.lines):
            box = Rect(w.rect.x + 2 * style.pad, top + i * style.line_h,
                       text_size(line, style.font)[0], style.line_h)  # fmt: skip
            yield box, "text", line
        for button in w.buttons:
            yield from _boxes(button, style)
