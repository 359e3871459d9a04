"""The action union, the tool schema, validation messages and observations."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from actions.coords import ScreenFrame
from actions.schema import (
    ACTION_ADAPTER,
    ACTION_TYPES,
    ROBOT_ACTION_TYPES,
    UI_ACTION_TYPES,
    ActionBase,
    CameraInfo,
    Click,
    Done,
    Drag,
    EEDelta,
    Fail,
    Hotkey,
    Key,
    Observation,
    Scroll,
    TypeText,
    Wait,
    action_from_json,
    tool_schema,
)

#: One valid example of every action type, as the JSON-side dict.
EXAMPLES: dict[str, dict[str, Any]] = {
    "click": {"x": 0.5, "y": 0.25},
    "double_click": {"x": 0.0, "y": 1.0},
    "right_click": {"x": 1.0, "y": 0.0},
    "move": {"x": 0.3, "y": 0.3},
    "drag": {"x": 0.1, "y": 0.2, "to_x": 0.9, "to_y": 0.8},
    "scroll": {"x": 0.5, "y": 0.5, "dy": 3},
    "type_text": {"text": "hello"},
    "key": {"key": "enter"},
    "hotkey": {"keys": ["ctrl", "c"]},
    "wait": {"seconds": 2.0},
    "done": {"answer": "42"},
    "fail": {"reason": "stuck"},
    "ee_delta": {"dx": 0.1, "dy": -0.1, "dz": 0.0, "gripper": 1.0},
    "point_target": {"x": 0.4, "y": 0.6},
}


def test_examples_cover_every_type() -> None:
    assert set(EXAMPLES) == set(ACTION_TYPES)
    assert set(ACTION_TYPES) == UI_ACTION_TYPES | ROBOT_ACTION_TYPES


@pytest.mark.parametrize("kind", sorted(ACTION_TYPES))
def test_discriminated_union_picks_the_class(kind: str) -> None:
    data = {"type": kind, **EXAMPLES[kind]}
    action = ACTION_ADAPTER.validate_python(data)
    assert type(action) is ACTION_TYPES[kind]
    assert action.type == kind  # type: ignore[attr-defined]
    assert action_from_json(data) == action
    assert action_from_json(json.dumps(data)) == action
    assert action_from_json(action.to_json()) == action
    assert action_from_json(action.to_json().encode()) == action


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"x": 0.5, "y": 0.5}, "Unable to extract tag using discriminator 'type'"),
        ({"type": "clack", "x": 0.5, "y": 0.5}, "'clack'"),
        ({"type": "click", "x": 0.5}, "y\n  Field required"),
    ],
)
def test_union_errors_name_the_problem(data: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        action_from_json(data)
    assert fragment in str(info.value)


def test_tool_schema_lists_every_action_and_is_json() -> None:
    schema = tool_schema()
    assert json.loads(json.dumps(schema)) == schema
    mapping = schema["discriminator"]["mapping"]
    assert schema["discriminator"]["propertyName"] == "type"
    assert set(mapping) == set(ACTION_TYPES)
    refs = {entry["$ref"] for entry in schema["oneOf"]}
    assert refs == set(mapping.values())
    assert len(schema["oneOf"]) == len(ACTION_TYPES)
    for kind, ref in mapping.items():
        definition = schema["$defs"][ref.rsplit("/", 1)[-1]]
        assert definition["properties"]["type"]["const"] == kind
        # validation needs the tag, so the schema that LLMs decode against must require it
        assert "type" in definition["required"]
        assert definition.get("additionalProperties") is False


def test_tool_schema_carries_bounds_and_descriptions() -> None:
    defs = tool_schema()["$defs"]
    x = defs["Click"]["properties"]["x"]
    assert (x["minimum"], x["maximum"]) == (0.0, 1.0)
    assert x["description"]
    assert defs["Scroll"]["properties"]["dy"]["maximum"] == 50
    assert defs["EEDelta"]["properties"]["gripper"]["minimum"] == -1.0
    assert defs["Hotkey"]["properties"]["keys"]["minItems"] == 2


@pytest.mark.parametrize(
    ("cls", "kwargs", "fragment"),
    [
        (Click, {"x": 1.5, "y": 0.3}, "less than or equal to 1"),
        (Click, {"x": -0.1, "y": 0.3}, "greater than or equal to 0"),
        (Click, {"x": math.nan, "y": 0.3}, "finite number"),
        (Click, {"x": math.inf, "y": 0.3}, "finite number"),
        (Click, {"x": 0.5, "y": 0.5, "z": 1}, "Extra inputs are not permitted"),
        (Drag, {"x": 0.1, "y": 0.1, "to_x": 1.1, "to_y": 0.1}, "to_x"),
        (Scroll, {"x": 0.5, "y": 0.5}, "non-zero dx or dy"),
        (Scroll, {"x": 0.5, "y": 0.5, "dx": 0, "dy": 0}, "non-zero dx or dy"),
        (Scroll, {"x": 0.5, "y": 0.5, "dy": 51}, "less than or equal to 50"),
        (Scroll, {"x": 0.5, "y": 0.5, "dy": 1.5}, "valid integer"),
        (TypeText, {"text": ""}, "at least 1 character"),
        (TypeText, {"text": "a" * 2001}, "at most 2000 characters"),
        (Key, {"key": "hyper"}, "unknown key 'hyper'"),
        (Key, {"key": ""}, "unknown key ''"),
        (Key, {"key": "\n"}, "unknown key"),
        (Hotkey, {"keys": ("a", "b")}, "needs a modifier"),
        (Hotkey, {"keys": ("c", "ctrl")}, "needs a modifier"),
        (Hotkey, {"keys": ("ctrl",)}, "at least 2 items"),
        (Hotkey, {"keys": ("ctrl", "alt", "shift", "win", "a")}, "at most 4 items"),
        (Hotkey, {"keys": ("ctrl", "nope")}, "unknown key 'nope'"),
        (Wait, {"seconds": -1}, "greater than or equal to 0"),
        (Wait, {"seconds": 61}, "less than or equal to 60"),
        (Done, {"answer": "a" * 2001}, "at most 2000 characters"),
        (Fail, {"reason": 3}, "valid string"),
        (EEDelta, {"dx": 1.01}, "less than or equal to 1"),
        (EEDelta, {"gripper": -2}, "greater than or equal to -1"),
        (EEDelta, {"dz": math.nan}, "finite number"),
        (Click, {"type": "double_click", "x": 0.5, "y": 0.5}, "'click'"),
    ],
)
def test_invalid_actions(cls: type[ActionBase], kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        cls(**kwargs)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [("Return", "enter"), ("ESC", "escape"), ("A", "a"), (" ", "space"), ("PgDn", "pagedown")],
)
def test_key_names_are_normalised(alias: str, canonical: str) -> None:
    assert Key(key=alias).key == canonical
    assert Hotkey(keys=("Control", alias)).keys == ("ctrl", canonical)


@pytest.mark.parametrize(
    ("action", "text"),
    [
        (Click(x=0.512, y=0.3), "click(512, 300)"),
        (Drag(x=0.1, y=0.2, to_x=0.4, to_y=0.2), "drag(100, 200, 400, 200)"),
        (Scroll(x=0.5, y=0.5, dy=3), "scroll(500, 500, down=3)"),
        (Scroll(x=0.5, y=0.5, dx=-2, dy=-1), "scroll(500, 500, up=1, left=2)"),
        (TypeText(text='say "hi"\n'), 'type_text("say \\"hi\\"\\n")'),
        (Key(key="enter"), 'key("enter")'),
        (Hotkey(keys=("ctrl", "c")), 'hotkey("ctrl", "c")'),
        (Wait(), "wait(1)"),
        (Wait(seconds=0.25), "wait(0.25)"),
        (Wait(seconds=1.234567891), "wait(1.234567891)"),
        (Done(), "done()"),
        (Done(answer="é 😀"), 'done("é 😀")'),
        (Fail(), "fail()"),
        (EEDelta(dx=0.5, gripper=-1), "ee_delta(0.5, 0, 0, -1)"),
        (EEDelta(dz=0.123456789), "ee_delta(0, 0, 0.123456789, 0)"),
    ],
)
def test_to_text(action: ActionBase, text: str) -> None:
    assert action.to_text() == text


def test_terminal_flags() -> None:
    terminal = {kind for kind, cls in ACTION_TYPES.items() if cls.terminal}
    assert terminal == {"done", "fail"}


@pytest.mark.parametrize("kind", sorted(ACTION_TYPES))
def test_actions_are_frozen_and_hashable(kind: str) -> None:
    action = action_from_json({"type": kind, **EXAMPLES[kind]})
    field = next(f for f in type(action).model_fields if f != "type")
    with pytest.raises(ValidationError, match="frozen"):
        setattr(action, field, None)
    assert hash(action) == hash(action_from_json(action.to_json()))


# --- observations ------------------------------------------------------------------------------


def _image(h: int = 4, w: int = 6) -> np.ndarray:
    return np.zeros((h, w, 3), dtype=np.uint8)


def test_observation_valid() -> None:
    frame = ScreenFrame(width=6, height=4)
    obs = Observation(image=_image(), instruction="click OK", frame=frame, step=3)
    assert obs.size == (6, 4)
    assert obs.depth is None and obs.camera is None
    depth = np.ones((4, 6), dtype=np.float32)
    camera = CameraInfo(intrinsics=np.eye(3), extrinsics=np.eye(4).tolist())
    obs = Observation(image=_image(), instruction="pick", depth=depth, camera=camera)
    assert obs.camera is not None and obs.camera.extrinsics.shape == (4, 4)


def test_observation_takes_array_likes() -> None:
    obs = Observation(image=Image.new("RGB", (6, 4), (1, 2, 3)), instruction="x")
    assert isinstance(obs.image, np.ndarray) and obs.image.shape == (4, 6, 3)
    assert obs.size == (6, 4)


@pytest.mark.parametrize(
    ("image", "fragment"),
    [
        (np.zeros((4, 6), dtype=np.uint8), "got shape (4, 6) and dtype uint8"),
        (np.zeros((4, 6, 4), dtype=np.uint8), "got shape (4, 6, 4)"),
        (np.zeros((4, 6, 3), dtype=np.float32), "dtype float32"),
        (np.zeros((0, 6, 3), dtype=np.uint8), "non-empty"),
        ([[1, 2, 3]], "got shape (1, 3)"),
    ],
)
def test_observation_bad_image(image: Any, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        Observation(image=image, instruction="x")
    message = str(info.value)
    assert fragment in message
    assert "np.asarray(pil_image.convert('RGB'))" in message


def test_observation_depth_must_match_the_image() -> None:
    with pytest.raises(
        ValidationError, match=r"depth shape \(6, 4\) must equal the image's \(4, 6\)"
    ):
        Observation(image=_image(), instruction="x", depth=np.zeros((6, 4), dtype=np.float32))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"intrinsics": np.eye(4), "extrinsics": np.eye(4)}, "intrinsics must be a finite 3x3"),
        ({"intrinsics": np.eye(3), "extrinsics": np.eye(3)}, "extrinsics must be a finite 4x4"),
        ({"intrinsics": np.full((3, 3), np.nan), "extrinsics": np.eye(4)}, "finite 3x3"),
    ],
)
def test_camera_info_validates(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        CameraInfo(**kwargs)


def test_observation_rejects_negative_step_and_is_frozen() -> None:
    with pytest.raises(ValidationError):
        Observation(image=_image(), instruction="x", step=-1)
    obs = Observation(image=_image(), instruction="x")
    with pytest.raises(ValidationError, match="frozen"):
        obs.step = 2  # type: ignore[misc]
