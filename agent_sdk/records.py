"""The data of an episode: what a policy decides, what the guard and the env answer, one record per
step. Every type here is a plain dataclass so that LangGraph's checkpointer can store it (see
:data:`CHECKPOINT_TYPES`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from actions.schema import ActionBase
from perception.base import Timings

EndReason = Literal["done", "fail", "terminated", "truncated", "max_steps", "error"]
"""Why an episode ended: the agent's ``done()``/``fail()``, the env, the step budget, or a step
that produced no action."""


@dataclass(frozen=True)
class Decision:
    """A policy's answer for one step: an action, or ``error`` saying why there is none."""

    action: ActionBase | None
    model_text: str | None = None  # the model's last answer, verbatim
    timings: Timings | None = None  # the last model call's
    attempts: int = 0  # model calls made, re-asks included (0: no model)
    error: str | None = None
    plan: str | None = None  # a planner's sub-goal, when the policy has one
    chunk: tuple[ActionBase, ...] = ()  # motor actions that follow ``action`` (robots)


@dataclass(frozen=True)
class GuardVerdict:
    """What the guard (and, when asked, a person) said about an action."""

    allowed: bool
    reason: str | None = None
    needs_approval: bool = False
    approved: bool | None = None  # the person's answer; None when nobody was asked


@dataclass(frozen=True)
class StepResult:
    """What the environment reported after executing an action."""

    reward: float
    terminated: bool
    truncated: bool
    success: bool
    error: str | None = None  # the env refused or could not apply the action
    info: dict[str, Any] = field(default_factory=dict)  # the env's scalar info values


@dataclass(frozen=True)
class StepRecord:
    """One step of an episode, executed or not.

    ``guard`` is None when the step never reached the guard (no action); ``result`` is None when
    the action was not executed (no action, or blocked). ``image`` is the observation the policy
    saw; the graph's state keeps it out (checkpoints stay small) and the agent fills it in.
    """

    step: int
    action: ActionBase | None
    model_text: str | None = None
    plan: str | None = None
    attempts: int = 0
    guard: GuardVerdict | None = None
    result: StepResult | None = None
    timings: dict[str, float] = field(default_factory=dict)  # model timings, policy_s, act_s
    error: str | None = None
    wall_s: float = 0.0
    image: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def action_text(self) -> str | None:
        """The action in the SDK's model format (``click(512, 300)``)."""
        return None if self.action is None else self.action.to_text()

    @property
    def executed(self) -> bool:
        return self.result is not None


@dataclass(frozen=True)
class ApprovalRequest:
    """A paused episode waits for a person to approve or deny ``action`` (``Agent.resume``)."""

    thread_id: str
    step: int
    action: str  # SDK text
    reason: str | None


@dataclass(frozen=True)
class Trajectory:
    """An episode so far: its steps, and how it ended (``end`` is None while it is paused)."""

    thread_id: str
    instruction: str
    steps: list[StepRecord]
    success: bool
    end: EndReason | None
    pending: ApprovalRequest | None = None

    @property
    def return_(self) -> float:
        """The sum of the env's rewards."""
        return sum(r.result.reward for r in self.steps if r.result is not None)

    @property
    def error(self) -> str | None:
        """Why the episode ended without an action (``end == "error"``)."""
        return self.steps[-1].error if self.end == "error" else None

    @property
    def wall_s(self) -> float:
        return sum(r.wall_s for r in self.steps)


CHECKPOINT_TYPES: tuple[type, ...] = (Decision, GuardVerdict, StepResult, StepRecord, Timings)
"""Types of this module (and the timings they hold) that checkpoints may rebuild."""
