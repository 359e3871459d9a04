"""What the oracles read: a MiniWoB++ page's DOM as plain data (no browser needed)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from actions.schema import ActionBase, Click
from envs.contract import Element
from envs.errors import EnvError

WIDTH, HEIGHT = 160, 210
"""The task area of every MiniWoB++ page (not FlightWoB), in CSS pixels: the screenshot's size."""
GRID = 8
"""Candidate click points per box side when the centre is covered."""


@dataclass(frozen=True)
class DomElement:
    """One element of the page as its ``core.getDOMInfo()`` reports it; boxes in CSS pixels."""

    ref: int  # > 0 for elements, < 0 for text runs; stable within an episode
    parent: int  # the parent's ref; 0 for the root
    tag: str  # lower case; inputs carry their type ("input_text"); text runs are "t"
    text: str  # a leaf's text, else ""
    value: str | bool | None  # inputs: text or checked; selects: the chosen option's text
    id: str
    classes: str
    left: float
    top: float
    width: float
    height: float
    focused: bool
    tampered: bool  # clicked during this episode

    @classmethod
    def from_miniwob(cls, element: Any) -> DomElement:
        """Convert a ``miniwob.dom.DOMElement``."""
        return cls(
            ref=element.ref,
            parent=element.parent.ref if element.parent else 0,
            tag=element.tag,
            text=element.text or "",
            value=element.value,
            id=element.id,
            classes=element.classes,
            left=float(element.left),
            top=float(element.top),
            width=float(element.width),
            height=float(element.height),
            focused=bool(element.focused),
            tampered=bool(element.tampered),
        )

    def has_class(self, name: str) -> bool:
        return name in self.classes.split()

    def visible_center(self) -> tuple[float, float]:
        """Centre of the part of the box inside the task area, normalised to the screenshot."""
        left, right = max(self.left, 0.0), min(self.left + self.width, WIDTH)
        top, bottom = max(self.top, 0.0), min(self.top + self.height, HEIGHT)
        if right <= left or bottom <= top:
            raise EnvError(f"<{self.tag}> {self.text!r} lies outside the {WIDTH}x{HEIGHT} area")
        return (left + right) / 2 / WIDTH, (top + bottom) / 2 / HEIGHT


@dataclass(frozen=True)
class Page:
    """The state an oracle decides from: the utterance, its fields, the DOM and past actions."""

    utterance: str
    fields: Mapping[str, str]
    dom: tuple[DomElement, ...]
    history: tuple[ActionBase, ...] = ()

    @property
    def last(self) -> ActionBase | None:
        """The action sent before this state, if any."""
        return self.history[-1] if self.history else None

    def field(self, key: str) -> str:
        try:
            return self.fields[key]
        except KeyError:
            raise EnvError(
                f"the utterance {self.utterance!r} has no field {key!r}; it has {dict(self.fields)}"
            ) from None

    def find_all(self, tag: str | None = None, **attrs: str) -> Iterator[DomElement]:
        """Elements with ``tag`` whose attributes equal ``attrs`` (``cls`` tests one class)."""
        cls = attrs.pop("cls", None)
        for el in self.dom:
            if tag is not None and el.tag != tag:
                continue
            if cls is not None and not el.has_class(cls):
                continue
            if all(getattr(el, k) == v for k, v in attrs.items()):
                yield el

    def find(self, tag: str | None = None, **attrs: str) -> DomElement:
        """The first element that :meth:`find_all` yields; an error names what is missing."""
        for el in self.find_all(tag, **attrs):
            return el
        raise EnvError(f"no <{tag or '*'}> with {attrs} on the page ({self.utterance!r})")

    def children(self, parent: DomElement) -> Iterator[DomElement]:
        return (el for el in self.dom if el.parent == parent.ref)

    def elements(self) -> list[Element]:
        """The page's visible text runs and controls as `Element` records (screenshot pixels):
        inputs by their type (a ticked box is a "checked box"), links (``<a>`` or the
        ``alink`` class), buttons, dropdowns, and any other leaf's text as "text"."""
        out = []
        for el in self.dom:
            role = _role(el)
            text = el.text if el.tag != "select" else str(el.value or "")
            visible = (el.width > 0 and el.height > 0 and el.left < WIDTH and el.top < HEIGHT
                       and el.left + el.width > 0 and el.top + el.height > 0)  # fmt: skip
            if role is not None and visible and (text or role != "text"):
                out.append(Element(el.left, el.top, el.width, el.height, role, text))
        return out


_INPUT_ROLES = {"text": "field", "password": "field", "email": "field", "number": "field",
                "checkbox": "checkbox", "radio": "radio", "button": "button",
                "submit": "button"}  # fmt: skip


def _role(el: DomElement) -> str | None:
    """What a DOM element is to a user, or None for containers without text of their own."""
    if el.tag.startswith("input_"):
        role = _INPUT_ROLES.get(el.tag.removeprefix("input_"), "field")
        return "checked box" if role in ("checkbox", "radio") and el.value is True else role
    if el.tag == "a" or el.has_class("alink"):
        return "link"
    if el.tag in ("button", "select", "textarea"):
        return {"button": "button", "select": "dropdown", "textarea": "field"}[el.tag]
    return "text" if el.text else None


def click(el: DomElement, *, avoid: tuple[DomElement, ...] = ()) -> Click:
    """A click on an element: its visible centre, or the point nearest to it outside ``avoid``.

    ``avoid`` lists elements drawn over this one (buttons placed at random may overlap).
    """
    cx, cy = el.visible_center()
    points = [(cx, cy)] + [
        ((el.left + el.width * i / GRID) / WIDTH, (el.top + el.height * j / GRID) / HEIGHT)
        for i in range(1, GRID)
        for j in range(1, GRID)
    ]
    points.sort(key=lambda p: (p[0] - cx) ** 2 + (p[1] - cy) ** 2)
    for x, y in points:
        if 0 <= x < 1 and 0 <= y < 1 and not any(_inside(x, y, other) for other in avoid):
            return Click(x=x, y=y)
    raise EnvError(f"<{el.tag}> {el.text!r} is covered by {[o.text for o in avoid]}")


def _inside(x: float, y: float, el: DomElement) -> bool:
    px, py = x * WIDTH, y * HEIGHT
    return el.left <= px <= el.left + el.width and el.top <= py <= el.top + el.height
