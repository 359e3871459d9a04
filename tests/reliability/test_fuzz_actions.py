"""Fuzzed model output through parse -> guard -> executor: no crash, nothing forbidden executed.

The long run with 100,000 cases is ``benchmarks/fuzz_actions.py``; this is its small sibling with
hypothesis strategies (it shrinks a failure to the shortest answer that shows it).
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions.coords import ScreenFrame
from actions.desktop import RecordingExecutor
from actions.errors import ActionError, ParseError
from actions.guard import DEFAULT_DENY_HOTKEYS, Guard, GuardConfig, action_points, combo
from actions.parse import MAX_CHARS, parse_action
from actions.schema import Hotkey, Key, TypeText

FRAME = ScreenFrame(width=800, height=600, left=-1024, top=300, scale=1.5)
FORBIDDEN = (0.0, 0.0, 1.0, 0.1)  # the top tenth: a title bar the agent must not touch
DENY_TEXT = r"(?i)secret"
RULES = GuardConfig(forbidden_regions=[FORBIDDEN], deny_text=[DENY_TEXT])
DENIED = [set(combo(h)) for h in DEFAULT_DENY_HOTKEYS]
NAMES = ["click", "double_click", "right_click", "move", "drag", "scroll", "type_text", "key",
         "hotkey", "wait", "done", "fail", "ee_delta", "point_target", "pyautogui.click",
         "pyautogui.hotkey", "pyautogui.press", "pyautogui.write"]  # fmt: skip
KEY_NAMES = ["ctrl", "alt", "delete", "del", "f4", "win", "super", "l", "t", "escape", "shift",
             "command", "q", "enter", "CTRL", "Alt", "backspace", "f2", "r"]  # fmt: skip
CONFUSE = str.maketrans({"c": "\u0441", "o": "\u043e", "(": "\uff08", "1": "\uff11",
                         ",": "\u201a", "e": "\u0435"})  # fmt: skip

literals = st.one_of(
    st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(KEY_NAMES), st.text(max_size=20), st.none(), st.booleans(),
    st.lists(st.integers(0, 1000), max_size=3),
)  # fmt: skip
calls = st.builds(
    lambda name, args, kwargs: f"{name}({', '.join([*map(repr, args), *kwargs])})",
    st.sampled_from(NAMES),
    st.lists(literals, max_size=5),
    st.lists(
        st.builds(
            lambda k, v: f"{k}={v!r}", st.sampled_from(["x", "y", "down", "dy", "text"]), literals
        ),
        max_size=2,
    ),
)
hotkeys = st.lists(st.sampled_from(KEY_NAMES), min_size=1, max_size=4).map(
    lambda keys: f"hotkey({', '.join(json.dumps(k) for k in keys)})"
)
json_actions = st.dictionaries(
    st.sampled_from(["type", "x", "y", "to_x", "to_y", "keys", "key", "text", "dy", "extra"]),
    literals | st.sampled_from(NAMES),
    max_size=6,
).map(json.dumps)
model_output = st.one_of(
    st.text(max_size=200),
    calls,
    hotkeys,
    json_actions,
    json_actions.map(lambda s: s[:-1] + ', "type": "hotkey", "keys": ["alt", "f4"]}'),
    st.tuples(calls, st.integers(0, 60)).map(lambda t: t[0][: t[1]]),  # truncated
    calls.map(lambda s: s.translate(CONFUSE)),
    st.tuples(calls, calls).map("\n".join),
    st.sampled_from(
        [
            '__import__("os").system("id")',
            "click(*[1, 2])",
            "[click(1, 2)]",
            "exec('done()')",
            "```\nhotkey('alt', 'f4')\n```",
        ]
    ),
)


def denied(action) -> bool:
    """What RULES forbid, re-checked independently of the guard's code."""
    if isinstance(action, (Key, Hotkey)):
        pressed = set(combo([action.key] if isinstance(action, Key) else list(action.keys)))
        if any(bad <= pressed for bad in DENIED):
            return True
    if isinstance(action, TypeText) and re.search(DENY_TEXT, action.text):
        return True
    x0, y0, x1, y1 = FORBIDDEN
    return any(x0 <= x <= x1 and y0 <= y <= y1 for x, y in action_points(action))


def run_case(text: str) -> str:
    """The outcome of one answer; any exception other than the documented ones fails."""
    ticks = iter(range(1000))
    guard = Guard(RULES, clock=lambda: float(next(ticks)))
    executor = RecordingExecutor()
    try:
        action = parse_action(text, image_size=(FRAME.width, FRAME.height))
    except ParseError:
        return "parse-refused"
    if not guard.check(action, FRAME).executable:
        return "guard-refused"
    try:
        executor.execute(action, FRAME)
    except ActionError:  # robot actions on a screen
        return "executor-refused"
    assert not denied(action), f"{text!r} -> {action} reached the executor"
    for _, points in executor.records:
        assert all(FRAME.contains_screen(*p) for p in points), f"{text!r} -> {points} off-frame"
    return "executed"


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model_output)
def test_fuzzed_model_output_never_crashes_or_executes_a_forbidden_action(text: str) -> None:
    run_case(text)


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ('hotkey("del", "ALT", "control")', "guard-refused"),
        ('key("alt+F4")', "guard-refused"),
        ("pyautogui.hotkey('super', 'l')", "guard-refused"),
        ('hotkey("ctrl", "shift", "alt", "t")', "guard-refused"),  # an extra key does not help
        ("click(500, 40)", "guard-refused"),  # the forbidden title bar
        ("drag(500, 500, 500, 20)", "guard-refused"),  # a drag that ends there
        ('type_text("the SECRET is 42")', "guard-refused"),
        (
            '{"type": "click", "x": 0.5, "y": 0.5, "type": "hotkey", "keys": ["alt", "f4"]}',
            "parse-refused",
        ),  # the last "type" wins, and a hotkey has no x, y
        ('{"type": "hotkey", "keys": ["alt", "f4"]}', "guard-refused"),
        ("\uff43lick(500, 500)", "executed"),  # fullwidth c: Python's NFKC reads it as click
        ("\u0441lick(500, 500)", "parse-refused"),  # Cyrillic es
        ('hotkey("ctrl", "alt", "\uff44\uff45\uff4c")', "parse-refused"),  # fullwidth del
        ('__import__("os").system("id")', "parse-refused"),
        ("click(1e309, 5)", "parse-refused"),
        ("click(" + "[" * 5000 + "]" * 5000 + ", 1)", "parse-refused"),
        ("{" * 10_000, "parse-refused"),
        ("x" * (MAX_CHARS + 1), "parse-refused"),
        ("ee_delta(0.1, 0, 0, 1)", "executor-refused"),
        ("click(1000, 1000)", "executed"),  # the last pixel is inside the frame
    ],
)
def test_known_hostile_answers(text: str, outcome: str) -> None:
    assert run_case(text) == outcome
