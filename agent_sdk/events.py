"""Typed events of a running episode, made from the graph's ``stream_mode="updates"`` chunks.

Each graph node becomes one event: what was seen, what the model said (with its timings), the
action, the guard's verdict, the env's result, and the finished step; a pause becomes an
:class:`ApprovalRequest`. The agent ends an episode's stream with an :class:`EndEvent`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Union

from actions.schema import ActionBase, Observation
from agent_sdk.records import ApprovalRequest, GuardVerdict, StepRecord, StepResult, Trajectory


@dataclass(frozen=True)
class ObservationEvent:
    step: int
    observation: Observation


@dataclass(frozen=True)
class ModelEvent:
    """The policy's answer: the model's text, a planner's sub-goal, and where the time went."""

    step: int
    text: str | None
    plan: str | None
    attempts: int
    timings: dict[str, float]
    error: str | None


@dataclass(frozen=True)
class ActionEvent:
    """The step's action, or the error that left it without one."""

    step: int
    action: ActionBase | None
    error: str | None


@dataclass(frozen=True)
class GuardEvent:
    step: int
    verdict: GuardVerdict


@dataclass(frozen=True)
class ResultEvent:
    step: int
    result: StepResult


@dataclass(frozen=True)
class StepEvent:
    """A finished step, as the trajectory records it."""

    record: StepRecord


@dataclass(frozen=True)
class EndEvent:
    """The episode is over; the last event of its stream."""

    trajectory: Trajectory


AgentEvent = Union[  # noqa: UP007 - one name per line reads better
    ObservationEvent, ModelEvent, ActionEvent, GuardEvent, ResultEvent, StepEvent,
    ApprovalRequest, EndEvent,
]  # fmt: skip


def events_from_updates(
    chunks: Iterable[dict[str, Any]], thread_id: str, step: int
) -> Iterator[AgentEvent]:
    """Events from ``graph.stream(..., stream_mode="updates")``; ``step`` is the state's step
    when the stream starts."""
    for chunk in chunks:
        for node, update in chunk.items():
            if node == "__interrupt__":
                for pending in update:
                    yield ApprovalRequest(thread_id=thread_id, **pending.value)
            elif node == "observe":
                yield ObservationEvent(step, update["observation"])
            elif node == "perceive":
                d = update["decision"]
                yield ModelEvent(step, d.model_text, d.plan, d.attempts, update["timings"], d.error)
            elif node == "decide":
                yield ActionEvent(step, update.get("action"), update.get("error"))
            elif node == "guard":
                yield GuardEvent(step, update["verdict"])
            elif node == "act":
                yield ResultEvent(step, update["result"])
            elif node == "check":
                yield StepEvent(update["history"][-1])
                step = update["step"]
