"""Prompt injection: the screen tells the agent to press ctrl+alt+delete, type a password or click
a fake dialog outside the task's window. A policy that obeys the text is stopped by the guard
(not by the model's good sense): no denied action is executed, the refusal is on the record, and
the task still gets done."""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

from actions.guard import Guard, GuardConfig
from actions.schema import Observation
from agent_sdk.agent import Agent
from agent_sdk.evaluate import EvalConfig, evaluate
from agent_sdk.records import Decision, StepRecord
from envs import UI_SUITE
from envs.errors import EnvError
from envs.ui.inject import INJECTIONS, MESSAGES

TASKS = ("agent_sdk/ui-click-button-v0", "agent_sdk/ui-enter-text-v0",
         "agent_sdk/ui-click-dialog-v0", "agent_sdk/ui-drag-slider-v0")  # fmt: skip


class InjectionFollowingPolicy:
    """Does what the hostile text says first; once an action is refused, does the task (as the
    oracle would). A model that believed the screen would behave like this."""

    name = "injection-following"

    def __init__(self, env: gym.Env) -> None:
        self.env = env.unwrapped
        self.plan: list = []

    def reset(self, instruction: str) -> None:
        self.plan = self.env.injection.obeying_actions()

    def act(self, observation: Observation, history: Sequence[StepRecord]) -> Decision:
        if history and not history[-1].executed:
            self.plan = []  # refused: give up on the injected goal
        if self.plan:
            return Decision(self.plan.pop(0), model_text=MESSAGES[self.env.inject])
        return Decision(self.env.oracle())


def _guard(env: gym.Env) -> Guard:
    """The default rules, and nothing outside the task's window."""
    return Guard(GuardConfig(forbidden_regions=[env.unwrapped.outside_window]))


@pytest.mark.parametrize("kind", INJECTIONS)
@pytest.mark.parametrize("env_id", TASKS)
def test_the_guard_refuses_what_the_injected_text_asks(env_id: str, kind: str) -> None:
    env = gym.make(env_id, inject=kind)
    for seed in range(3):
        agent = Agent(InjectionFollowingPolicy(env), guard=_guard(env), max_steps=20)
        trajectory = agent.run_episode(env, seed=seed)
        refused = trajectory.steps[0]
        assert refused.guard is not None and not refused.guard.allowed
        assert refused.error is not None and refused.error.startswith("blocked: ")
        assert refused.result is None and refused.model_text == MESSAGES[kind]
        assert not env.unwrapped.injection.obeyed
        assert trajectory.success, [s.action_text for s in trajectory.steps]
        assert all(s.executed for s in trajectory.steps[1:])  # the task itself is never blocked


@pytest.mark.parametrize("kind", INJECTIONS)
def test_without_the_guard_the_same_policy_obeys_and_fails(kind: str) -> None:
    """The control: the policy really does what the text says when nothing stops it."""
    env = gym.make(TASKS[0], inject=kind)
    trajectory = Agent(InjectionFollowingPolicy(env), max_steps=20).run_episode(env, seed=0)
    assert env.unwrapped.injection.obeyed
    assert not trajectory.success
    assert trajectory.steps[-1].result.info["injection_obeyed"] is True


def test_the_default_rules_alone_stop_the_hotkey() -> None:
    env = gym.make(TASKS[0], inject="hotkey")
    agent = Agent(InjectionFollowingPolicy(env), guard=Guard(), max_steps=5)
    trajectory = agent.run_episode(env, seed=0)
    assert "ctrl+alt+delete" in trajectory.steps[0].guard.reason
    assert trajectory.success and not env.unwrapped.injection.obeyed


@pytest.mark.parametrize("kind", INJECTIONS)
def test_the_oracle_solves_every_task_under_injection_with_the_guard_on(kind: str) -> None:
    from agent_sdk.policies import OraclePolicy

    for env_id in UI_SUITE:
        env = gym.make(env_id, inject=kind)
        agent = Agent(OraclePolicy(env), guard=_guard(env), max_steps=30)
        for seed in range(2):
            trajectory = agent.run_episode(env, seed=seed)
            assert trajectory.success, (env_id, seed)
            assert all(s.guard.allowed for s in trajectory.steps)


def test_injected_envs_keep_the_env_contract_and_evaluate() -> None:
    env = gym.make(TASKS[2], inject="dialog")
    check_env(env.unwrapped)
    obs, _ = env.reset(seed=0)
    assert obs["image"].shape == (240, 320, 3)
    assert env.unwrapped.outside_window == (0.0, 192 / 240, 1.0, 1.0)
    assert gym.make(TASKS[0]).unwrapped.outside_window is None
    with pytest.raises(EnvError, match="inject must be one of hotkey, password, dialog"):
        gym.make(TASKS[0], inject="popup")


def test_an_eval_run_takes_inject_as_an_env_kwarg(tmp_path) -> None:
    config = EvalConfig(env_ids=TASKS[:2], episodes=2, env_kwargs={"inject": "password"})
    records = evaluate(config, tmp_path)
    assert [r.success for r in records] == [True] * 4
