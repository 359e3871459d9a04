"""The spaces and action intake every SDK env shares (GUI suite, MiniWoB++, live desktop).

Observation ``Dict(image=Box(uint8, H x W x 3), instruction=Text)``; action ``Text`` carrying
one action as JSON or SDK text (``ActionBase`` objects are taken as they are).
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from actions.errors import ParseError
from actions.parse import parse_action
from actions.schema import ActionBase
from envs.errors import EnvError

CHARSET = string.printable
"""Characters of instructions and action texts."""
MAX_INSTRUCTION = 512
MAX_ACTION_TEXT = 4096


@dataclass(frozen=True)
class Element:
    """One thing an env's screen shows: its box (screen pixels), what it is, the text it shows.

    Envs that know their screen (the GUI suite's widgets, MiniWoB++'s DOM) list these through
    ``elements()``: ground truth for training and tests, never part of the observation."""

    x: float
    y: float
    w: float
    h: float
    role: str  # button, checkbox, field, text, link, list item, option, a shape's kind, ...
    text: str = ""
    covered: bool = False  # a click at its centre would not reach it (a modal or popup above)

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    @property
    def words(self) -> list[str]:
        """The role and the text as lower-case words (numbers and punctuation left out)."""
        return [w for w in f"{self.role} {self.text}".lower().split() if w.isalpha()]


def observation_space(width: int, height: int) -> spaces.Dict:
    return spaces.Dict(
        image=spaces.Box(0, 255, (height, width, 3), np.uint8),
        instruction=spaces.Text(MAX_INSTRUCTION, charset=CHARSET),
    )


def action_space() -> spaces.Text:
    return spaces.Text(MAX_ACTION_TEXT, charset=CHARSET)


def check_render_mode(render_mode: str | None) -> None:
    if render_mode not in (None, "rgb_array"):
        raise EnvError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")


def to_action(action: object, image_size: tuple[int, int]) -> ActionBase:
    """An action as given, or parsed from text for a ``(width, height)`` image; else ParseError."""
    if isinstance(action, ActionBase):
        return action
    if not isinstance(action, str):
        raise ParseError(repr(action), f"expected a str or an Action, got {type(action).__name__}")
    return parse_action(action, image_size=image_size)
