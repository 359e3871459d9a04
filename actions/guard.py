"""The guard: a policy that every action passes before an executor runs it.

:class:`Guard.check` turns an action into a :class:`GuardDecision` (allowed or not, whether a
human must approve it first, and why) and records it in :attr:`Guard.history`. A refusal is a
decision, not an exception; callers that want one raise :class:`~actions.errors.GuardRejected`.

Rules, in the order they are checked (the first that fails gives the reason):

1. keys: a key in ``deny_keys`` (alone or in a hotkey); a hotkey that holds every key of a
   ``deny_hotkeys`` combination, in any order (extra keys do not get it past); anything outside
   ``allow_keys`` when that is set;
2. text: ``type_text`` matching a ``deny_text`` pattern;
3. points: a pointer action (both ends of a drag) inside a ``forbidden_regions`` box, or a point
   that the given :class:`~actions.coords.ScreenFrame` cannot map to the screen;
4. budget: more than ``max_actions`` in the episode or ``max_actions_per_s`` in the last second.

``done`` and ``fail`` touch nothing, so they always pass (an agent can always end its episode).

An allowed action then goes through the approval rules; any reason they give marks it
``needs_approval`` (it still counts against the budget). Robot actions pass unless a rule
says otherwise: ``point_target`` is a pointer action for the region rule, and every robot
action counts against the budget.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from actions.coords import ScreenFrame
from actions.errors import CoordinateError
from actions.keys import MODIFIERS, normalize_key
from actions.schema import ActionBase, Drag, Hotkey, Key, PointerAction, TypeText

Combo = tuple[str, ...]
"""Key names of a key or hotkey in the canonical order of :func:`combo` (order-insensitive)."""
Box = tuple[float, float, float, float]
"""A normalised box ``(x0, y0, x1, y1)`` of the observation image, edges included."""
ApprovalRule = Callable[[ActionBase], str | None]
"""Returns why an action needs a human's approval, or ``None`` when it does not."""

DEFAULT_DENY_HOTKEYS: tuple[str, ...] = (
    "ctrl+alt+delete",  # secure attention (Windows), reboot (some Linux)
    "ctrl+alt+backspace",  # kill the X server
    "win+l", "ctrl+alt+l",  # lock the session
    "alt+f4",  # close the window (on the desktop: shut down)
    "ctrl+alt+t", "alt+f2", "win+r",  # open a terminal or a run-a-command box
    "ctrl+shift+escape",  # task manager
    "command+q", "command+option+escape",  # quit, force quit (macOS; covers command+shift+q)
    *(f"ctrl+alt+f{i}" for i in range(1, 13)),  # switch to a virtual console
)  # fmt: skip
"""Hotkeys that lock, log out, kill or escape the session; refused by default."""


def combo(keys: str | Sequence[str]) -> Combo:
    """Canonical key names of ``"ctrl+alt+del"`` or ``["del", "ctrl", "alt"]``, modifiers first.

    Both give ``("alt", "ctrl", "delete")``; ``"ctrl++"`` is ctrl and the ``+`` key.
    """
    parts = re.split(r"\+(?=.)", keys) if isinstance(keys, str) else list(keys)
    if not parts or not all(isinstance(p, str) and p for p in parts):
        raise ValueError(f"{keys!r} is not a key or hotkey; write 'ctrl+c' or ['ctrl', 'c']")
    return tuple(sorted({normalize_key(p) for p in parts}, key=lambda k: (k not in MODIFIERS, k)))


def check_box(box: Any) -> Box:
    """A normalised box with ``0 <= x0 < x1 <= 1`` and ``0 <= y0 < y1 <= 1``, or ``ValueError``."""
    try:
        x0, y0, x1, y1 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise ValueError(f"box {box!r} must be 4 numbers: x0, y0, x1, y1") from None
    if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
        raise ValueError(
            f"box {box!r} must satisfy 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 "
            "(normalised to the observation image)"
        )
    return x0, y0, x1, y1


def action_points(action: ActionBase) -> tuple[tuple[float, float], ...]:
    """The normalised points an action touches: none, one, or a drag's two ends."""
    if isinstance(action, Drag):
        return action.point, action.end
    if isinstance(action, PointerAction):
        return (action.point,)
    return ()


class GuardConfig(BaseModel):
    """What the guard refuses; every field is checked and a bad value is named."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    deny_hotkeys: tuple[Combo, ...] = Field(
        DEFAULT_DENY_HOTKEYS,
        validate_default=True,
        description="hotkeys refused in any order, as 'ctrl+alt+del' or ['ctrl', 'alt', 'del']",
    )
    deny_keys: tuple[str, ...] = Field(
        (),
        description="keys refused alone and inside hotkeys; none by default, since one key "
        "cannot lock or leave a session (deny 'win' to keep the OS launcher shut)",
    )
    allow_keys: frozenset[Combo] | None = Field(
        None, description="when set, the only keys and hotkeys allowed ('enter', 'ctrl+c')"
    )
    forbidden_regions: tuple[Box, ...] = Field(
        (), description="normalised boxes (x0, y0, x1, y1) no pointer action may touch"
    )
    deny_text: tuple[str, ...] = Field(
        (), description="regular expressions that type_text must not match (re.search)"
    )
    max_actions: int | None = Field(200, ge=1, description="actions per episode; None: no limit")
    max_actions_per_s: int | None = Field(
        20, ge=1, description="actions in any one-second window; None: no limit"
    )
    dry_run: bool = Field(False, description="record actions instead of executing them")

    @field_validator("deny_hotkeys", mode="before")
    @classmethod
    def _hotkeys(cls, v: Any) -> tuple[Combo, ...]:
        combos = tuple(combo(k) for k in _entries(v, "deny_hotkeys"))
        if short := [c for c in combos if len(c) < 2]:
            raise ValueError(f"{short} are single keys; put them in deny_keys")
        return combos

    @field_validator("deny_keys", mode="before")
    @classmethod
    def _keys(cls, v: Any) -> tuple[str, ...]:
        return tuple(normalize_key(k) for k in _entries(v, "deny_keys"))

    @field_validator("allow_keys", mode="before")
    @classmethod
    def _allowed(cls, v: Any) -> frozenset[Combo] | None:
        return None if v is None else frozenset(combo(k) for k in _entries(v, "allow_keys"))

    @field_validator("forbidden_regions", mode="before")
    @classmethod
    def _regions(cls, v: Any) -> tuple[Box, ...]:
        return tuple(check_box(b) for b in _entries(v, "forbidden_regions"))

    @field_validator("deny_text")
    @classmethod
    def _patterns(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in v:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"deny_text pattern {pattern!r} is not a regex: {err}") from None
        return v


def _entries(v: Any, field: str) -> list[Any]:
    """The entries of a list-like field value; a bare string would be read letter by letter."""
    if isinstance(v, str):
        raise ValueError(f"{field} takes a list, got the string {v!r}; write [{v!r}]")
    if not isinstance(v, (list, tuple, set, frozenset)):
        raise ValueError(f"{field} takes a list, got {type(v).__name__} {v!r}")
    return list(v)


@dataclass(frozen=True)
class GuardDecision:
    """The guard's verdict on one action."""

    action: ActionBase
    allowed: bool
    needs_approval: bool = False
    reason: str | None = None
    """Why it was refused or needs approval; ``None`` when it simply passes."""

    @property
    def executable(self) -> bool:
        """Whether an executor may run it without asking anyone."""
        return self.allowed and not self.needs_approval


class Guard:
    """Checks actions against a :class:`GuardConfig` and approval rules, one episode at a time.

    ``clock`` (seconds, monotonic) drives the rate limit; tests pass a fake one.
    """

    def __init__(
        self,
        config: GuardConfig | None = None,
        require_approval: Sequence[ApprovalRule] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config or GuardConfig()
        self.require_approval = tuple(require_approval)
        self.clock = clock
        self._deny_text = [re.compile(p) for p in self.config.deny_text]
        self.history: list[GuardDecision] = []
        self._count = 0
        self._recent: deque[float] = deque()

    @property
    def dry_run(self) -> bool:
        """Whether actions should be recorded rather than executed."""
        return self.config.dry_run

    def reset(self) -> None:
        """Start a new episode: empty history, fresh budget and rate window."""
        self.history.clear()
        self._count = 0
        self._recent.clear()

    def check(self, action: ActionBase, frame: ScreenFrame | None = None) -> GuardDecision:
        """Decide on ``action`` (seen in ``frame``, if given) and record the decision."""
        reason = self._refusal(action, frame)
        if reason is not None:
            decision = GuardDecision(action, allowed=False, reason=reason)
        else:
            if not action.terminal:
                self._count += 1
                self._recent.append(self.clock())
            approvals = [r for rule in self.require_approval if (r := rule(action))]
            decision = GuardDecision(
                action, True, needs_approval=bool(approvals), reason="; ".join(approvals) or None
            )
        self.history.append(decision)
        return decision

    def _refusal(self, action: ActionBase, frame: ScreenFrame | None) -> str | None:
        if action.terminal:
            return None
        return self._content_refusal(action, frame) or self._budget_refusal()

    def _content_refusal(self, action: ActionBase, frame: ScreenFrame | None) -> str | None:
        if isinstance(action, (Key, Hotkey)):
            return self._key_refusal(action)
        if isinstance(action, TypeText):
            return self._text_refusal(action)
        return self._point_refusal(action, frame)

    def _key_refusal(self, action: Key | Hotkey) -> str | None:
        keys = (action.key,) if isinstance(action, Key) else action.keys
        pressed = combo(keys)
        shown = "+".join(keys)
        if denied := [k for k in pressed if k in self.config.deny_keys]:
            return f"key {'+'.join(denied)} is in deny_keys (pressed: {shown})"
        for bad in self.config.deny_hotkeys:
            if set(bad) <= set(pressed):
                return f"hotkey {shown} is denied: it holds {'+'.join(bad)} (deny_hotkeys)"
        allowed = self.config.allow_keys
        if allowed is not None and pressed not in allowed:
            listed = ", ".join(sorted("+".join(c) for c in allowed))
            return f"{shown} is not in allow_keys ({listed})"
        return None

    def _text_refusal(self, action: TypeText) -> str | None:
        for pattern in self._deny_text:
            if pattern.search(action.text):
                return f"the text matches deny_text pattern {pattern.pattern!r}"
        return None

    def _point_refusal(self, action: ActionBase, frame: ScreenFrame | None) -> str | None:
        for x, y in action_points(action):
            for i, (x0, y0, x1, y1) in enumerate(self.config.forbidden_regions):
                if x0 <= x <= x1 and y0 <= y <= y1:
                    return (
                        f"{action.type} at ({x:.3f}, {y:.3f}) is inside forbidden region {i} "
                        f"({x0:g}, {y0:g}, {x1:g}, {y1:g})"
                    )
            if frame is not None:
                try:
                    frame.to_screen(x, y)
                except CoordinateError as err:
                    return str(err)
        return None

    def _budget_refusal(self) -> str | None:
        limit, rate = self.config.max_actions, self.config.max_actions_per_s
        if limit is not None and self._count >= limit:
            return f"the episode's budget of {limit} actions (max_actions) is spent"
        if rate is not None:
            now = self.clock()
            while self._recent and self._recent[0] <= now - 1.0:
                self._recent.popleft()
            if len(self._recent) >= rate:
                return f"more than {rate} actions in the last second (max_actions_per_s); wait"
        return None
