"""The agent loop as a LangGraph ``StateGraph``: observe -> perceive -> decide -> guard -> act ->
check, and back to observe until the episode ends.

* The state (:class:`AgentState`) holds only data the checkpointer can store: the latest
  observation, the current step's decision, verdict and result, and the history of
  :class:`~agent_sdk.records.StepRecord` (without images, so checkpoints stay small).
* The environment, the policy and the guard reach the nodes through LangGraph's runtime context
  (:class:`AgentDeps`, ``context=`` on every ``invoke``/``stream``), never through the state.
* A guard verdict that needs approval pauses the run with ``interrupt``; resume it with
  ``Command(resume=True)`` (or ``False``, or ``{"approved": bool}``).
"""

from __future__ import annotations

import operator
import sqlite3
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from actions.coords import ScreenFrame
from actions.schema import ACTION_TYPES, ActionBase, CameraInfo, Done, Fail, Observation
from agent_sdk.environment import Environment
from agent_sdk.errors import AgentError
from agent_sdk.policies import Policy
from agent_sdk.records import (
    CHECKPOINT_TYPES,
    Decision,
    EndReason,
    GuardVerdict,
    StepRecord,
    StepResult,
)

NODES_PER_STEP = 6
"""Graph supersteps per agent step (for LangGraph's recursion limit)."""


class GuardDecision(Protocol):
    """A guard's answer about one action."""

    @property
    def allowed(self) -> bool: ...
    @property
    def needs_approval(self) -> bool: ...
    @property
    def reason(self) -> str | None: ...


class Guard(Protocol):
    """Checks an action against the screen frame before it runs (``actions.guard.Guard``)."""

    def reset(self) -> None:
        """Start a new episode (fresh budget)."""
        ...

    def check(self, action: ActionBase, frame: ScreenFrame) -> GuardDecision: ...


@dataclass(frozen=True)
class AgentDeps:
    """What the nodes act through; LangGraph's runtime context, never checkpointed."""

    env: Environment
    policy: Policy
    guard: Guard | None = None


def _merge_timings(old: dict[str, float], new: dict[str, float] | None) -> dict[str, float]:
    """Timings of the current step: nodes add theirs; ``None`` (a new step) starts afresh."""
    return {} if new is None else {**old, **new}


class AgentState(TypedDict):
    """The graph's state; every value is checkpointable."""

    instruction: str
    max_steps: int
    step: int  # steps finished so far, i.e. the current step's index
    success: bool  # the env's latest is_success
    end: EndReason | None  # set by check when the episode is over
    history: Annotated[list[StepRecord], operator.add]
    # the current step, reset by observe:
    observation: Observation | None
    started: float  # wall clock at observe
    decision: Decision | None
    action: ActionBase | None
    error: str | None
    verdict: GuardVerdict | None
    result: StepResult | None
    timings: Annotated[dict[str, float], _merge_timings]


def initial_state(instruction: str, max_steps: int) -> dict[str, Any]:
    """The input that starts an episode (the env must have been reset)."""
    return {"instruction": instruction, "max_steps": max_steps, "step": 0, "success": False,
            "end": None, "history": []}  # fmt: skip


# -- nodes ----------------------------------------------------------------------------------------
def observe(state: AgentState, runtime: Runtime[AgentDeps]) -> dict[str, Any]:
    """Start a step: take the env's observation and clear the previous step's fields."""
    obs = runtime.context.env.observe().model_copy(update={"step": state["step"]})
    return {"observation": obs, "started": time.time(), "decision": None, "action": None,
            "error": None, "verdict": None, "result": None, "timings": None}  # fmt: skip


def perceive(state: AgentState, runtime: Runtime[AgentDeps]) -> dict[str, Any]:
    """Run the policy (the model call) on the observation."""
    assert state["observation"] is not None
    t0 = time.perf_counter()
    decision = runtime.context.policy.act(state["observation"], state["history"])
    timings = decision.timings.to_dict() if decision.timings is not None else {}
    return {"decision": decision, "timings": {**timings, "policy_s": time.perf_counter() - t0}}


def decide(state: AgentState) -> dict[str, Any]:
    """Accept the decision's action, or record why there is none."""
    decision = state["decision"]
    assert decision is not None
    if decision.action is None:
        return {"error": decision.error or "the policy returned no action"}
    return {"action": decision.action}


def guard(state: AgentState, runtime: Runtime[AgentDeps]) -> dict[str, Any]:
    """Ask the guard; when it wants a person's approval, pause the run until resumed."""
    action, obs, rules = state["action"], state["observation"], runtime.context.guard
    assert action is not None and obs is not None
    if rules is None:
        return {"verdict": GuardVerdict(allowed=True)}
    frame = obs.frame or ScreenFrame(width=obs.size[0], height=obs.size[1])
    said = rules.check(action, frame)
    for follower in state["decision"].chunk if state["decision"] is not None else ():
        if not said.allowed or said.needs_approval:
            break
        said = rules.check(follower, frame)  # a chunk runs only when all of it may
    verdict = GuardVerdict(bool(said.allowed), said.reason, bool(said.needs_approval))
    if verdict.needs_approval:
        answer = interrupt(
            {"step": state["step"], "action": action.to_text(), "reason": said.reason}
        )
        approved = bool(answer.get("approved")) if isinstance(answer, dict) else bool(answer)
        verdict = replace(verdict, allowed=approved, approved=approved)
    if verdict.allowed:
        return {"verdict": verdict}
    why = "denied by the user" if verdict.approved is False else f"blocked: {verdict.reason}"
    return {"verdict": verdict, "error": why}


def act(state: AgentState, runtime: Runtime[AgentDeps]) -> dict[str, Any]:
    """Execute the action (and the rest of its chunk, if any) in the environment."""
    assert state["action"] is not None
    t0 = time.perf_counter()
    decision, action = state["decision"], state["action"]
    chunk = decision.chunk if decision is not None else ()
    result = runtime.context.env.act((action, *chunk) if chunk else action)
    return {"result": result, "timings": {"act_s": time.perf_counter() - t0}}


def check(state: AgentState) -> dict[str, Any]:
    """Record the step and decide whether the episode goes on."""
    decision, result = state["decision"], state["result"]
    assert decision is not None
    record = StepRecord(
        step=state["step"],
        action=state["action"],
        model_text=decision.model_text,
        plan=decision.plan,
        attempts=decision.attempts,
        guard=state["verdict"],
        result=result,
        timings=state["timings"],
        error=state["error"],
        wall_s=time.time() - state["started"],
    )
    step = state["step"] + 1
    return {
        "history": [record],
        "step": step,
        "success": result.success if result is not None else state["success"],
        "end": _end_reason(record, step, state["max_steps"]),
    }


def _end_reason(record: StepRecord, step: int, max_steps: int) -> EndReason | None:
    result = record.result
    if record.action is None:
        return "error"
    if result is not None and isinstance(record.action, (Done, Fail)):
        return record.action.type  # type: ignore[return-value]
    if result is not None and result.terminated:
        return "terminated"
    if result is not None and result.truncated:
        return "truncated"
    return "max_steps" if step >= max_steps else None


# -- routers --------------------------------------------------------------------------------------
def after_decide(state: AgentState) -> Literal["guard", "check"]:
    return "guard" if state["action"] is not None else "check"


def after_guard(state: AgentState) -> Literal["act", "check"]:
    verdict = state["verdict"]
    return "act" if verdict is not None and verdict.allowed else "check"


def after_check(state: AgentState) -> Literal["observe", "__end__"]:
    return END if state["end"] is not None else "observe"


# -- building -------------------------------------------------------------------------------------
def build_graph(checkpointer: BaseCheckpointSaver | None = None) -> CompiledStateGraph:
    """The compiled agent graph; run it with ``context=AgentDeps(...)`` and a ``thread_id``."""
    graph = StateGraph(AgentState, context_schema=AgentDeps)
    for node in (observe, perceive, decide, guard, act, check):
        graph.add_node(node.__name__, node)
    graph.add_edge(START, "observe")
    graph.add_edge("observe", "perceive")
    graph.add_edge("perceive", "decide")
    graph.add_conditional_edges("decide", after_decide)
    graph.add_conditional_edges("guard", after_guard)
    graph.add_edge("act", "check")
    graph.add_conditional_edges("check", after_check)
    return graph.compile(checkpointer=checkpointer, name="fastvlm-agent")


def checkpoint_serde() -> JsonPlusSerializer:
    """LangGraph's serializer, allowed to rebuild exactly the SDK types the state holds
    (numpy images are native to it)."""
    types = (*CHECKPOINT_TYPES, Observation, ScreenFrame, CameraInfo, *ACTION_TYPES.values())
    return JsonPlusSerializer(allowed_msgpack_modules=types)


def make_checkpointer(path: str | Path | None = None) -> BaseCheckpointSaver:
    """In memory by default; a SQLite file (created if absent) when ``path`` is given."""
    if path is None:
        return InMemorySaver(serde=checkpoint_serde())
    try:
        from langgraph.checkpoint.sqlite import SqliteSaver
    except ImportError as err:
        raise AgentError(
            "a checkpoint file needs the SQLite saver: pip install langgraph-checkpoint-sqlite"
        ) from err
    conn = sqlite3.connect(str(path), check_same_thread=False)  # the saver locks it itself
    return SqliteSaver(conn, serde=checkpoint_serde())
