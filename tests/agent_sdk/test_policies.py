"""Policies and prompts: re-asks, planning and grounding, baselines, and a real tiny FastVLM."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from agent_fakes import ScriptedVLM

import envs  # noqa: F401 - registers the GUI suite
from actions.grammar import action_grammar
from actions.parse import parse_action
from actions.schema import CameraInfo, Click, Done, Observation, TypeText
from agent_sdk.agent import Agent
from agent_sdk.policies import (
    PlannerGrounderPolicy,
    Policy,
    RandomPolicy,
    VLMPolicy,
    action_history,
)
from agent_sdk.prompting import HISTORY_LEN, planner_messages, point_prompt, step_prompt
from agent_sdk.records import GuardVerdict, StepRecord, StepResult

OBS = Observation(image=np.zeros((200, 100, 3), np.uint8), instruction="Click the OK button.")
EXECUTED = StepResult(0.0, False, False, False)
CALLS = ("click(x, y)", "double_click(x, y)", "right_click(x, y)", "drag(x1, y1, x2, y2)",
         "scroll(x, y, down=3)", 'type_text("...")', 'key("enter")', 'hotkey("ctrl", "a")',
         "done()", 'fail("reason")')  # fmt: skip


def test_step_prompt_states_the_task_the_format_and_the_error() -> None:
    prompt = step_prompt("Click OK.", [])
    assert prompt == step_prompt("Click OK.", [])  # deterministic
    assert prompt.startswith("Task: Click OK.\nPrevious actions: none\n")
    for call in CALLS:
        assert call in prompt
    assert prompt.endswith("Answer with exactly one action.") and "0-1000" in prompt
    assert "not a valid action" not in prompt

    history = [f"click({i}, {i})" for i in range(6)]
    reask = step_prompt("Click OK.", history, error="'clik(1, 2)': unknown action 'clik'")
    assert "Previous actions: " + "; ".join(history[-HISTORY_LEN:]) in reask
    assert "click(0, 0)" not in reask
    assert "Your last answer was not a valid action: 'clik(1, 2)': unknown action 'clik'" in reask
    assert len(reask) < 600  # short enough for tiny models


def test_vlm_policy_reasks_with_the_parse_error() -> None:
    vlm = ScriptedVLM(["clik(500, 250)", "click(500, 250)"])
    decision = VLMPolicy(vlm).act(OBS, [])
    assert decision.action == Click(x=0.5, y=0.25) and decision.error is None
    assert decision.attempts == 2 and decision.model_text == "click(500, 250)"
    first, second = vlm.prompts
    assert first == step_prompt(OBS.instruction, [])
    assert "not a valid action" in second and "clik(500, 250)" in second
    assert "did you mean 'click'?" in second


def test_vlm_policy_retries_are_bounded_and_never_raise() -> None:
    vlm = ScriptedVLM(["no idea"])
    decision = VLMPolicy(vlm, max_retries=1).act(OBS, [])
    assert decision.action is None and decision.attempts == 2 and len(vlm.prompts) == 2
    assert decision.error is not None and decision.error.startswith("cannot parse model output")
    assert decision.timings is not None and decision.model_text == "no idea"
    with pytest.raises(ValueError, match="max_retries"):
        VLMPolicy(vlm, max_retries=-1)


def test_vlm_policy_decodes_under_the_grammar_of_the_observation() -> None:
    camera = CameraInfo(intrinsics=[[100, 0, 50], [0, 100, 100], [0, 0, 1]],
                        extrinsics=np.eye(4).tolist())  # fmt: skip
    robot = OBS.model_copy(update={"camera": camera, "depth": np.ones((200, 100), np.float32)})
    vlm = ScriptedVLM(["click(500, 250)", "point_target(500, 250)", "click(500, 250)"])
    VLMPolicy(vlm).act(OBS, [])
    VLMPolicy(vlm).act(robot, [])
    VLMPolicy(vlm, grammar=False).act(OBS, [])
    assert vlm.grammars == [action_grammar("screen"), action_grammar("motor"), None]


def test_vlm_policy_prompts_with_the_recent_actions() -> None:
    history = [
        StepRecord(step=0, action=Click(x=0.1, y=0.2), result=EXECUTED),
        StepRecord(step=1, action=None, error="cannot parse"),
        StepRecord(step=2, action=TypeText(text="hi"), guard=GuardVerdict(False, "no")),
    ]
    assert action_history(history) == ["click(100, 200)", 'type_text("hi") (blocked)']
    vlm = ScriptedVLM(["done()"])
    assert VLMPolicy(vlm).act(OBS, history).action == Done()
    assert 'Previous actions: click(100, 200); type_text("hi") (blocked)' in vlm.prompts[0]


class RecordingPlanner:
    """A chat model stand-in: replies in turn and records the messages it got."""

    def __init__(self, replies: list[Any]) -> None:
        self.replies, self.seen = replies, []

    def invoke(self, messages: Any) -> Any:
        self.seen.append(messages)
        return type("Reply", (), {"content": self.replies[len(self.seen) - 1]})()


def test_planner_grounder_grounds_subgoals_and_passes_keyboard_actions() -> None:
    fake_chat = pytest.importorskip("langchain_core.language_models.fake_chat_models")
    planner = fake_chat.FakeListChatModel(
        responses=["click the Submit button", 'type_text("x")', "done()"]
    )
    vlm = ScriptedVLM(["click(500, 250)"])
    policy = PlannerGrounderPolicy(vlm, planner)
    first = policy.act(OBS, [])
    assert first.action == Click(x=0.5, y=0.25) and first.plan == "click the Submit button"
    assert vlm.prompts == [point_prompt("click the Submit button")]
    assert first.model_text == "click(500, 250)" and first.attempts == 1
    assert policy.act(OBS, []).action == TypeText(text="x")
    assert policy.act(OBS, []).action == Done()
    assert len(vlm.prompts) == 1  # keyboard actions never look at the screen


def test_planner_sees_the_task_and_history_and_grounding_accepts_bare_points() -> None:
    planner = RecordingPlanner([[{"type": "text", "text": "the OK button"}]])
    vlm = ScriptedVLM(["It is at 250, 750."])
    history = [StepRecord(step=0, action=Click(x=0.1, y=0.2), result=EXECUTED)]
    decision = PlannerGrounderPolicy(vlm, planner).act(OBS, history)
    assert decision.action == Click(x=0.25, y=0.75) and decision.plan == "the OK button"
    assert planner.seen == [planner_messages(OBS.instruction, ["click(100, 200)"])]


def test_grounder_without_planner_points_at_the_instruction_and_fails_cleanly() -> None:
    vlm = ScriptedVLM(["nothing here", 'type_text("a")'])
    decision = PlannerGrounderPolicy(vlm, max_retries=1).act(OBS, [])
    assert vlm.prompts[0] == point_prompt(OBS.instruction)
    assert "not a point" in vlm.prompts[1]
    assert decision.action is None and decision.attempts == 2
    assert decision.error is not None and "type_text is not a point" in decision.error


def test_random_policy_is_reproducible_by_seed() -> None:
    def actions(policy: RandomPolicy, n: int = 30) -> list[str]:
        policy.reset("task")
        return [policy.act(OBS, []).action.to_text() for _ in range(n)]  # type: ignore[union-attr]

    policy = RandomPolicy(seed=7)
    run = actions(policy)
    assert run == actions(policy) == actions(RandomPolicy(seed=7))
    assert run != actions(RandomPolicy(seed=8))
    assert {a.split("(")[0] for a in run} == {"click", "scroll", "key", "type_text"}
    assert isinstance(policy, Policy)


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Any:
    pytest.importorskip("transformers")
    from perception.base import load_vlm
    from perception.tiny import save_tiny_checkpoint

    path: Path = save_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "hf", layout="hf")
    return load_vlm(path, device="cpu")


def test_vlm_policy_runs_real_episodes_with_a_tiny_fastvlm(tiny_vlm: Any) -> None:
    env = gym.make("agent_sdk/ui-click-button-v0")
    agent = Agent(VLMPolicy(tiny_vlm, max_new_tokens=12, max_retries=1), max_steps=3)
    for seed in range(2):
        traj = agent.run_episode(env, seed)
        assert traj.end is not None and 1 <= len(traj.steps) <= 3
        for step in traj.steps:
            assert isinstance(step.model_text, str) and 1 <= step.attempts <= 2
            assert step.timings["ttft_s"] > 0 and step.timings["num_image_tokens"] > 0
            assert step.image is not None and (step.action is not None or step.error)


def test_a_tiny_fastvlm_under_the_grammar_always_answers_an_action(tiny_vlm: Any) -> None:
    # random weights: free, the answers are noise and every step is re-asked; under the
    # grammar each is an action at the first ask
    obs = gym.make("agent_sdk/ui-click-button-v0").reset(seed=0)[0]
    seen = Observation(image=obs["image"], instruction=obs["instruction"])
    free = VLMPolicy(tiny_vlm, max_new_tokens=24, max_retries=1, grammar=False).act(seen, [])
    assert free.action is None and free.attempts == 2
    decision = VLMPolicy(tiny_vlm, max_new_tokens=24, max_retries=1).act(seen, [])
    assert decision.attempts == 1 and decision.action is not None, decision.error
    assert parse_action(decision.model_text) == decision.action
