"""Referring examples: many "click the named element" questions about one screen.

An oracle demonstration asks one question per screen, so a model can lower its loss by
clicking where the task's answer usually lies (the salient button, the first checkbox) without
reading which element the instruction names. Envs that list their screen (``elements()``: the
GUI suite's widgets, MiniWoB++'s DOM) can ask about every element that a name picks out alone:
``Click the "Archive" button.``, ``Select the pink triangle.``, ``Click the text "PK4gX".``,
each answered with a click at that element's centre. The same screen with other names and
other answers is what makes the answer depend on the instruction and the pixels together.
``agent-sdk collect --refer K`` writes up to K of them for every screen an oracle episode shows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from actions.coords import pixels_to_norm
from actions.schema import Click
from envs.contract import Element
from envs.ui.widgets.controls import SHAPE_KINDS

PHRASINGS: dict[str, tuple[str, ...]] = {
    "button": ('Click the "{t}" button.', 'Press "{t}".', 'Click on the button labelled "{t}".'),
    "link": ("Click the link '{t}'.", "Open the link '{t}'.", 'Click on the link "{t}".'),
    "checkbox": ('Click the "{t}" checkbox.', 'Click the checkbox "{t}".'),
    "checked box": ('Click the "{t}" checkbox.', 'Click the checkbox "{t}".'),
    "tab": ("Go to the {t} tab.", "Click the {t} tab."),
    "active tab": ("Go to the {t} tab.", "Click the {t} tab."),
    "menu": ("Open the {t} menu.", "Click the {t} menu."),
    "list item": ("Click '{t}' in the list.", "Click the list item '{t}'."),
    "dropdown": ('Open the dropdown showing "{t}".',),
    "option": ('Choose "{t}".', 'Click the option "{t}".'),
    "text": ('Click the text "{t}".', 'Click on "{t}".'),
    "shape": (
        "Click the {t} {role}.",
        "Find the {t} {role} and click it.",
        "Select the {t} {role}.",
    ),
}
"""Instruction templates by element role (``{t}``: the text shown, ``{role}``: a shape's kind);
a role not listed is asked as ``Click the <role> "<text>".``"""

MAX_TEXT_WORDS = 3
"""Plain text is asked about only when this short (a label, a word of a paragraph)."""


def instruction(element: Element, rng: np.random.Generator) -> str | None:
    """An instruction that names ``element`` (a phrasing drawn by ``rng``), or None when it
    shows no text to name it by (a field, a slider, an icon)."""
    text = " ".join(element.text.split())
    if not text or (element.role == "text" and len(text.split()) > MAX_TEXT_WORDS):
        return None
    role = "shape" if element.role in SHAPE_KINDS else element.role
    phrasings = PHRASINGS.get(role, (f'Click the {element.role} "{{t}}".',))
    return str(rng.choice(phrasings)).format(t=text, role=element.role)


def named_alone(elements: Sequence[Element]) -> list[Element]:
    """The elements a name picks out: with text, and no other element on the screen showing
    the same text (a shape: the same colour and kind), case aside."""

    def key(e: Element) -> str:
        text = " ".join(e.text.lower().split())
        return f"{e.role}:{text}" if e.role in SHAPE_KINDS else text

    counts = Counter(key(e) for e in elements)
    return [e for e in elements if e.text.strip() and counts[key(e)] == 1]


def referring_questions(
    elements: Sequence[Element], width: int, height: int, count: int, rng: np.random.Generator
) -> list[tuple[str, Click]]:
    """Up to ``count`` (instruction, click) pairs about distinct elements of a ``width x
    height`` screen that a name picks out alone (`named_alone`) and a click reaches (not
    ``covered``), drawn by ``rng``; each click at its element's centre, clipped to the
    screen."""
    named = [(e, text) for e in named_alone(elements)
             if not e.covered and (text := instruction(e, rng))]  # fmt: skip
    picked = rng.permutation(len(named))[:count]
    out = []
    for i in picked:
        element, text = named[int(i)]
        cx, cy = element.center
        x, y = pixels_to_norm(int(min(max(cx, 0), width - 1)), int(min(max(cy, 0), height - 1)),
                              width, height)  # fmt: skip
        out.append((text, Click(x=x, y=y)))
    return out


__all__ = ["MAX_TEXT_WORDS", "PHRASINGS", "instruction", "named_alone", "referring_questions"]
