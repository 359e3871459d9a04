"""The action grammar: every action the SDK writes is in it, and everything in it parses."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actions.grammar import MAX_CHUNK, action_grammar, action_regex
from actions.motor import parse_chunk
from actions.parse import parse_action
from actions.schema import (
    Click,
    Done,
    DoubleClick,
    Drag,
    EEDelta,
    Fail,
    Hotkey,
    Key,
    Move,
    PointTarget,
    RightClick,
    Scroll,
    TypeText,
    Wait,
)

SCREEN, MOTOR = re.compile(action_regex("screen")), re.compile(action_regex("motor"))
unit = st.floats(0, 1)
signed = st.floats(-1, 1)

screen_actions = st.one_of(
    st.builds(Click, x=unit, y=unit),
    st.builds(DoubleClick, x=unit, y=unit),
    st.builds(RightClick, x=unit, y=unit),
    st.builds(Move, x=unit, y=unit),
    st.builds(Drag, x=unit, y=unit, to_x=unit, to_y=unit),
    st.tuples(unit, unit, st.integers(-50, 50), st.integers(-50, 50))
    .filter(lambda a: a[2] or a[3])
    .map(lambda a: Scroll(x=a[0], y=a[1], dx=a[2], dy=a[3])),
    st.builds(TypeText, text=st.text(min_size=1, max_size=40)),
    st.builds(Key, key=st.sampled_from(["enter", "tab", "a", "Z", "7", '"', "\\", " ", "f12"])),
    st.builds(Hotkey, keys=st.sampled_from([("ctrl", "c"), ("ctrl", "shift", "t"), ("alt", "f4")])),
    st.builds(Wait, seconds=st.floats(0, 60).map(lambda s: round(s, 3))),
    st.builds(Done, answer=st.none() | st.text(max_size=20)),
    st.builds(Fail, reason=st.text(max_size=20)),
)
motor_actions = st.one_of(
    st.builds(PointTarget, x=unit, y=unit, gripper=st.sampled_from(["keep", "close", "open"])),
    st.builds(Drag, x=unit, y=unit, to_x=unit, to_y=unit),
    st.builds(EEDelta, dx=signed, dy=signed, dz=signed, gripper=signed),
)


@given(screen_actions)
def test_every_screen_action_the_sdk_writes_is_in_the_grammar(action: object) -> None:
    assert SCREEN.fullmatch(action.to_text())  # type: ignore[attr-defined]


@given(st.lists(motor_actions, min_size=1, max_size=MAX_CHUNK))
def test_every_motor_chunk_the_sdk_writes_is_in_the_grammar(chunk: list[object]) -> None:
    assert MOTOR.fullmatch("\n".join(a.to_text() for a in chunk))  # type: ignore[attr-defined]


@settings(max_examples=300)
@given(st.from_regex(SCREEN, fullmatch=True))
def test_everything_the_screen_grammar_allows_parses(text: str) -> None:
    action = parse_action(text)
    assert SCREEN.fullmatch(action.to_text())


@settings(max_examples=200)
@given(st.from_regex(MOTOR, fullmatch=True))
def test_everything_the_motor_grammar_allows_parses(text: str) -> None:
    if text.startswith(("done(", "fail(")):
        assert isinstance(parse_action(text), (Done, Fail))
    else:
        assert 1 <= len(parse_chunk(text)) <= MAX_CHUNK


@pytest.mark.parametrize(
    "text",
    ["click(1001, 5)", "click(05, 5)", "click(5,5)", "drag(, , 724, 717, 711)", ")",
     "The button is at click(5, 5)", 'type_text("")', 'key("foo")', 'hotkey("c", "ctrl")',
     "wait(61)", "wait(60.5)", "point_target(5, 5)", '{"type": "click", "x": 0.5, "y": 0.5}'],
)  # fmt: skip
def test_the_screen_grammar_refuses_what_is_not_one_canonical_action(text: str) -> None:
    assert not SCREEN.fullmatch(text)


@pytest.mark.parametrize(
    "text", ["click(5, 5)", "ee_delta(1.5, 0, 0, 0)", "drag(1, 2, 3, 4)\n" * 8 + "drag(1, 2, 3, 4)"]
)
def test_the_motor_grammar_refuses_screen_actions_and_long_chunks(text: str) -> None:
    assert not MOTOR.fullmatch(text)


def test_the_grammar_is_the_regex_in_lark_form() -> None:
    assert action_grammar("motor") == "start: /" + action_regex("motor") + "/\n"
    assert "/" not in action_regex("screen")  # nothing to escape inside Lark's /.../
    with pytest.raises(ValueError, match="kinds must be"):
        action_regex("robot")  # type: ignore[arg-type]
