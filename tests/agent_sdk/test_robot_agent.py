"""The agent on robots: the motor layer between perception calls, chunks, the guard, the CLI."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from agent_fakes import TIMINGS, Verdict
from needs import mujoco_missing, need
from typer.testing import CliRunner

import envs  # noqa: F401  (registers the robot ids)
from actions.coords import ScreenFrame
from actions.motor import project
from actions.schema import ActionBase, CameraInfo, Click, Drag, EEDelta, Observation, PointTarget
from agent_sdk.agent import Agent
from agent_sdk.cli import app
from agent_sdk.environment import GymEnvironment, as_environment
from agent_sdk.errors import AgentError, ConfigError
from agent_sdk.policies import OraclePolicy, VLMPolicy
from agent_sdk.prompting import ROBOT_FORMAT
from agent_sdk.records import StepRecord
from agent_sdk.robot import RobotEnvironment
from perception.base import Generation

pytestmark = pytest.mark.mujoco
SIZE = 128


@pytest.fixture(autouse=True)
def _mujoco() -> None:
    need(mujoco_missing())


@pytest.fixture
def reach() -> gym.Env:
    env = gym.make("agent_sdk/robot-reach-v0", width=SIZE, height=SIZE)
    yield env
    env.close()


def goal_point(env: gym.Env, obs: Observation) -> tuple[float, float]:
    """Where the red target appears in the image (from the true state)."""
    return project(env.unwrapped.fetch_state().goal, obs.camera, obs.size)


class PointAtGoal:
    """A VLM that answers with the target's image point (as a trained model would)."""

    name = "point-at-goal"

    def __init__(self, env: gym.Env, lines: int = 1) -> None:
        self.env, self.lines, self.prompts = env, lines, []

    def generate(self, image, prompt, **_: object) -> Generation:  # type: ignore[no-untyped-def]
        self.prompts.append(prompt)
        env = self.env.unwrapped
        cam = CameraInfo(**env._camera)
        x, y = project(env.fetch_state().goal, cam, (env.width, env.height))
        text = "\n".join([f"point_target({round(x * 1000)}, {round(y * 1000)})"] * self.lines)
        return Generation(text, [], "stop", TIMINGS)


def test_robot_envs_get_the_motor_layer(reach: gym.Env) -> None:
    environment = as_environment(reach)
    assert isinstance(environment, RobotEnvironment)
    obs = environment.reset(seed=0)
    assert obs.depth is not None and obs.depth.shape == (SIZE, SIZE)
    assert obs.camera is not None and obs.camera.intrinsics.shape == (3, 3)
    assert not isinstance(
        as_environment(gym.make("agent_sdk/ui-click-button-v0")), RobotEnvironment
    )


def test_point_target_runs_at_most_perceive_every_sim_steps_and_reaches(reach: gym.Env) -> None:
    environment = RobotEnvironment(reach, perceive_every=1)
    obs = environment.reset(seed=3)
    target = PointTarget(x=goal_point(reach, obs)[0], y=goal_point(reach, obs)[1])
    results = []
    for _ in range(20):
        results.append(environment.act(target))  # the same action again: the plan goes on
        if results[-1].terminated:
            break
    assert all(r.info["sim_steps"] == 1 for r in results)
    assert results[-1].success and 1 < len(results) < 20
    assert reach.unwrapped.steps == len(results)


def test_a_near_answer_continues_the_plan_in_flight_a_far_one_replans(reach: gym.Env) -> None:
    environment = RobotEnvironment(reach, perceive_every=1, replan_distance=0.05)
    environment.reset(seed=3)
    pick = PointTarget(x=0.5, y=0.6, gripper="close")
    environment.act(pick)
    assert environment.motor.phase == "approach"
    goal = environment.motor.goal.copy()
    environment.act(pick.model_copy(update={"x": 0.53}))  # 0.03 away: the same plan goes on
    np.testing.assert_array_equal(environment.motor.goal, goal)
    environment.act(pick.model_copy(update={"gripper": "keep"}))  # another action: re-planned
    assert environment.motor.phase == "move"
    move = environment.motor.goal.copy()
    environment.act(PointTarget(x=0.52, y=0.6))  # 0.02 away: the move goes on
    np.testing.assert_array_equal(environment.motor.goal, move)
    environment.act(PointTarget(x=0.6, y=0.6))  # 0.1 away: re-planned there
    assert environment.motor.phase == "move" and not np.allclose(environment.motor.goal, move)
    exact = RobotEnvironment(reach, perceive_every=1, replan_distance=0.0)
    exact.reset(seed=3)
    exact.act(pick)
    exact.act(pick.model_copy(update={"x": 0.53}))
    assert not np.allclose(exact.motor.goal, goal)  # only the very same text goes on
    with pytest.raises(ConfigError, match="replan_distance"):
        RobotEnvironment(reach, replan_distance=-0.1)


def test_vlm_policy_drives_a_robot_with_point_targets(reach: gym.Env) -> None:
    vlm = PointAtGoal(reach)
    agent = Agent(VLMPolicy(vlm), max_steps=10)
    wins = [agent.run_episode(reach, seed).success for seed in range(3)]
    assert wins == [True, True, True]
    assert "point_target(x, y)" in vlm.prompts[0] and ROBOT_FORMAT in vlm.prompts[0]


def test_a_chunk_runs_in_order_and_the_guard_checks_all_of_it(reach: gym.Env) -> None:
    decision = VLMPolicy(PointAtGoal(reach, lines=2)).act(as_environment(reach).reset(seed=1), [])
    assert isinstance(decision.action, PointTarget) and len(decision.chunk) == 1

    class DenyRightHalf:
        def reset(self) -> None: ...

        def check(self, action: ActionBase, frame: ScreenFrame) -> Verdict:
            x = getattr(action, "x", 0.0)
            return Verdict(x < 0.5, reason=None if x < 0.5 else "right half is off limits")

    class SecondGoesRight:
        name = "second-goes-right"

        def generate(self, image, prompt, **_: object) -> Generation:  # type: ignore[no-untyped-def]
            return Generation("point_target(200, 500)\npoint_target(900, 500)", [], "stop", TIMINGS)

    agent = Agent(VLMPolicy(SecondGoesRight()), guard=DenyRightHalf(), max_steps=2)
    trajectory = agent.run_episode(reach, 0)
    assert all(not step.executed for step in trajectory.steps)
    assert reach.unwrapped.steps == 0  # nothing moved


def test_an_ungroundable_point_is_a_step_error_not_a_crash(reach: gym.Env) -> None:
    environment = RobotEnvironment(reach)
    environment.reset(seed=0)
    environment._raw["depth"] = np.zeros((SIZE, SIZE), np.float32)  # no depth readings at all
    environment._obs = environment._observation(environment._raw, {})
    result = environment.act(PointTarget(x=0.5, y=0.5))
    assert result.error is not None and "depth" in result.error
    assert reach.unwrapped.steps == 0


def test_ee_delta_is_one_sim_step_and_gui_envs_refuse_chunks(reach: gym.Env) -> None:
    environment = RobotEnvironment(reach, perceive_every=10)
    environment.reset(seed=0)
    result = environment.act(EEDelta(dx=0.5))
    assert result.info["sim_steps"] == 1 and reach.unwrapped.steps == 1
    ui = GymEnvironment(gym.make("agent_sdk/ui-click-button-v0"))
    ui.reset(seed=0)
    with pytest.raises(AgentError, match="chunk"):
        ui.act((Click(x=0.1, y=0.1), Click(x=0.2, y=0.2)))


def test_oracle_history_records_motor_steps(reach: gym.Env) -> None:
    trajectory = Agent(OraclePolicy(reach), max_steps=50).run_episode(reach, 5)
    assert trajectory.success
    assert all(
        isinstance(s, StepRecord) and isinstance(s.action, EEDelta) for s in trajectory.steps
    )


def test_the_point_oracle_pushes_through_the_motor_layer() -> None:
    push = gym.make("agent_sdk/robot-push-v0", width=SIZE, height=SIZE)
    policy = OraclePolicy(push, points=True)
    results = []
    for seed in (0, 1, 2):
        trajectory = Agent(policy, max_steps=30).run_episode(push, seed)
        assert all(isinstance(s.action, Drag) for s in trajectory.steps)
        results.append(trajectory.success)
    push.close()
    assert sum(results) >= 2, results  # 27 / 30 at 320 px: `agent-sdk eval --policy point-oracle`


def test_a_pick_asked_again_while_it_lifts_goes_on() -> None:
    pnp = gym.make("agent_sdk/robot-pick-and-place-v0", width=SIZE, height=SIZE)
    environment = RobotEnvironment(pnp, perceive_every=1)
    environment.reset(seed=2)
    pick = pnp.unwrapped.point_oracle()
    assert pick is not None and pick.gripper == "close"
    for _ in range(60):
        environment.act(pick)
        if environment.motor.phase == "lift":
            break
    assert environment.motor.phase == "lift"
    goal = environment.motor.goal.copy()
    environment.act(pick.model_copy(update={"y": pick.y - 0.1}))  # the block, higher up now
    assert environment.motor.phase == "lift"  # not a new approach that opens the fingers
    np.testing.assert_array_equal(environment.motor.goal, goal)
    environment.act(PointTarget(x=0.5, y=0.4, gripper="open"))  # a place re-plans
    assert environment.motor.phase == "approach"
    pnp.close()


def test_the_point_oracle_picks_and_places_with_long_looks() -> None:
    # looks 20 simulator steps apart fall after the lift: the block is held off the grip site
    pnp = gym.make("agent_sdk/robot-pick-and-place-v0")
    policy = OraclePolicy(pnp, points=True)
    wins = []
    for seed in (9001, 9002, 9003):
        environment = RobotEnvironment(pnp, perceive_every=20)
        wins.append(Agent(policy, max_steps=10).run_episode(environment, seed).success)
    pnp.close()
    assert sum(wins) >= 2, wins


def test_cli_evaluates_the_robot_suite_with_the_oracle(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    args = ["eval", "--suite", "robot", "--policy", "oracle", "--episodes", "2", "--out", str(out),
            "--env-arg", "width=128", "--env-arg", "height=128"]  # fmt: skip
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, args)
    assert result.exit_code == 0, result.output
    for task in ("reach", "push", "pick-and-place"):
        assert f"agent_sdk/robot-{task}-v0" in result.output
    assert "100.0%" in result.output
    assert (out / "report.html").exists()


def test_collect_answers_robots_with_image_points(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from actions.motor import parse_chunk
    from actions.parse import parse_action
    from agent_sdk.collect import CollectConfig, collect, read_examples

    ids = ("agent_sdk/robot-reach-v0", "agent_sdk/robot-push-v0")
    kwargs = {"width": SIZE, "height": SIZE}
    collect(CollectConfig(env_ids=ids, episodes=1, env_kwargs=kwargs), tmp_path / "points")
    examples = list(read_examples(tmp_path / "points"))
    reach = [ex for ex in examples if ex.env_id == ids[0]]
    push = [ex for ex in examples if ex.env_id == ids[1]]
    assert reach and push and all(ex.robot for ex in examples)
    assert all(isinstance(parse_action(ex.target), PointTarget) for ex in reach)
    assert all(isinstance(parse_chunk(ex.target)[0], Drag) for ex in push)  # pushed by drags
    assert all(h.startswith("point_target(") for ex in reach for h in ex.history)
    assert all(h.startswith("drag(") for ex in push for h in ex.history)
    deltas = CollectConfig(env_ids=ids, episodes=1, env_kwargs=kwargs, robot_points=False)
    collect(deltas, tmp_path / "deltas")
    assert all(isinstance(parse_action(ex.target), EEDelta)
               for ex in read_examples(tmp_path / "deltas"))  # fmt: skip


def test_a_learner_collects_its_own_robot_states_labelled_with_points(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from actions.motor import parse_chunk
    from actions.parse import parse_action
    from agent_sdk.collect import CollectConfig, collect, read_examples
    from perception.tiny import save_tiny_checkpoint

    tiny = str(save_tiny_checkpoint(tmp_path / "tiny", layout="hf", seed=3))
    config = CollectConfig(env_ids=("agent_sdk/robot-reach-v0",), episodes=2, noise=0.0,
                           env_kwargs={"width": SIZE, "height": SIZE}, max_steps=3,
                           learner=tiny)  # fmt: skip
    collect(config, tmp_path / "dagger")
    examples = list(read_examples(tmp_path / "dagger"))
    assert {ex.seed for ex in examples} == {100000, 100001} and len(examples) <= 6
    assert all(ex.robot and ex.image.shape == (SIZE, SIZE, 3) for ex in examples)
    assert all(isinstance(parse_action(ex.target), PointTarget) for ex in examples)
    for ex in examples:  # the learner's own answers (motor actions, under the grammar)
        assert len(ex.history) == ex.step
        assert all(parse_chunk(h.removesuffix(" (blocked)")) for h in ex.history)
