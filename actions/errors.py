"""Errors raised by the actions layer; each message says what was wrong and what to do."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actions.guard import GuardDecision


class ActionError(Exception):
    """Base class of every error the actions layer raises."""


class ParseError(ActionError, ValueError):
    """Model text that is not exactly one valid action.

    Attributes:
        text: the offending model output (unchanged).
        reason: what was wrong with it.
    """

    #: What a well-formed answer looks like; part of every message and of re-ask prompts.
    EXPECTED = (
        'one action such as click(512, 300), type_text("hello"), key("enter"), '
        "scroll(500, 500, down=3), drag(100, 200, 400, 200), done(), for robots "
        'point_target(512, 300, gripper="close") or ee_delta(0.5, 0, -0.2, 1), '
        "or a JSON object matching the action schema (coordinates 0-1000 of the image)"
    )

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        shown = text if len(text) <= 200 else text[:200] + f"... ({len(text)} chars)"
        super().__init__(
            f"cannot parse model output {shown!r}: {reason}. Expected {self.EXPECTED}."
        )


class CoordinateError(ActionError, ValueError):
    """A point outside the image or screen frame; points are refused, never clamped."""


class GuardRejected(ActionError):
    """An action the guard refused (or held for approval), for callers that raise on it.

    Attributes:
        decision: the guard's :class:`~actions.guard.GuardDecision`, with the reason.
    """

    def __init__(self, decision: GuardDecision) -> None:
        self.decision = decision
        verdict = "needs approval" if decision.allowed else "is refused by the guard"
        super().__init__(f"{decision.action.to_text()} {verdict}: {decision.reason}")


class DesktopUnavailable(ActionError):
    """The live screen cannot be used: the ``desktop`` extra is missing or no display answers."""


class GroundingError(ActionError):
    """An image point that cannot become a 3-D goal: no camera or depth, or no valid depth there."""


class CameraUnavailable(ActionError):
    """A camera that cannot be used: the ``robot`` extra (OpenCV) is missing or the source fails."""
