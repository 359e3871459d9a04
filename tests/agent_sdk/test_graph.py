"""The agent graph: its shape, whole episodes, failures, approvals, checkpoints and events."""

from __future__ import annotations

import logging
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from agent_fakes import AskBeforeTyping, ScriptedVLM

import envs  # noqa: F401 - registers the GUI suite
from actions.coords import ScreenFrame
from actions.schema import ActionBase, Click, Hotkey, Observation, TypeText
from agent_sdk.agent import Agent
from agent_sdk.environment import GymEnvironment
from agent_sdk.errors import AgentError
from agent_sdk.events import (
    ActionEvent,
    ApprovalRequest,
    EndEvent,
    GuardEvent,
    ModelEvent,
    ObservationEvent,
    ResultEvent,
    StepEvent,
)
from agent_sdk.graph import build_graph, checkpoint_serde
from agent_sdk.policies import OraclePolicy, RandomPolicy, VLMPolicy
from agent_sdk.records import GuardVerdict, StepRecord, StepResult
from perception.base import Timings

EXPECTED_EDGES = """\
__start__ --> observe;
act --> check;
check -.-> __end__;
check -.-> observe;
decide -.-> check;
decide -.-> guard;
guard -.-> act;
guard -.-> check;
observe --> perceive;
perceive --> decide;"""


def _make(task: str) -> gym.Env:
    return gym.make(f"agent_sdk/ui-{task}-v0")


def test_graph_shape_snapshot() -> None:
    mermaid = build_graph().get_graph().draw_mermaid()
    edges = sorted(line.strip() for line in mermaid.splitlines() if "->" in line)
    assert "\n".join(edges) == EXPECTED_EDGES
    for node in ("observe", "perceive", "decide", "guard", "act", "check"):
        assert f"\t{node}({node})" in mermaid


@pytest.mark.parametrize("task", ["click-checkboxes", "fill-form"])
def test_oracle_solves_gui_tasks_through_the_graph(task: str) -> None:
    env = _make(task)
    agent = Agent(OraclePolicy(env))
    for seed in range(3):
        traj = agent.run_episode(env, seed)
        assert traj.success and traj.end == "terminated" and traj.return_ == 1.0
        assert all(s.executed and s.error is None for s in traj.steps)
        assert [s.step for s in traj.steps] == list(range(len(traj.steps)))
        assert all(s.image is not None and s.image.shape == (240, 320, 3) for s in traj.steps)
        assert all({"policy_s", "act_s"} <= set(s.timings) for s in traj.steps)
    assert not agent._envs and not agent._images  # finished episodes are released


def test_garbage_model_ends_the_episode_with_a_recorded_failure() -> None:
    env = _make("click-button")
    vlm = ScriptedVLM(["I would like to press the nice button"])
    traj = Agent(VLMPolicy(vlm, max_retries=2)).run_episode(env, seed=0)
    assert traj.end == "error" and not traj.success
    (step,) = traj.steps
    assert step.action is None and step.guard is None and step.result is None
    assert step.attempts == 3 and len(vlm.prompts) == 3
    assert step.model_text == "I would like to press the nice button"
    assert traj.error is not None and "cannot parse model output" in traj.error
    assert step.timings["ttft_s"] == pytest.approx(0.006)
    assert env.unwrapped.steps == 0  # nothing reached the env


def test_step_budget_and_blocked_actions_are_recorded() -> None:
    env = _make("fill-form")
    traj = Agent(RandomPolicy(seed=3), max_steps=2).run_episode(env, seed=0)
    assert traj.end == "max_steps" and len(traj.steps) == 2

    guard = AskBeforeTyping(block=True)
    traj = Agent(OraclePolicy(env), guard=guard, max_steps=3).run_episode(env, seed=0)
    assert traj.end == "max_steps" and not traj.success
    assert env.unwrapped.steps == 0 and len(guard.checked) == 3
    for step in traj.steps:
        assert step.guard == GuardVerdict(allowed=False, reason="everything is blocked")
        assert not step.executed and step.error == "blocked: everything is blocked"


def test_run_gives_the_instruction_and_done_ends_the_episode() -> None:
    env, vlm = _make("click-button"), ScriptedVLM(["done()"])
    agent = Agent(VLMPolicy(vlm))
    traj = agent.run("Press the blue button", env, seed=0, thread_id="t1")
    assert traj.instruction == "Press the blue button" and traj.thread_id == "t1"
    assert vlm.prompts[0].startswith("Task: Press the blue button\n")
    assert traj.end == "done" and len(traj.steps) == 1 and traj.steps[0].executed
    with pytest.raises(AgentError, match="no episode 't1'"):  # in memory: finished is forgotten
        agent.trajectory("t1")

    form = GymEnvironment(_make("fill-form"))
    paused = Agent(OraclePolicy(form.env), guard=AskBeforeTyping())
    request = _run_to_approval(paused, form)
    with pytest.raises(AgentError, match="already holds an episode"):
        list(paused.stream_episode(env, thread_id=request.thread_id))


def test_events_stream_in_node_order() -> None:
    env = _make("click-button")
    events = list(Agent(OraclePolicy(env)).stream_episode(env, seed=0))
    kinds = [ObservationEvent, ModelEvent, ActionEvent, GuardEvent, ResultEvent, StepEvent]
    assert [type(e) for e in events] == [*kinds, EndEvent]
    obs, model, action, verdict, result, step, end = events
    assert isinstance(obs.observation, Observation) and obs.step == 0
    assert model.text is None and "policy_s" in model.timings
    assert isinstance(action.action, Click) and action.error is None
    assert verdict.verdict.allowed and result.result.success
    assert step.record.image is obs.observation.image
    assert end.trajectory.success and end.trajectory.steps[0].action == action.action


def _run_to_approval(agent: Agent, env: GymEnvironment) -> ApprovalRequest:
    events = list(agent.stream_episode(env, seed=0))
    request = events[-1]
    assert isinstance(request, ApprovalRequest)
    assert request.action.startswith("type_text(") and request.reason == "typing needs approval"
    return request


def test_approval_pauses_and_approve_executes() -> None:
    env = GymEnvironment(_make("fill-form"))
    agent = Agent(OraclePolicy(env.env), guard=AskBeforeTyping())
    request = _run_to_approval(agent, env)
    paused = agent.trajectory(request.thread_id)
    assert paused.pending == request and paused.end is None and len(paused.steps) == 1

    events = list(agent.stream_resume(request.thread_id, approved=True))
    assert [type(e) for e in events[:3]] == [GuardEvent, ResultEvent, StepEvent]
    typed = events[2].record
    assert isinstance(typed.action, TypeText) and typed.executed and typed.step == request.step
    assert typed.guard == GuardVerdict(True, "typing needs approval", True, approved=True)
    assert typed.image is not None  # the paused step's image comes from the checkpoint
    assert isinstance(events[-1], ApprovalRequest)  # the next field's typing
    assert events[-1].step > request.step


def test_approval_denied_is_recorded_not_executed() -> None:
    env = GymEnvironment(_make("fill-form"))
    agent = Agent(OraclePolicy(env.env), guard=AskBeforeTyping())
    request = _run_to_approval(agent, env)
    steps_before = env.env.unwrapped.steps
    traj = agent.resume(request.thread_id, approved=False)
    denied = traj.steps[request.step]
    assert denied.guard is not None and denied.guard.approved is False
    assert not denied.executed and denied.error == "denied by the user"
    assert env.env.unwrapped.steps == steps_before
    assert traj.pending is not None and traj.pending.step == request.step + 1  # asked again


def test_resume_from_sqlite_with_a_new_agent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "episodes.sqlite"
    env = GymEnvironment(_make("fill-form"))
    first = Agent(OraclePolicy(env.env), guard=AskBeforeTyping(), checkpoint_path=path)
    request = _run_to_approval(first, env)
    first.close()
    del first

    second = Agent(OraclePolicy(env.env), guard=AskBeforeTyping(), checkpoint_path=path)
    with caplog.at_level(logging.WARNING):
        traj = second.resume(request.thread_id, approved=True, env=env)
        while traj.pending is not None:
            traj = second.resume(traj.thread_id, approved=True)
    assert traj.success and traj.end == "terminated"
    assert all(isinstance(s, StepRecord) and isinstance(s.action, ActionBase) for s in traj.steps)
    assert isinstance(traj.steps[0].action, Click) and traj.steps[0].image is None  # not ours
    assert second.trajectory(traj.thread_id).success  # a file keeps finished episodes
    assert not [r for r in caplog.records if "serializ" in r.getMessage()]  # the allowlist
    second.close()


def test_checkpoint_serde_rebuilds_every_state_type() -> None:
    serde = checkpoint_serde()
    record = StepRecord(
        step=2,
        action=Hotkey(keys=("ctrl", "a")),
        model_text='hotkey("ctrl", "a")',
        guard=GuardVerdict(True, "ok", True, approved=True),
        result=StepResult(0.0, False, False, False, info={"task": "fill-form"}),
        timings=Timings(0.1, 0.2, 0.3, 0.5, 0.4, 10.0, 16, 80, 4).to_dict(),
    )
    obs = Observation(
        image=np.arange(48, dtype=np.uint8).reshape(4, 4, 3),
        instruction="x",
        frame=ScreenFrame(width=4, height=4, scale=2.0),
        step=3,
    )
    for value in (record, obs, [record], {"observation": obs}):
        assert _same(serde.loads_typed(serde.dumps_typed(value)), value)


def _same(a: object, b: object) -> bool:
    if isinstance(b, Observation):
        return (
            isinstance(a, Observation)
            and np.array_equal(a.image, b.image)
            and (a.frame, a.instruction, a.step) == (b.frame, b.instruction, b.step)
        )
    if isinstance(b, dict):
        return isinstance(a, dict) and all(_same(a[k], v) for k, v in b.items())
    if isinstance(b, list):
        return isinstance(a, list) and all(map(_same, a, b))
    return type(a) is type(b) and a == b
