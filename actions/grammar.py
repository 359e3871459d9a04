"""The SDK's action text as a regular language, for decoding that can only write valid actions.

:func:`action_regex` matches what :meth:`~actions.schema.ActionBase.to_text` writes:
``click(512, 300)``, ``scroll(500, 500, down=3)``, ``type_text("hi")``, ...; :func:`action_grammar`
wraps it as the Lark grammar a VLM's ``generate(..., grammar=...)`` takes. Each decoding step may
then only pick tokens that keep the answer a prefix of such text, so a small or untuned model
cannot answer ``drag(, , 724)`` or prose: what it writes, :func:`~actions.parse.parse_action`
reads. It is the canonical form only, a subset of what the parser accepts (no JSON, no pyautogui
calls, no keyword coordinates): coordinates are integers 0-1000, keys are known names or single
printable characters, a hotkey starts with a modifier. The regex keeps to the syntax Python's
``re`` and Rust's ``regex`` share.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Literal

from actions.keys import MODIFIERS, NAMED_KEYS

ActionKinds = Literal["screen", "motor"]

MAX_CHUNK = 8
"""Most motor actions in one answer (``actions.motor.parse_chunk``'s default)."""


def _either(words: frozenset[str] | tuple[str, ...]) -> str:
    return "(" + "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w))) + ")"


_COORD = "(1000|[1-9][0-9]{0,2}|0)"
_COUNT = "(50|[1-4][0-9]|[1-9])"  # scroll wheel clicks, 1-50
_VERTICAL, _SIDEWAYS = f"(down|up)={_COUNT}", f"(right|left)={_COUNT}"
# a character of a JSON string as json.dumps(ensure_ascii=False) writes it: raw, or escaped
# when it must be (quote, backslash, control characters)
_CHAR = r'([^"\\\x00-\x1f]|\\(["\\bfnrt]|u00[01][0-9a-fA-F]))'
_KEY = "(" + _either(NAMED_KEYS) + r'|[!#-\[\]-~]|\\"|\\\\)'  # a named key or one printable
# a number in [-1, 1] as ActionBase.to_text writes it (_num: "1", "-0.25", "1.5e-05")
_SIGNED = r"-?(1(\.0+)?|0(\.[0-9]+)?|[1-9](\.[0-9]+)?e-(0[5-9]|[1-9][0-9]{1,2}))"


def _call(name: str, *args: str) -> str:
    return re.escape(name) + r"\(" + ", ".join(args) + r"\)"


_POINTER = _either(("click", "double_click", "right_click", "move"))
_GRIPPER = '(, gripper="(close|open|keep)")?'


_ACTIONS: dict[str, str] = {
    "pointer": _POINTER + _call("", _COORD, _COORD),
    "drag": _call("drag", _COORD, _COORD, _COORD, _COORD),
    "scroll": _call("scroll", _COORD, _COORD, f"({_VERTICAL}(, {_SIDEWAYS})?|{_SIDEWAYS})"),
    "type_text": _call("type_text", f'"{_CHAR}+"'),
    "key": _call("key", f'"{_KEY}"'),
    "hotkey": r"hotkey\(" + f'"{_either(MODIFIERS)}"(, "{_KEY}"){{1,3}}' + r"\)",
    "wait": _call("wait", r"(60(\.0+)?|([1-5][0-9]|[0-9])(\.[0-9]+)?)"),
    "done": _call("done", f'("{_CHAR}*")?'),
    "fail": _call("fail", f'("{_CHAR}*")?'),
    "point_target": r"point_target\(" + f"{_COORD}, {_COORD}{_GRIPPER}" + r"\)",
    "ee_delta": _call("ee_delta", _SIGNED, _SIGNED, _SIGNED, _SIGNED),
}  # fmt: skip
_SCREEN = ("pointer", "drag", "scroll", "type_text", "key", "hotkey", "wait", "done", "fail")
_MOTOR = ("point_target", "drag", "ee_delta")


@cache  # asked at every agent step: built once
def action_regex(kinds: ActionKinds = "screen") -> str:
    """A regular expression whose full matches are the answers of ``kinds``.

    ``screen``: exactly one GUI action (pointer actions, drag, scroll, type_text, key, hotkey,
    wait, done, fail). ``motor``: a chunk of one to :data:`MAX_CHUNK` robot actions
    (point_target, drag, ee_delta), one per line, as :func:`actions.motor.parse_chunk` reads.
    """
    if kinds == "screen":
        return "(" + "|".join(_ACTIONS[k] for k in _SCREEN) + ")"
    if kinds == "motor":
        one = "(" + "|".join(_ACTIONS[k] for k in _MOTOR) + ")"
        return f"{one}(\\n{one}){{0,{MAX_CHUNK - 1}}}"
    raise ValueError(f"kinds must be 'screen' or 'motor', got {kinds!r}")


@cache
def action_grammar(kinds: ActionKinds = "screen") -> str:
    """:func:`action_regex` as a Lark grammar (llguidance's dialect): ``start: /.../``."""
    return "start: /" + action_regex(kinds).replace("/", "\\/") + "/\n"
