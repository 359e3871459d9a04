"""parse_action: the three accepted forms, wrappers, errors, and property tests."""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actions import (
    ACTION_TYPES,
    ActionBase,
    Click,
    Done,
    DoubleClick,
    Drag,
    EEDelta,
    Fail,
    Hotkey,
    Key,
    Move,
    ParseError,
    PointTarget,
    RightClick,
    Scroll,
    TypeText,
    Wait,
    parse_action,
)
from actions.coords import norm_to_pixels
from actions.keys import MODIFIERS, NAMED_KEYS
from actions.parse import MAX_CHARS

# --- the SDK's call format ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("click(512, 300)", Click(x=0.512, y=0.3)),
        ("click(x=512, y=300)", Click(x=0.512, y=0.3)),
        ("click(512, y=300)", Click(x=0.512, y=0.3)),
        ("click(0, 1000)", Click(x=0.0, y=1.0)),
        ("click(512.5, 300.25)", Click(x=0.5125, y=0.30025)),
        ("double_click(10, 20)", DoubleClick(x=0.01, y=0.02)),
        ("right_click(10, 20)", RightClick(x=0.01, y=0.02)),
        ("move(999, 1)", Move(x=0.999, y=0.001)),
        ("point_target(250, 750)", PointTarget(x=0.25, y=0.75)),
        ("drag(100, 200, 400, 200)", Drag(x=0.1, y=0.2, to_x=0.4, to_y=0.2)),
        ("drag(x1=100, y1=200, x2=400, y2=200)", Drag(x=0.1, y=0.2, to_x=0.4, to_y=0.2)),
        ("scroll(500, 500, down=3)", Scroll(x=0.5, y=0.5, dy=3)),
        ("scroll(500, 500, up=2)", Scroll(x=0.5, y=0.5, dy=-2)),
        ("scroll(500, 500, right=4)", Scroll(x=0.5, y=0.5, dx=4)),
        ("scroll(500, 500, left=1, down=2)", Scroll(x=0.5, y=0.5, dx=-1, dy=2)),
        ("scroll(500, 500, dx=-5, dy=7)", Scroll(x=0.5, y=0.5, dx=-5, dy=7)),
        ("scroll(x=1, y=2, dy=-1)", Scroll(x=0.001, y=0.002, dy=-1)),
        ('type_text("hello")', TypeText(text="hello")),
        ("type_text('it''s')", TypeText(text="its")),
        ('type_text(text="a\\nb")', TypeText(text="a\nb")),
        ('key("enter")', Key(key="enter")),
        ('key("Return")', Key(key="enter")),
        ('key("+")', Key(key="+")),
        ('key(" ")', Key(key="space")),
        ('key("ctrl+c")', Hotkey(keys=("ctrl", "c"))),
        ('key("ctrl + shift + t")', Hotkey(keys=("ctrl", "shift", "t"))),
        ('key("ctrl++")', Hotkey(keys=("ctrl", "+"))),
        ('hotkey("ctrl", "c")', Hotkey(keys=("ctrl", "c"))),
        ('hotkey("ctrl+c")', Hotkey(keys=("ctrl", "c"))),
        ('hotkey("cmd", "shift", "4")', Hotkey(keys=("command", "shift", "4"))),
        ('hotkey("ctrl", "+")', Hotkey(keys=("ctrl", "+"))),
        ('hotkey("enter")', Key(key="enter")),
        ("wait()", Wait()),
        ("wait(2)", Wait(seconds=2.0)),
        ("wait(seconds=0.5)", Wait(seconds=0.5)),
        ("done()", Done()),
        ('done("42 apples")', Done(answer="42 apples")),
        ("done(None)", Done()),
        ("fail()", Fail()),
        ('fail("no such button")', Fail(reason="no such button")),
        ("ee_delta(0.1, -0.2, 0.3, -1)", EEDelta(dx=0.1, dy=-0.2, dz=0.3, gripper=-1.0)),
        ("ee_delta(dz=-0.5, gripper=1)", EEDelta(dz=-0.5, gripper=1.0)),
        ("ee_delta()", EEDelta()),
    ],
)
def test_sdk_format(text: str, expected: ActionBase) -> None:
    assert parse_action(text) == expected


# --- JSON --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"type": "click", "x": 0.5, "y": 0.3}', Click(x=0.5, y=0.3)),
        ('{"type": "scroll", "x": 0.5, "y": 0.5, "dy": -2}', Scroll(x=0.5, y=0.5, dy=-2)),
        ('{"type": "hotkey", "keys": ["ctrl", "v"]}', Hotkey(keys=("ctrl", "v"))),
        ('{"type": "done", "answer": null}', Done()),
        ('{"type": "ee_delta", "dz": 0.25}', EEDelta(dz=0.25)),
        ("{'type': 'key', 'key': 'tab'}", Key(key="tab")),  # a Python dict literal
        ('```json\n{"type": "wait", "seconds": 3}\n```', Wait(seconds=3.0)),
    ],
)
def test_json_form(text: str, expected: ActionBase) -> None:
    assert parse_action(text) == expected


# --- pyautogui ---------------------------------------------------------------------------------

SIZE = (200, 100)  # width, height


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pyautogui.click(x=100, y=50)", Click(x=100.5 / 200, y=50.5 / 100)),
        ("pyautogui.click(100, 50)", Click(x=100.5 / 200, y=50.5 / 100)),
        ("pyautogui.click(0, 0)", Click(x=0.5 / 200, y=0.5 / 100)),
        ("pyautogui.click(199.0, 99)", Click(x=199.5 / 200, y=99.5 / 100)),
        ("pyautogui.click(1, 2, button='right')", RightClick(x=1.5 / 200, y=2.5 / 100)),
        ("pyautogui.click(1, 2, clicks=2)", DoubleClick(x=1.5 / 200, y=2.5 / 100)),
        ("pyautogui.doubleClick(1, 2)", DoubleClick(x=1.5 / 200, y=2.5 / 100)),
        ("pyautogui.rightClick(1, 2)", RightClick(x=1.5 / 200, y=2.5 / 100)),
        ("pyautogui.moveTo(1, 2, duration=0.5)", Move(x=1.5 / 200, y=2.5 / 100)),
        ("pyautogui.scroll(-3, x=10, y=20)", Scroll(x=10.5 / 200, y=20.5 / 100, dy=3)),
        ("pyautogui.scroll(5, 10, 20)", Scroll(x=10.5 / 200, y=20.5 / 100, dy=-5)),
        ("pyautogui.write('hi there')", TypeText(text="hi there")),
        ("pyautogui.typewrite('hi', interval=0.05)", TypeText(text="hi")),
        ("pyautogui.press('enter')", Key(key="enter")),
        ("pyautogui.press('esc')", Key(key="escape")),
        ("pyautogui.hotkey('ctrl', 'a')", Hotkey(keys=("ctrl", "a"))),
        ("```python\nimport pyautogui\npyautogui.click(100, 50)\n```", Click(x=0.5025, y=0.505)),
    ],
)
def test_pyautogui_form(text: str, expected: ActionBase) -> None:
    assert parse_action(text, image_size=SIZE) == expected


# --- wrappers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "click(512, 300)",
        "  click(512, 300)\n\n",
        "click(512, 300);",
        "Action: click(512, 300)",
        "ACTION:click(512, 300);",
        "`click(512, 300)`",
        "```\nclick(512, 300)\n```",
        "```python\nclick(512, 300)\n```",
        "```py\n  click(512, 300);\n```",
        "```click(512, 300)```",
        "Action: ```python\nclick(512, 300)\n```",
        "```python\n# press the OK button\nclick(512, 300)\n```",
        "Thought: the OK button is at the bottom.\nAction: click(512, 300)",
        "I will click OK.\n\n```python\nclick(512, 300)\n```\nThat should do it.",
        "click(512, 300)\nclick(512, 300)",  # repeated, not different
        "click(\n    512,\n    300,\n)",
    ],
)
def test_wrappers(text: str) -> None:
    assert parse_action(text) == Click(x=0.512, y=0.3)


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("clik(512, 300)", "unknown action 'clik'; did you mean 'click'?"),
        ("frobnicate(1)", "unknown action 'frobnicate'"),
        ("click(512)", "click takes 2 coordinates, got 1"),
        ("click(1, 2, 3)", "click takes 2 coordinates, got 3"),
        ("drag(1, 2, 3)", "drag takes 4 coordinates, got 3"),
        ("click(x=1, z=2)", "unknown keyword 'z' for click"),
        ("click(1, 2, x=3)", "click takes 2 coordinates, got 3"),
        ("click(x=1, x=2)", "'x' twice"),
        ("click(1001, 5)", "outside 0..1000"),
        ("click(-1, 5)", "outside 0..1000"),
        ("click(0.5, 1e400)", "outside 0..1000"),
        ("click(True, 5)", "must be a number"),
        ("click('512', 300)", "must be a number"),
        ("click(a, 300)", "not a literal"),
        ("click(1 + 2, 300)", "not a literal"),
        ("click(*pts)", "not a literal"),
        ("click(**kw)", "keyword unpacking"),
        ("click", "not an action call"),
        ("os.system('ls')", "unknown module 'os'"),
        ("__import__('os').system('ls')", "called name must be an action"),
        ("scroll(500, 500)", "non-zero dx or dy"),
        ("scroll(500, 500, 3)", "at most 2 positional"),
        ("scroll(500, 500, down=1.5)", "whole number"),
        ("scroll(500, 500, down=-3)", "must not be negative"),
        ("scroll(500, 500, down=2, dy=1)", "not both"),
        ("scroll(500, 500, down=99)", "dy"),
        ("type_text()", "type_text needs text"),
        ("type_text(42)", "must be a quoted string"),
        ('type_text("")', "text"),
        ('key("hyper")', "unknown key 'hyper'"),
        ('key("a+b")', "needs a modifier"),
        ("hotkey()", "hotkey takes the keys"),
        ('hotkey("a", "b")', "needs a modifier"),
        ('hotkey(keys=["ctrl", "c"])', "hotkey takes the keys"),
        ("wait(-1)", "seconds"),
        ("wait('soon')", "must be a number"),
        ("done(42)", "must be a quoted string"),
        ("ee_delta(2, 0, 0, 0)", "dx"),
        ("ee_delta(0, 0, 0, 0, 0)", "at most 4 positional"),
        ("click(1, 2)\ntype_text('x')", "2 different actions"),
        ("I think\nclik(1, 2)\nthere", "line 2: unknown action 'clik'"),
        ("I think so.\nMaybe not.", "no line is an action call"),
        ('{"type": "click", "x": 1.5, "y": 0.3}', "x: Input should be less than or equal to 1"),
        ('{"type": "clack", "x": 0.5, "y": 0.3}', "clack"),
        ('{"type": "click", "x": 0.5, "y": 0.3, "z": 1}', "z: Extra inputs are not permitted"),
        ('{"type": "click", "x": "left"}', "invalid action"),
        ('{"type": "click", "x": 0.5', "invalid JSON"),
        ("[1, 2]", "not an action call"),
        ("pyautogui.dragTo(100, 200)", "use drag(x1, y1, x2, y2)"),
        ("pyautogui.drag(10, 0)", "use drag(x1, y1, x2, y2)"),
        ("pyautogui.clik(1, 2)", "did you mean 'click'?"),
    ],
)
def test_errors(text: str, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_action(text)
    err = info.value
    assert err.text == text
    assert reason in err.reason
    assert reason in str(err)
    assert repr(text) in str(err)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("pyautogui.click(200, 50)", "outside the 200x100 image"),
        ("pyautogui.click(-1, 50)", "outside the 200x100 image"),
        ("pyautogui.click(10.5, 50)", "whole pixel"),
        ("pyautogui.click()", "needs both x and y"),
        ("pyautogui.click(1, 2, button='middle')", "button='middle'"),
        ("pyautogui.scroll(3)", "pointer position is unknown"),
        ("pyautogui.scroll(2.5, x=1, y=1)", "whole number"),
        ("pyautogui.typewrite(['a', 'b'])", "quoted string"),
        ("pyautogui.write('x', interval='fast')", "must be a number"),
        ("pyautogui.press('nope')", "unknown key 'nope'"),
        ("pyautogui.click(1, 2, tween=None)", "unknown keyword 'tween'"),
    ],
)
def test_pyautogui_errors(text: str, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_action(text, image_size=SIZE)
    assert reason in info.value.reason


def test_pyautogui_needs_image_size() -> None:
    with pytest.raises(ParseError, match="image_size"):
        parse_action("pyautogui.click(100, 200)")


def test_too_long_and_not_str() -> None:
    with pytest.raises(ParseError, match="limit is 20000"):
        parse_action("click(1, 2)" + " " * MAX_CHARS)
    for bad in (None, b"click(1, 2)", 42, ["click(1, 2)"]):
        with pytest.raises(ParseError, match="must be a str"):
            parse_action(bad)  # type: ignore[arg-type]


def test_long_output_is_shortened_in_the_message() -> None:
    text = "x" * 5000
    with pytest.raises(ParseError) as info:
        parse_action(text)
    assert info.value.text == text
    assert "(5000 chars)" in str(info.value)
    assert len(str(info.value)) < 1000


# --- property tests ----------------------------------------------------------------------------

unit = st.integers(0, 1000).map(lambda k: k / 1000)
signed = st.floats(-1.0, 1.0, allow_nan=False)
key_names = st.sampled_from(sorted(NAMED_KEYS) + list(string.ascii_lowercase + string.digits))
key_names |= st.sampled_from([c for c in string.punctuation])
text = st.text(max_size=40)


def _scroll_amounts(d: tuple[int, int]) -> bool:
    return d != (0, 0)


ACTION_STRATEGIES: dict[str, st.SearchStrategy[ActionBase]] = {
    "click": st.builds(Click, x=unit, y=unit),
    "double_click": st.builds(DoubleClick, x=unit, y=unit),
    "right_click": st.builds(RightClick, x=unit, y=unit),
    "move": st.builds(Move, x=unit, y=unit),
    "point_target": st.builds(PointTarget, x=unit, y=unit),
    "drag": st.builds(Drag, x=unit, y=unit, to_x=unit, to_y=unit),
    "scroll": st.tuples(st.integers(-50, 50), st.integers(-50, 50))
    .filter(_scroll_amounts)
    .flatmap(lambda d: st.builds(Scroll, x=unit, y=unit, dx=st.just(d[0]), dy=st.just(d[1]))),
    "type_text": st.builds(TypeText, text=st.text(min_size=1, max_size=60)),
    "key": st.builds(Key, key=key_names),
    "hotkey": st.builds(
        lambda mods, last: Hotkey(keys=(*mods, last)),
        st.lists(st.sampled_from(sorted(MODIFIERS)), min_size=1, max_size=3),
        key_names,
    ),
    "wait": st.builds(Wait, seconds=st.floats(0.0, 60.0)),
    "done": st.builds(Done, answer=st.none() | text),
    "fail": st.builds(Fail, reason=text),
    "ee_delta": st.builds(EEDelta, dx=signed, dy=signed, dz=signed, gripper=signed),
}
any_action = st.one_of(*ACTION_STRATEGIES.values())


def test_strategies_cover_every_action_type() -> None:
    assert set(ACTION_STRATEGIES) == set(ACTION_TYPES)


@settings(max_examples=500)
@given(any_action)
def test_text_round_trip(action: ActionBase) -> None:
    assert parse_action(action.to_text()) == action


@settings(max_examples=300)
@given(any_action)
def test_json_round_trip(action: ActionBase) -> None:
    assert parse_action(action.to_json()) == action


@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_text_round_trip_quantises_coordinates(x: float, y: float) -> None:
    parsed = parse_action(Click(x=x, y=y).to_text())
    assert isinstance(parsed, Click)
    assert abs(parsed.x - x) <= 0.0005 + 1e-12
    assert abs(parsed.y - y) <= 0.0005 + 1e-12
    assert parse_action(parsed.to_text()) == parsed


@given(any_action, st.sampled_from(["```python\n{}\n```", "Action: {};", "  {}  ", "`{}`"]))
def test_wrapped_round_trip(action: ActionBase, wrapper: str) -> None:
    assert parse_action(wrapper.format(action.to_text())) == action


@settings(max_examples=300)
@given(st.data(), st.integers(1, 4000), st.integers(1, 4000))
def test_pyautogui_pixel_round_trip(data: st.DataObject, width: int, height: int) -> None:
    px = data.draw(st.integers(0, width - 1))
    py = data.draw(st.integers(0, height - 1))
    form = data.draw(st.sampled_from(["pyautogui.click({}, {})", "pyautogui.click(x={}, y={})"]))
    action = parse_action(form.format(px, py), image_size=(width, height))
    assert isinstance(action, Click)
    assert norm_to_pixels(action.x, action.y, width, height) == (px, py)


def _parses_or_refuses(text: str, image_size: tuple[int, int] | None = None) -> None:
    try:
        result = parse_action(text, image_size=image_size)
    except ParseError as e:
        assert e.reason
        assert isinstance(str(e), str)
    else:
        assert isinstance(result, ActionBase)


names = st.sampled_from(
    [*ACTION_TYPES, "pyautogui.click", "pyautogui.scroll", "pyautogui.hotkey", "clik", "x.y.z"]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
literals = (
    st.integers(-(10**30), 10**30)
    | st.integers(-5, 1005)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["ctrl+c", "enter", "+", "ctrl", "", " "])
)
fuzz_calls = st.builds(
    lambda name, args, kwargs: f"{name}({', '.join([*map(repr, args), *kwargs])})",
    names,
    st.lists(literals, max_size=5),
    st.lists(
        st.builds(
            "{}={!r}".format,
            st.sampled_from(["x", "y", "down", "up", "dx", "dy", "text", "keys", "z", "clicks"]),
            literals,
        ),
        max_size=3,
    ),
)
nested = st.builds(
    lambda opener, closer, n, core: opener * n + core + closer * n,
    st.sampled_from(["(", "[", "{", "click(", '{"a":', "[1,"]),
    st.sampled_from([")", "]", "}", ""]),
    st.integers(1, 6000),
    st.sampled_from(["", "1", "click(1, 2)", '"x"']),
)
huge_numbers = st.builds(
    "{}({}{}, 5)".format,
    st.sampled_from(["click", "pyautogui.click", "wait", "scroll", "ee_delta"]),
    st.sampled_from(["", "-", "0x", "1e", "9" * 10]),
    st.integers(1, 6000).map(lambda n: "9" * n),
)
fenced_junk = st.builds(
    "```{}\n{}\n```".format, st.sampled_from(["", "python", "json", "py ", "`"]), st.text()
)
wrong_json = st.builds(
    lambda t, fields: json.dumps({"type": t, **fields}),
    st.sampled_from([*ACTION_TYPES, "nope", 3, None]),
    st.dictionaries(
        st.sampled_from(["x", "y", "to_x", "dx", "dy", "text", "key", "keys", "seconds", "answer"]),
        json_values,
        max_size=4,
    ),
)
adversarial = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec=None, exclude_categories=())),  # lone surrogates too
    st.text(alphabet="()[]{}'\",:;=+-.0123456789 \n`\\abcdefgxyz_"),
    fuzz_calls,
    nested,
    huge_numbers,
    fenced_junk,
    wrong_json,
    json_values.map(json.dumps),
    st.lists(fuzz_calls | st.text(max_size=20), max_size=5).map("\n".join),
)


@settings(max_examples=1000, deadline=None)
@given(adversarial)
def test_any_text_parses_or_raises_parse_error(text: str) -> None:
    _parses_or_refuses(text)


@settings(max_examples=300, deadline=None)
@given(
    fuzz_calls | adversarial,
    st.none() | st.tuples(st.integers(-2, 5000), st.integers(-2, 5000)),
)
def test_any_text_with_image_size(text: str, image_size: tuple[int, int] | None) -> None:
    _parses_or_refuses(text, image_size)


@pytest.mark.parametrize(
    "text",
    [
        "\x00",
        "click(1, 2)\x00",
        "(" * 10_000,
        "[" * 19_000 + "]" * 1000,
        "{" * 19_000,
        '{"a":' * 4000,
        "click(" + "9" * 19_000 + ", 1)",
        "click(1" + "0" * 5000 + ", 1)",
        "wait(1e999999)",
        "ee_delta(" + "[" * 100 + "]" * 100 + ")",
        "pyautogui.click(1e300, 1)",
        "click(1e-400, 5)",
        "'\ud800'",
        "type_text('\ud800')",
        "\n".join(["x"] * 9000),
        "\n".join(["clik("] * 6000),
        "```" + " " * 19_000,
        "Action:" + " " * 19_000,
        "done(" + "'a' " * 4000 + ")",
        "click(" + "-" * 19_000 + "1, 2)",
        "~" * 19_990,
        "click(" + "not " * 4_900 + "1, 2)",
        "a" + ".a" * 9_900,
        "f" + "()" * 9_000,
        "click(" + "1+" * 9_000 + "1, 2)",
        "lambda:" * 2_800 + "1",
        "click(" + ",".join(["1"] * 9_000) + ")",
        "type_text(f'" + "{x}" * 4_000 + "')",
    ],
)
def test_adversarial_examples(text: str) -> None:
    _parses_or_refuses(text, (100, 100))
