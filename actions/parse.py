"""Model text to exactly one typed action.

:func:`parse_action` reads three forms:

* the SDK's call format, coordinates 0-1000 of the image: ``click(512, 300)``,
  ``scroll(500, 500, down=3)``, ``type_text("hi")``, ``hotkey("ctrl", "c")`` (what
  :meth:`~actions.schema.ActionBase.to_text` writes);
* a JSON object of the action schema, coordinates normalised: ``{"type": "click", "x": 0.5, ...}``;
* pyautogui calls with pixel coordinates of the image: ``pyautogui.click(100, 200)``.

Calls are read with :mod:`ast` and :func:`ast.literal_eval`, never evaluated. Anything that is not
exactly one valid action raises :class:`~actions.errors.ParseError` saying why; coordinates are
refused, never clamped.
"""

from __future__ import annotations

import ast
import difflib
import re
import warnings
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from actions.coords import MODEL_SCALE, model_to_norm, pixels_to_norm
from actions.errors import ActionError, ParseError
from actions.schema import (
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
    PointTarget,
    RightClick,
    Scroll,
    TypeText,
    Wait,
    action_from_json,
)

MAX_CHARS = 20_000
"""Longer model output is refused before any parsing."""

_POINTER: dict[str, type[ActionBase]] = {
    "click": Click,
    "double_click": DoubleClick,
    "right_click": RightClick,
    "move": Move,
    "point_target": PointTarget,
}
_SDK_NAMES = (
    *_POINTER, "drag", "scroll", "type_text", "key", "hotkey", "wait", "done", "fail", "ee_delta",
)  # fmt: skip
_PYAUTOGUI_NAMES = (
    "click", "doubleClick", "rightClick", "moveTo", "scroll", "write", "typewrite", "press",
    "hotkey", "dragTo", "drag",
)  # fmt: skip
_TIMING = ("interval", "duration")  # pyautogui keywords that do not change the action

_FENCE_TAG = re.compile(r"[\w+-]*[ \t]*\n")  # ```python, ```json, ``` then a newline
_PREFIX = re.compile(r"action\s*:\s*", re.IGNORECASE)
_CALL_LIKE = re.compile(r"[A-Za-z_][\w.]*\s*\(|\{")
_EXCEPTIONS = (ValueError, TypeError, SyntaxError, RecursionError, MemoryError, OverflowError)


class _Invalid(Exception):
    """Why a candidate text is not an action (turned into a ParseError with the whole text).

    ``syntax`` marks text that is not even one call or JSON object, so its lines are worth a look.
    """

    def __init__(self, reason: str, *, syntax: bool = False) -> None:
        super().__init__(reason)
        self.syntax = syntax


def parse_action(text: str, *, image_size: tuple[int, int] | None = None) -> ActionBase:
    """Parse model output into exactly one action, or raise :class:`ParseError` saying why.

    ``image_size`` is the observation image's ``(width, height)``; only pyautogui's pixel
    coordinates need it.
    """
    if not isinstance(text, str):
        raise ParseError(f"<{type(text).__name__}>", "model output must be a str")
    if len(text) > MAX_CHARS:
        raise ParseError(text, f"it is {len(text)} characters long; the limit is {MAX_CHARS}")
    try:
        return _parse_one(_unwrap(text), image_size)
    except _Invalid as whole:
        if not whole.syntax or len(text.strip().splitlines()) < 2:
            raise ParseError(text, str(whole)) from None
        found: list[tuple[int, ActionBase]] = []
        errors: list[str] = []
        for i, line in enumerate(text.splitlines(), 1):
            candidate = _unwrap(line)
            if not _CALL_LIKE.match(candidate):
                continue
            try:
                found.append((i, _parse_one(candidate, image_size)))
            except _Invalid as e:
                errors.append(f"line {i}: {e}")
        distinct = {a for _, a in found}
        if len(distinct) == 1:
            return found[0][1]
        if len(distinct) > 1:
            listed = "; ".join(f"line {i}: {a.to_text()}" for i, a in found)
            reason = f"it holds {len(distinct)} different actions ({listed}); give exactly one"
        elif len(errors) == 1:
            reason = errors[0]
        else:
            reason = f"no line is an action call ({whole})"
        raise ParseError(text, reason) from None


def _unwrap(text: str) -> str:
    """Strip what models wrap an action in: whitespace, a code fence, ``Action:``, a ``;``."""
    s = text.strip()
    if len(s) >= 6 and s.startswith("```") and s.endswith("```"):
        s = s[3:-3]
        if (m := _FENCE_TAG.match(s)) is not None:
            s = s[m.end() :]
        s = s.strip()
    if (m := _PREFIX.match(s)) is not None:
        s = s[m.end() :]
    s = s.strip().strip("`").strip()
    return s[:-1].rstrip() if s.endswith(";") else s


def _parse_one(s: str, image_size: tuple[int, int] | None) -> ActionBase:
    if not s:
        raise _Invalid("it is empty")
    try:
        if s.startswith("{"):
            return _from_json(s)
        name, module, args, kwargs = _read_call(s)
        if module == "pyautogui":
            return _pyautogui(name, args, kwargs, image_size)
        if module is not None:
            raise _Invalid(f"unknown module {module!r}; write {name}(...) or pyautogui.{name}(...)")
        return _sdk(name, args, kwargs)
    except ValidationError as e:
        raise _Invalid(_explain(e)) from None
    except ActionError as e:  # CoordinateError from actions.coords
        raise _Invalid(str(e)) from None
    except _EXCEPTIONS as e:
        raise _Invalid(f"{type(e).__name__}: {e}") from None


def _ast_parse(s: str) -> ast.Expression:
    with warnings.catch_warnings():  # e.g. invalid escapes in model text: not the caller's concern
        warnings.simplefilter("ignore")
        return ast.parse(s, mode="eval")


def _from_json(s: str) -> ActionBase:
    try:
        return action_from_json(s)
    except ValidationError as e:
        if e.errors()[0]["type"] != "json_invalid":
            raise
        try:  # a Python dict literal ({'type': 'click', ...}) is fine too
            data = ast.literal_eval(_ast_parse(s))
        except _EXCEPTIONS:
            raise _Invalid(f"invalid JSON: {e.errors()[0]['msg']}", syntax=True) from None
        if not isinstance(data, dict):
            raise _Invalid("expected a JSON object") from None
        return action_from_json(data)


def _read_call(s: str) -> tuple[str, str | None, list[Any], dict[str, Any]]:
    """``name``, module prefix, and literal positional and keyword arguments of one call."""
    try:
        tree = _ast_parse(s)
    except _EXCEPTIONS as e:  # SyntaxError; UnicodeEncodeError (lone surrogates); MemoryError
        detail = (e.msg if isinstance(e, SyntaxError) else str(e)) or "nested too deeply"
        raise _Invalid(f"not a single call or JSON object ({detail})", syntax=True) from None
    call = tree.body
    if not isinstance(call, ast.Call):
        raise _Invalid("not an action call; expected e.g. click(512, 300)")
    func = call.func
    if isinstance(func, ast.Name):
        name, module = func.id, None
    elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        name, module = func.attr, func.value.id
    else:
        raise _Invalid("the called name must be an action such as click or pyautogui.click")
    args = [_literal(s, node, name) for node in call.args]
    kwargs: dict[str, Any] = {}
    for kw in call.keywords:
        if kw.arg is None:
            raise _Invalid(f"{name} cannot take **keyword unpacking")
        if kw.arg in kwargs:
            raise _Invalid(f"{name} got keyword {kw.arg!r} twice")
        kwargs[kw.arg] = _literal(s, kw.value, name)
    return name, module, args, kwargs


def _literal(src: str, node: ast.expr, func: str) -> Any:
    try:
        return ast.literal_eval(node)
    except _EXCEPTIONS:
        code = ast.get_source_segment(src, node) or "?"
        shown = code if len(code) <= 40 else code[:40] + "..."
        raise _Invalid(
            f"argument {shown!r} of {func} is not a literal; use numbers and quoted strings"
        ) from None


def _bind(
    func: str,
    params: Sequence[str],
    args: list[Any],
    kwargs: dict[str, Any],
    *,
    keyword_only: Sequence[str] = (),
    required: Sequence[str] = (),
    noun: str = "arguments",
) -> dict[str, Any]:
    """Match arguments to parameter names the way Python would, with specific errors."""
    for key in kwargs:
        if key not in params and key not in keyword_only:
            raise _Invalid(_unknown(f"keyword {key!r} for {func}", key, (*params, *keyword_only)))
    given = len(args) + sum(k in params for k in kwargs)
    if noun == "coordinates" and given != len(params):
        raise _Invalid(
            f"{func} takes {len(params)} coordinates, got {given}: {func}({', '.join(params)})"
        )
    if len(args) > len(params):
        raise _Invalid(f"{func} takes at most {len(params)} positional {noun}, got {len(args)}")
    bound = dict(zip(params, args, strict=False))
    for key, value in kwargs.items():
        if key in bound:
            raise _Invalid(f"{func} got {key!r} both by position and by keyword")
        bound[key] = value
    missing = [p for p in required if p not in bound]
    if missing:
        raise _Invalid(f"{func} needs {', '.join(missing)}")
    return bound


def _unknown(what: str, name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(known)}"
    return f"unknown {what}; {hint}"


def _number(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _Invalid(f"{what} must be a number, got {type(v).__name__}")
    return v


def _coord(v: Any, what: str) -> float:
    """A model coordinate (0-1000) to a normalised one."""
    v = _number(v, f"coordinate {what}")
    if not 0 <= v <= MODEL_SCALE:
        shown = v if abs(v) < 1e12 else "a huge number"
        raise _Invalid(
            f"coordinate {what}={shown} is outside 0..{MODEL_SCALE} (0-1000 of the image)"
        )
    return model_to_norm(v)


def _string(v: Any, what: str) -> str:
    if not isinstance(v, str):
        raise _Invalid(f"{what} must be a quoted string, got {type(v).__name__}")
    return v


def _count(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise _Invalid(f"{what} must be a whole number of wheel clicks, got {v!r}")
    return v


def _keys(keys: list[Any], func: str) -> ActionBase:
    """One key name, or several keys together; a single ``"ctrl+c"`` is split at ``+``."""
    names = [_string(k, f"a key of {func}") for k in keys]
    if len(names) == 1:
        names = [p.strip() or p for p in re.split(r"\+(?=.)", names[0])]
    return Key(key=names[0]) if len(names) == 1 else Hotkey(keys=tuple(names))


def _sdk(name: str, args: list[Any], kwargs: dict[str, Any]) -> ActionBase:
    """The SDK's own call format (what ``ActionBase.to_text`` writes)."""
    if name == "point_target":
        b = _bind(name, ("x", "y"), args, kwargs, keyword_only=("gripper",), noun="coordinates")
        grip = {"gripper": _string(b["gripper"], "gripper")} if "gripper" in b else {}
        return PointTarget(x=_coord(b["x"], "x"), y=_coord(b["y"], "y"), **grip)
    if name in _POINTER:
        b = _bind(name, ("x", "y"), args, kwargs, noun="coordinates")
        return _POINTER[name](x=_coord(b["x"], "x"), y=_coord(b["y"], "y"))
    if name == "drag":
        b = _bind(name, ("x1", "y1", "x2", "y2"), args, kwargs, noun="coordinates")
        pts = [_coord(b[k], k) for k in ("x1", "y1", "x2", "y2")]
        return Drag(x=pts[0], y=pts[1], to_x=pts[2], to_y=pts[3])
    if name == "scroll":
        amounts = ("down", "up", "right", "left", "dy", "dx")
        b = _bind(name, ("x", "y"), args, kwargs, keyword_only=amounts, required=("x", "y"))
        n = {k: _count(b.get(k, 0), k) for k in amounts}
        for k in ("down", "up", "right", "left"):
            if n[k] < 0:
                raise _Invalid(f"scroll {k}={n[k]} must not be negative; use the other direction")
        if (n["dy"] and (n["down"] or n["up"])) or (n["dx"] and (n["left"] or n["right"])):
            raise _Invalid("give scroll either dy=/dx= or down=/up=/left=/right=, not both")
        dy, dx = n["dy"] + n["down"] - n["up"], n["dx"] + n["right"] - n["left"]
        return Scroll(x=_coord(b["x"], "x"), y=_coord(b["y"], "y"), dx=dx, dy=dy)
    if name == "type_text":
        b = _bind(name, ("text",), args, kwargs, required=("text",))
        return TypeText(text=_string(b["text"], "type_text's text"))
    if name == "key":
        b = _bind(name, ("key",), args, kwargs, required=("key",))
        return _keys([b["key"]], name)
    if name == "hotkey":
        if kwargs or not args:
            raise _Invalid('hotkey takes the keys as quoted strings: hotkey("ctrl", "c")')
        return _keys(args, name)
    if name == "wait":
        b = _bind(name, ("seconds",), args, kwargs)
        return Wait(**{k: _number(v, "wait's seconds") for k, v in b.items()})
    if name == "done":
        b = _bind(name, ("answer",), args, kwargs)
        answer = b.get("answer")
        return Done(answer=None if answer is None else _string(answer, "done's answer"))
    if name == "fail":
        b = _bind(name, ("reason",), args, kwargs)
        return Fail(reason=_string(b.get("reason", ""), "fail's reason"))
    if name == "ee_delta":
        b = _bind(name, ("dx", "dy", "dz", "gripper"), args, kwargs)
        return EEDelta(**{k: _number(v, f"ee_delta's {k}") for k, v in b.items()})
    raise _Invalid(_unknown(f"action {name!r}", name, _SDK_NAMES))


def _pyautogui(
    name: str, args: list[Any], kwargs: dict[str, Any], image_size: tuple[int, int] | None
) -> ActionBase:
    """pyautogui calls; coordinates are integer pixels of the observation image."""
    if name not in _PYAUTOGUI_NAMES:
        raise _Invalid(_unknown(f"pyautogui function {name!r}", name, _PYAUTOGUI_NAMES))
    if name in ("dragTo", "drag"):
        raise _Invalid(
            f"pyautogui.{name} starts from the unknown current pointer position; "
            "use drag(x1, y1, x2, y2) with both points (0-1000 of the image)"
        )
    for k in _TIMING:  # accepted and checked, but an action has no timing
        if k in kwargs:
            _number(kwargs.pop(k), f"pyautogui.{name}'s {k}")
    if name in ("write", "typewrite"):
        b = _bind(f"pyautogui.{name}", ("message",), args, kwargs, required=("message",))
        return TypeText(text=_string(b["message"], f"pyautogui.{name}'s text"))
    if name == "press":
        b = _bind("pyautogui.press", ("keys",), args, kwargs, required=("keys",))
        return _keys([b["keys"]], "pyautogui.press")
    if name == "hotkey":
        if kwargs or not args:
            raise _Invalid("pyautogui.hotkey takes the keys as quoted strings")
        return _keys(args, "pyautogui.hotkey")
    if name == "scroll":
        b = _bind("pyautogui.scroll", ("clicks", "x", "y"), args, kwargs, required=("clicks",))
        if "x" not in b or "y" not in b:
            raise _Invalid(
                "pyautogui.scroll needs x= and y= (the pointer position is unknown); "
                "or use scroll(x, y, down=3) with 0-1000 coordinates"
            )
        x, y = _pixels(b["x"], b["y"], image_size)
        return Scroll(x=x, y=y, dy=-_count(b["clicks"], "pyautogui.scroll's clicks"))
    extra = ("clicks", "button") if name == "click" else ()
    b = _bind(f"pyautogui.{name}", ("x", "y"), args, kwargs, keyword_only=extra)
    if "x" not in b or "y" not in b:
        raise _Invalid(f"pyautogui.{name} needs both x and y (pixels of the image)")
    x, y = _pixels(b["x"], b["y"], image_size)
    if name != "click":
        cls = {"doubleClick": DoubleClick, "rightClick": RightClick, "moveTo": Move}[name]
        return cls(x=x, y=y)
    button, clicks = b.get("button", "left"), b.get("clicks", 1)
    if button in ("left", "primary") and clicks in (1, 2):
        return (Click if clicks == 1 else DoubleClick)(x=x, y=y)
    if button in ("right", "secondary") and clicks == 1:
        return RightClick(x=x, y=y)
    raise _Invalid(
        f"pyautogui.click with button={button!r}, clicks={clicks!r} is not an action; "
        "use button='left' (clicks=1 or 2) or button='right' (clicks=1)"
    )


def _pixels(px: Any, py: Any, image_size: tuple[int, int] | None) -> tuple[float, float]:
    if image_size is None:
        raise _Invalid(
            "pyautogui coordinates are pixels, so parse_action needs image_size=(width, height) "
            "of the observation image; or write click(x, y) with 0-1000 coordinates"
        )
    width, height = image_size
    pixels = []
    for v, axis in ((px, "x"), (py, "y")):
        v = _number(v, f"pixel {axis}")
        if isinstance(v, float) and not v.is_integer():
            raise _Invalid(f"pixel {axis}={v} must be a whole pixel of the {width}x{height} image")
        pixels.append(int(v))
    return pixels_to_norm(pixels[0], pixels[1], width, height)


def _explain(e: ValidationError) -> str:
    """pydantic's errors in one line: ``field: message; ...``."""
    parts = []
    for err in e.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "invalid action: " + "; ".join(parts)
