"""Typed actions and observations: the contract between perception, the agent and executors.

Every action is a frozen pydantic model; :data:`Action` is their union, discriminated on
``type``. Points are normalised to the observation image (``x, y`` in ``[0, 1]`` from the
top-left). :func:`tool_schema` is the JSON schema that tool-calling LLMs get, and
:meth:`ActionBase.to_text` writes an action in the SDK's model format (``click(512, 300)``),
which :func:`actions.parse.parse_action` reads back.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal, Union

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    TypeAdapter,
    field_validator,
    model_validator,
)

from actions.coords import ScreenFrame, norm_to_model
from actions.keys import MODIFIERS, normalize_key

Unit = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
"""A normalised image coordinate."""
Signed = Annotated[float, Field(ge=-1.0, le=1.0, allow_inf_nan=False)]
"""A motor command component."""


def _num(v: float) -> str:
    """Shortest text of a float that reads back as the same float (``1``, ``0.1234567``)."""
    short = f"{v:g}"
    return short if float(short) == v else repr(v)


def _require_type(schema: dict[str, Any]) -> None:
    """The tool schema must require the ``type`` tag: validation cannot do without it."""
    if "type" in schema.get("properties", {}):
        schema["required"] = ["type", *schema.get("required", [])]


class ActionBase(BaseModel):
    """Fields and helpers shared by every action."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_require_type)

    #: Whether the action ends the episode from the agent's side.
    terminal: ClassVar[bool] = False

    def to_text(self) -> str:
        """The action in the SDK's model format, e.g. ``click(512, 300)``."""
        raise NotImplementedError

    def to_json(self) -> str:
        """The action as the JSON that environments take as their ``Text`` action."""
        return self.model_dump_json()


class PointerAction(ActionBase):
    """An action at one point of the image."""

    x: Unit = Field(description="horizontal position, 0 = left edge, 1 = right edge")
    y: Unit = Field(description="vertical position, 0 = top edge, 1 = bottom edge")

    @property
    def point(self) -> tuple[float, float]:
        """The normalised ``(x, y)``."""
        return self.x, self.y

    def to_text(self) -> str:
        return f"{self.type}({norm_to_model(self.x)}, {norm_to_model(self.y)})"  # type: ignore[attr-defined]


class Click(PointerAction):
    """Left click at a point."""

    type: Literal["click"] = "click"


class DoubleClick(PointerAction):
    """Double left click at a point."""

    type: Literal["double_click"] = "double_click"


class RightClick(PointerAction):
    """Right click at a point."""

    type: Literal["right_click"] = "right_click"


class Move(PointerAction):
    """Move the pointer to a point without clicking."""

    type: Literal["move"] = "move"


class Drag(PointerAction):
    """Press at ``(x, y)``, move to ``(to_x, to_y)`` and release."""

    type: Literal["drag"] = "drag"
    to_x: Unit = Field(description="horizontal release position")
    to_y: Unit = Field(description="vertical release position")

    @property
    def end(self) -> tuple[float, float]:
        """The normalised release point."""
        return self.to_x, self.to_y

    def to_text(self) -> str:
        pts = (self.x, self.y, self.to_x, self.to_y)
        return "drag({}, {}, {}, {})".format(*(norm_to_model(v) for v in pts))


class Scroll(PointerAction):
    """Scroll the wheel over a point; positive ``dy`` scrolls down, positive ``dx`` right."""

    type: Literal["scroll"] = "scroll"
    dx: int = Field(0, ge=-50, le=50, description="wheel clicks to the right (negative: left)")
    dy: int = Field(0, ge=-50, le=50, description="wheel clicks down (negative: up)")

    @model_validator(mode="after")
    def _moves(self) -> Scroll:
        if self.dx == 0 and self.dy == 0:
            raise ValueError("scroll needs a non-zero dx or dy (wheel clicks)")
        return self

    def to_text(self) -> str:
        parts = [str(norm_to_model(self.x)), str(norm_to_model(self.y))]
        if self.dy:
            parts.append(f"{'down' if self.dy > 0 else 'up'}={abs(self.dy)}")
        if self.dx:
            parts.append(f"{'right' if self.dx > 0 else 'left'}={abs(self.dx)}")
        return f"scroll({', '.join(parts)})"


class TypeText(ActionBase):
    """Type a string into the focused element."""

    type: Literal["type_text"] = "type_text"
    text: str = Field(min_length=1, max_length=2000, description="the characters to type")

    def to_text(self) -> str:
        return f"type_text({json.dumps(self.text, ensure_ascii=False)})"


class Key(ActionBase):
    """Press and release one key (pyautogui names: enter, tab, escape, a, ...)."""

    type: Literal["key"] = "key"
    key: str = Field(description="key name, e.g. enter, tab, escape, backspace, a")

    @field_validator("key")
    @classmethod
    def _known(cls, v: str) -> str:
        return normalize_key(v)

    def to_text(self) -> str:
        return f"key({json.dumps(self.key)})"


class Hotkey(ActionBase):
    """Press keys together, modifiers first (``["ctrl", "c"]``)."""

    type: Literal["hotkey"] = "hotkey"
    keys: tuple[str, ...] = Field(min_length=2, max_length=4, description="keys, modifiers first")

    @field_validator("keys")
    @classmethod
    def _known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        keys = tuple(normalize_key(k) for k in v)
        if not any(k in MODIFIERS for k in keys[:-1]):
            raise ValueError(f"a hotkey needs a modifier ({', '.join(sorted(MODIFIERS))}) first")
        return keys

    def to_text(self) -> str:
        return f"hotkey({', '.join(json.dumps(k) for k in self.keys)})"


class Wait(ActionBase):
    """Do nothing for a while (let the screen settle)."""

    type: Literal["wait"] = "wait"
    seconds: float = Field(1.0, ge=0.0, le=60.0, allow_inf_nan=False)

    def to_text(self) -> str:
        return f"wait({_num(self.seconds)})"


class Done(ActionBase):
    """The agent believes the task is complete; ``answer`` carries any requested answer."""

    type: Literal["done"] = "done"
    terminal: ClassVar[bool] = True
    answer: str | None = Field(None, max_length=2000)

    def to_text(self) -> str:
        if self.answer is None:
            return "done()"
        return f"done({json.dumps(self.answer, ensure_ascii=False)})"


class Fail(ActionBase):
    """The agent gives up; ``reason`` says why."""

    type: Literal["fail"] = "fail"
    terminal: ClassVar[bool] = True
    reason: str = Field("", max_length=2000)

    def to_text(self) -> str:
        return f"fail({json.dumps(self.reason, ensure_ascii=False)})" if self.reason else "fail()"


class EEDelta(ActionBase):
    """Robot end-effector displacement and gripper command, each in ``[-1, 1]``.

    The motor layer scales the displacement to metres; ``gripper`` -1 closes, +1 opens.
    """

    type: Literal["ee_delta"] = "ee_delta"
    dx: Signed = 0.0
    dy: Signed = 0.0
    dz: Signed = 0.0
    gripper: Signed = 0.0

    def to_text(self) -> str:
        parts = (self.dx, self.dy, self.dz, self.gripper)
        return "ee_delta({}, {}, {}, {})".format(*(_num(v) for v in parts))


class PointTarget(PointerAction):
    """An image point the motor layer turns into a 3-D goal with depth and the camera.

    ``gripper`` says what to do there: ``"keep"`` moves the gripper to the point, ``"close"``
    picks up what lies at it, ``"open"`` puts down what the gripper holds (see
    :mod:`actions.motor`). Text: ``point_target(512, 300)``, ``point_target(512, 300,
    gripper="close")``.
    """

    type: Literal["point_target"] = "point_target"
    gripper: Literal["keep", "close", "open"] = Field(
        "keep", description="keep: move there; close: pick up what is there; open: put down there"
    )

    def to_text(self) -> str:
        text = super().to_text()
        return text if self.gripper == "keep" else f'{text[:-1]}, gripper="{self.gripper}")'


Action = Annotated[
    Union[  # noqa: UP007 - a Union reads better than a 14-line | chain here
        Click, DoubleClick, RightClick, Move, Drag, Scroll, TypeText, Key, Hotkey, Wait,
        Done, Fail, EEDelta, PointTarget,
    ],
    Field(discriminator="type"),
]  # fmt: skip
"""Any action; validate with :data:`ACTION_ADAPTER` or :func:`action_from_json`."""

ACTION_TYPES: dict[str, type[ActionBase]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        Click, DoubleClick, RightClick, Move, Drag, Scroll, TypeText, Key, Hotkey, Wait,
        Done, Fail, EEDelta, PointTarget,
    )
}  # fmt: skip
"""Action classes by their ``type`` tag."""

UI_ACTION_TYPES = frozenset(ACTION_TYPES) - {"ee_delta", "point_target"}
ROBOT_ACTION_TYPES = frozenset({"ee_delta", "point_target", "wait", "done", "fail"})

ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)


class ActionSchema(RootModel[Action]):
    """One action, as a model: ``ActionSchema.model_json_schema()`` is the tool schema."""


def tool_schema() -> dict[str, Any]:
    """JSON schema of one action, for tool-calling LLMs and JSON-mode decoding."""
    return ActionSchema.model_json_schema()


def action_from_json(data: str | bytes | dict[str, Any]) -> ActionBase:
    """Validate JSON text or a dict into an action (raises pydantic's ``ValidationError``)."""
    if isinstance(data, dict):
        return ACTION_ADAPTER.validate_python(data)
    return ACTION_ADAPTER.validate_json(data)


class CameraInfo(BaseModel):
    """Pinhole intrinsics and camera-to-world extrinsics of an observation's camera."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    intrinsics: np.ndarray = Field(description="3x3 matrix K, pixels")
    extrinsics: np.ndarray = Field(description="4x4 camera-to-world transform, metres")

    @field_validator("intrinsics", "extrinsics", mode="before")
    @classmethod
    def _matrix(cls, v: Any, info: Any) -> np.ndarray:
        size = 3 if info.field_name == "intrinsics" else 4
        arr = np.asarray(v, dtype=np.float64)
        if arr.shape != (size, size) or not np.isfinite(arr).all():
            raise ValueError(f"{info.field_name} must be a finite {size}x{size} matrix")
        return arr


class Observation(BaseModel):
    """What an agent sees at one step: an RGB image and the instruction, plus optional extras."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    image: np.ndarray = Field(description="H x W x 3 uint8 RGB")
    instruction: str
    depth: np.ndarray | None = Field(None, description="H x W float32 depth in metres")
    camera: CameraInfo | None = None
    frame: ScreenFrame | None = Field(None, description="where the image lies on a live screen")
    step: int = Field(0, ge=0)
    timestamp: float | None = Field(
        None, description="when a live source captured the image, seconds since the epoch"
    )

    @field_validator("image", mode="before")
    @classmethod
    def _rgb(cls, v: Any) -> np.ndarray:
        arr = np.asarray(v)
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8 or 0 in arr.shape:
            raise ValueError(
                f"image must be a non-empty H x W x 3 uint8 array, got shape {arr.shape} "
                f"and dtype {arr.dtype}; convert with np.asarray(pil_image.convert('RGB'))"
            )
        return arr

    @model_validator(mode="after")
    def _depth_matches(self) -> Observation:
        if self.depth is not None and self.depth.shape != self.image.shape[:2]:
            raise ValueError(
                f"depth shape {self.depth.shape} must equal the image's {self.image.shape[:2]}"
            )
        return self

    @property
    def size(self) -> tuple[int, int]:
        """Image ``(width, height)`` in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])
