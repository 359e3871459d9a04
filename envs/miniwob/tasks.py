"""The MiniWoB++ tasks the SDK supports: step budgets and DOM-reading oracles.

Each oracle maps a :class:`~envs.miniwob.page.Page` (the DOM after the last step, the utterance's
fields, the actions sent so far) to the expert's next SDK action. They read the true state, so
they recover from most wrong steps of a learner (DAgger-style relabelling).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from actions.schema import ActionBase, Hotkey, Key, TypeText
from envs.errors import UnknownTaskError
from envs.miniwob.page import DomElement, Page, click

Oracle = Callable[[Page], ActionBase]
SELECT_ALL = Hotkey(keys=("ctrl", "a"))


@dataclass(frozen=True)
class MiniWoBTask:
    """A supported MiniWoB++ task (``name`` is its HTML file's name)."""

    name: str
    max_steps: int  # step budget; truncation after this many steps
    oracle: Oracle
    summary: str


# -- shared moves ---------------------------------------------------------------------------------
def fill(field: DomElement, text: str, page: Page) -> ActionBase | None:
    """The next action towards ``field`` holding ``text``; ``None`` once it does."""
    if field.value == text:
        return None
    if not field.focused:
        return click(field)
    if field.value and page.last != SELECT_ALL:
        return SELECT_ALL  # typing then replaces the wrong text
    return TypeText(text=text)


def fill_then_submit(page: Page, pairs: list[tuple[str, str]]) -> ActionBase:
    """Fill each ``(input id, text)`` in turn, then click ``#subbtn``."""
    for input_id, text in pairs:
        step = fill(page.find(id=input_id), text, page)
        if step is not None:
            return step
    return click(page.find("button", id="subbtn"))


def labelled_inputs(page: Page, tag: str) -> dict[str, DomElement]:
    """``<label><input>name</label>`` pairs (checkboxes, radios) as ``{name: input}``."""
    pairs = {}
    for label in page.find_all("label"):
        kids = list(page.children(label))
        boxes = [k for k in kids if k.tag == tag]
        names = [k.text for k in kids if k.tag == "t"]
        if boxes and names:
            pairs[" ".join(names)] = boxes[0]
    return pairs


# -- oracles, one per task ------------------------------------------------------------------------
def click_test(page: Page) -> ActionBase:
    return click(page.find("button", id="subbtn"))


def click_test_2(page: Page) -> ActionBase:
    target = page.find("button", text=page.field("target"))
    others = tuple(b for b in page.find_all("button") if b != target)
    return click(target, avoid=others)


def click_button(page: Page) -> ActionBase:
    return click(page.find("button", text=page.field("target")))


def click_button_sequence(page: Page) -> ActionBase:
    one, two = page.find("button", id="subbtn"), page.find("button", id="subbtn2")
    return click(two, avoid=(one,)) if one.tampered else click(one, avoid=(two,))


def click_link(page: Page) -> ActionBase:
    return click(page.find("span", cls="alink", text=page.field("target")))


def click_dialog(page: Page) -> ActionBase:
    return click(page.find("button", cls="ui-dialog-titlebar-close"))


def click_dialog_2(page: Page) -> ActionBase:
    target = page.field("target")
    if target == "x":
        return click_dialog(page)
    return click(page.find("button", text=target))


def click_checkboxes(page: Page) -> ActionBase:
    wanted = {v for k, v in page.fields.items() if k.startswith("target")}
    for name, box in labelled_inputs(page, "input_checkbox").items():
        if box.value != (name in wanted):
            return click(box)
    return click(page.find("button", id="subbtn"))


def click_option(page: Page) -> ActionBase:
    radio = labelled_inputs(page, "input_radio")[page.field("target")]
    return click(page.find("button", id="subbtn")) if radio.value else click(radio)


def click_tab(page: Page) -> ActionBase:
    return click(page.find("a", text=f"Tab #{page.field('target')}"))


def choose_list(page: Page) -> ActionBase:
    """Open the list, type the item (type-ahead), commit with Enter, submit."""
    target, select = page.field("target"), page.find("select")
    if select.value == target:
        return click(page.find("button", text="Submit"))
    if page.last == TypeText(text=target):
        return Key(key="enter")
    return TypeText(text=target) if select.focused else click(select)


def enter_text(page: Page) -> ActionBase:
    return fill_then_submit(page, [("tt", page.field("target"))])


def enter_text_2(page: Page) -> ActionBase:
    text = page.field("text")
    text = text.lower() if page.field("case") == "lower" else text.upper()
    return fill_then_submit(page, [("tt", text)])


def enter_password(page: Page) -> ActionBase:
    password = page.field("target")
    return fill_then_submit(page, [("password", password), ("verify", password)])


def login_user(page: Page) -> ActionBase:
    pairs = [("username", page.field("username")), ("password", page.field("password"))]
    return fill_then_submit(page, pairs)


def focus_text(page: Page) -> ActionBase:
    return click(page.find("input_text", id="tt"))


def focus_text_2(page: Page) -> ActionBase:
    return click(page.find("input_text", id=f"tt{page.field('target')}"))


_TASKS = (
    MiniWoBTask("click-test", 3, click_test, "click the only button"),
    MiniWoBTask("click-test-2", 3, click_test_2, "click button ONE or TWO"),
    MiniWoBTask("click-button", 4, click_button, "click the button with the given label"),
    MiniWoBTask("click-button-sequence", 5, click_button_sequence, "click ONE, then TWO"),
    MiniWoBTask("click-link", 4, click_link, "click the link with the given word"),
    MiniWoBTask("click-dialog", 3, click_dialog, "close the dialog with its x"),
    MiniWoBTask("click-dialog-2", 3, click_dialog_2, "click the named dialog button"),
    MiniWoBTask("click-checkboxes", 12, click_checkboxes, "tick the named boxes, submit"),
    MiniWoBTask("click-option", 5, click_option, "pick the named radio button, submit"),
    MiniWoBTask("click-tab", 3, click_tab, "click the named tab"),
    MiniWoBTask("choose-list", 8, choose_list, "pick an item from a drop-down, submit"),
    MiniWoBTask("enter-text", 6, enter_text, "type a word into the field, submit"),
    MiniWoBTask("enter-text-2", 6, enter_text_2, "type a word in upper/lower case, submit"),
    MiniWoBTask("enter-password", 9, enter_password, "type a password twice, submit"),
    MiniWoBTask("login-user", 9, login_user, "type a username and password, log in"),
    MiniWoBTask("focus-text", 3, focus_text, "focus the text field"),
    MiniWoBTask("focus-text-2", 3, focus_text_2, "focus the 1st, 2nd or 3rd text field"),
)
TASKS: dict[str, MiniWoBTask] = {task.name: task for task in _TASKS}
TASK_NAMES: tuple[str, ...] = tuple(TASKS)


def get_task(name: str) -> MiniWoBTask:
    """The supported task called ``name``; unknown names suggest the nearest ones."""
    if name not in TASKS:
        near = difflib.get_close_matches(name, TASK_NAMES, n=3)
        hint = f" Did you mean {', '.join(near)}?" if near else ""
        raise UnknownTaskError(
            f"unsupported MiniWoB++ task {name!r}.{hint} Supported: {', '.join(TASK_NAMES)}"
        )
    return TASKS[name]
