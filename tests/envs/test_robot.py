"""The Fetch robot envs: contract, seeding, experts, camera geometry and the GL fallback."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env
from needs import mujoco_missing, need

import envs
from actions.motor import back_project, project
from actions.schema import Click, Done, Drag, EEDelta, Fail, Observation, PointTarget, Wait
from envs import ROBOT_SUITE
from envs.errors import EnvCrashed, EnvError, UnknownTaskError
from envs.robot import gl
from envs.robot.camera import SceneRenderer
from envs.robot.env import RobotEnv, observation_extras
from envs.robot.tasks import TASK_NAMES, get_task

pytestmark = pytest.mark.mujoco

SIZE = 128  # small frames keep the file fast; the geometry does not depend on the size
TABLE_TOP_Z = 0.4  # the table's top face (gymnasium-robotics fetch xml: pos z 0.2, half-size 0.2)
TARGET_RADIUS = 0.02  # the red target site's sphere


@pytest.fixture(autouse=True)
def _mujoco() -> None:
    need(mujoco_missing())


def make(task: str) -> RobotEnv:
    return RobotEnv(task, width=SIZE, height=SIZE)


def run_oracle(env: gym.Env, seed: int) -> tuple[bool, list[dict]]:
    obs, info = env.reset(seed=seed)
    seen = [obs]
    while True:
        obs, reward, terminated, truncated, info = env.step(env.unwrapped.oracle().to_json())
        seen.append(obs)
        if terminated or truncated:
            assert reward == float(info["is_success"])
            return info["is_success"], seen


def test_suite_is_registered_without_importing_mujoco() -> None:
    assert envs.SUITES["robot"] == ROBOT_SUITE
    assert tuple(f"agent_sdk/robot-{t}-v0" for t in TASK_NAMES) == ROBOT_SUITE
    for env_id, task in zip(ROBOT_SUITE, TASK_NAMES, strict=True):
        assert gym.spec(env_id).max_episode_steps == get_task(task).max_steps
    code = (
        "import sys, envs; sys.exit('mujoco' in sys.modules or 'gymnasium_robotics' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize("env_id", ROBOT_SUITE)
def test_env_checker_passes(env_id: str) -> None:
    env = gym.make(env_id, width=SIZE, height=SIZE, render_mode="rgb_array")
    check_env(env.unwrapped, skip_render_check=False)
    assert env.unwrapped._max_episode_steps == env.spec.max_episode_steps
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(env.render(), obs["image"])
    env.close()


@pytest.mark.parametrize("task", TASK_NAMES)
def test_oracle_succeeds_on_nine_of_ten_seeds(task: str) -> None:
    env = make(task)
    wins = [run_oracle(env, seed)[0] for seed in range(10)]
    assert sum(wins) >= 9, f"{task}: oracle won {sum(wins)}/10 ({wins})"


@pytest.mark.parametrize("task", ["push", "pick-and-place"])
def test_seed_reproduces_the_episode_exactly(task: str) -> None:
    a, b = make(task), make(task)
    _, frames_a = run_oracle(a, 5)
    _, frames_b = run_oracle(b, 5)
    assert len(frames_a) == len(frames_b) > 3
    for fa, fb in zip(frames_a, frames_b, strict=True):
        for key in ("image", "depth", "state"):
            np.testing.assert_array_equal(fa[key], fb[key])
    firsts = {a.reset(seed=s)[0]["image"].tobytes() for s in range(4)}
    assert len(firsts) == 4, "different seeds should place the block and target differently"


def test_camera_matches_mujocos_own_camera_and_depth_measures_the_table() -> None:
    env = make("push")
    obs, _ = env.reset(seed=0)
    pos, forward, up = env._renderer.scene_camera()
    pose = obs["camera"]["extrinsics"]
    np.testing.assert_allclose(pose[:3, 3], pos, atol=1e-5)
    np.testing.assert_allclose(pose[:3, 2], forward, atol=1e-5)  # OpenCV z = MuJoCo forward
    np.testing.assert_allclose(pose[:3, 1], -up, atol=1e-5)  # OpenCV y = MuJoCo down
    camera = Observation(image=obs["image"], instruction="", **observation_extras(obs)).camera
    assert camera is not None
    # Points on the bare front of the table top come back at the table's height.
    for x, y in [(1.5, 0.55), (1.5, 0.95), (1.45, 0.75)]:
        point = project(np.array([x, y, TABLE_TOP_Z]), camera, (SIZE, SIZE))
        world = back_project(point, obs["depth"], camera, window=0)
        assert abs(world[2] - TABLE_TOP_Z) < 0.004, (x, y, world)
        assert np.linalg.norm(world[:2] - [x, y]) < 0.02, (x, y, world)


def test_the_red_target_back_projects_onto_its_sphere() -> None:
    env = make("push")
    checked = 0
    for seed in range(10):
        obs, _ = env.reset(seed=seed)
        goal = env.fetch_state().goal
        camera = observation_extras(obs)["camera"]
        point = project(goal, camera, (SIZE, SIZE))
        px, py = int(point[0] * SIZE), int(point[1] * SIZE)
        r, g, b = obs["image"][py, px].astype(int)
        if not (r > 150 and g < 100 and b < 100):
            continue  # the block or the arm hides the target from this camera
        world = back_project(point, obs["depth"], camera, window=0)
        # The ray through the target's centre hits the sphere's near surface.
        assert abs(np.linalg.norm(world - goal) - TARGET_RADIUS) < 0.01, (seed, world, goal)
        cam_pos = obs["camera"]["extrinsics"][:3, 3]
        assert np.linalg.norm(world - cam_pos) < np.linalg.norm(goal - cam_pos)
        checked += 1
    assert checked >= 8, f"the target was visible on only {checked} of 10 seeds"


def test_point_oracle_points_at_the_goal_of_each_stage() -> None:
    reach = make("reach")
    obs, _ = reach.reset(seed=3)
    point = reach.point_oracle()
    assert isinstance(point, PointTarget) and point.gripper == "keep"
    camera = observation_extras(obs)["camera"]
    assert (point.x, point.y) == pytest.approx(
        project(reach.fetch_state().goal, camera, (SIZE,) * 2)
    )
    push = make("push")
    push.reset(seed=0)
    drag = push.point_oracle()  # from the top of the block to the top of the target
    assert isinstance(drag, Drag)
    state = push.fetch_state()
    assert (drag.x, drag.y) == pytest.approx(
        project(state.block + np.array([0, 0, 0.025]), camera, (SIZE,) * 2)
    )
    assert (drag.to_x, drag.to_y) == pytest.approx(
        project(state.goal + np.array([0, 0, TARGET_RADIUS]), camera, (SIZE,) * 2)
    )
    pick = make("pick-and-place")
    pick.reset(seed=0)
    grippers = []
    while True:
        answer = pick.point_oracle()
        assert answer is not None
        goal = pick.fetch_state().goal if answer.gripper == "open" else pick.fetch_state().block
        assert (answer.x, answer.y) == pytest.approx(project(goal, camera, (SIZE,) * 2))
        grippers.append(answer.gripper)
        *_, terminated, truncated, info = pick.step(pick.oracle().to_json())
        if terminated or truncated:
            break
    assert info["is_success"] and grippers[0] == "close" and grippers[-1] == "open"
    assert grippers == sorted(grippers)  # "close" until the block is held, then "open"
    fresh = make("reach")
    with pytest.raises(ResetNeeded):
        fresh.point_oracle()
    for env in (reach, push, pick, fresh):
        env.close()


def test_elements_box_what_the_camera_shows() -> None:
    push = make("push")
    obs, _ = push.reset(seed=0)
    state, camera = push.fetch_state(), observation_extras(obs)["camera"]
    listed = {e.role: e for e in push.elements()}
    assert list(listed) == ["gripper", "block", "target"]
    assert listed["target"].words == ["target", "red"]
    assert listed["block"].words == ["block", "black"]
    for role, world in (("gripper", state.grip), ("block", state.block), ("target", state.goal)):
        seen = np.array(project(world, camera, (SIZE, SIZE))) * SIZE
        assert listed[role].center == pytest.approx(seen)
    image = obs["image"].astype(int)
    x, y = (round(v) for v in listed["target"].center)
    r, g, b = image[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).mean(0)
    assert r > 120 and r > 2 * g and r > 2 * b  # the target's box holds the red sphere
    x, y = (round(v) for v in listed["block"].center)
    assert image[y - 1 : y + 2, x - 1 : x + 2].max() < 80  # and the block's the black block
    assert 2 <= listed["target"].w < listed["block"].w < 0.25 * SIZE  # the sphere is the smaller
    reach = make("reach")
    reach.reset(seed=0)
    assert [e.role for e in reach.elements()] == ["gripper", "target"]  # no block to push
    fresh = make("reach")
    with pytest.raises(ResetNeeded):
        fresh.elements()
    for env in (push, reach, fresh):
        env.close()


def test_ee_delta_moves_the_gripper_as_documented() -> None:
    env = make("pick-and-place")
    obs, _ = env.reset(seed=1)
    start = obs["state"].copy()
    np.testing.assert_allclose(start[:3], env.fetch_state().grip, atol=1e-6)
    for _ in range(3):
        obs, *_ = env.step(EEDelta(dx=1.0))
    assert obs["state"][0] - start[0] > 0.05  # +x, towards the camera
    assert abs(obs["state"][1] - start[1]) < 0.01
    for _ in range(3):
        obs, *_ = env.step(EEDelta(dy=1.0, gripper=1.0))
    x_img = [
        project(s, observation_extras(obs)["camera"], (SIZE, SIZE))[0]
        for s in (start[:3], obs["state"][:3])
    ]
    assert x_img[1] > x_img[0] + 0.05  # +y moves right in the image
    assert obs["state"][3] > 0.05  # the fingers opened
    for _ in range(4):
        obs, *_ = env.step(EEDelta(gripper=-1.0).to_text())  # model text works too
    assert obs["state"][3] < 0.01


def test_invalid_actions_are_noop_steps_with_a_clear_error() -> None:
    env = make("reach")
    obs, _ = env.reset(seed=2)
    cases = {
        Click(x=0.5, y=0.5): "GUI action",
        PointTarget(x=0.5, y=0.5): "actions.motor",
        Drag(x=0.5, y=0.5, to_x=0.6, to_y=0.5): "drag needs depth",
        "grab the thing": "",
        '{"type": "ee_delta", "dx": 3}': "",
    }
    for action, words in cases.items():
        obs2, reward, terminated, truncated, info = env.step(action)
        assert info["error"] and words in info["error"], (action, info["error"])
        assert reward == 0.0 and not terminated and not truncated
        np.testing.assert_array_equal(obs2["image"], obs["image"])
        np.testing.assert_array_equal(obs2["state"], obs["state"])
    assert info["steps"] == len(cases)
    *_, info = env.step(Wait())
    assert info["error"] is None and info["steps"] == len(cases) + 1


def test_done_and_fail_end_the_episode_and_the_budget_truncates() -> None:
    for action in (Done(), Fail(reason="stuck")):
        env = make("push")
        env.reset(seed=0)
        _, reward, terminated, _, info = env.step(action)
        assert terminated and reward == 0.0 and not info["is_success"]
        with pytest.raises(ResetNeeded):
            env.step(Wait())
    env = gym.make("agent_sdk/robot-reach-v0", width=SIZE, height=SIZE)
    env.reset(seed=0)
    for i in range(env.spec.max_episode_steps):
        _, _, terminated, truncated, info = env.step(Wait().to_json())
        assert not terminated and truncated == (i == env.spec.max_episode_steps - 1)


def test_instructions_name_the_task() -> None:
    expected = {
        "reach": "move the gripper to the red target",
        "push": "push the black block onto the red target",
        "pick-and-place": "pick up the black block and place it on the red target",
    }
    for task, text in expected.items():
        env = make(task)
        obs, info = env.reset(seed=0)
        assert obs["instruction"] == text == env.task_description == info["task_description"]
        assert info["task"] == task and isinstance(info["is_success"], bool)
    env = make("pick-and-place")
    texts = {env.reset(seed=s)[0]["instruction"] for s in range(8)}
    assert texts == {expected["pick-and-place"], get_task("pick-and-place").instruction_in_air}


def test_a_dead_renderer_raises_env_crashed_and_reset_recovers(monkeypatch) -> None:
    env = make("reach")
    env.reset(seed=0)

    def broken(self: SceneRenderer, data: object) -> None:
        raise RuntimeError("EGL context lost")

    with monkeypatch.context() as patch:
        patch.setattr(SceneRenderer, "render", broken)
        with pytest.raises(EnvCrashed, match="EGL context lost"):
            env.step(EEDelta(dz=0.2))
    with pytest.raises(ResetNeeded):
        env.step(Wait())
    obs, _ = env.reset(seed=0)
    assert obs["image"].std() > 10


def test_a_blank_frame_from_a_lost_context_is_env_crashed(monkeypatch) -> None:
    """A lost or freed GL context renders without a GL error, but nothing: caught, not used."""
    env = make("reach")
    env.reset(seed=0)
    renderer = env._renderer
    real = renderer._mujoco

    class BlankGL:
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        @staticmethod
        def mjr_readPixels(rgb, depth, rect, context) -> None:  # type: ignore[no-untyped-def]
            rgb[:] = 0
            depth[:] = 0  # what a context that draws nothing leaves

    monkeypatch.setattr(renderer, "_mujoco", BlankGL())
    with pytest.raises(EnvCrashed, match="blank frame"):
        env.step(Wait())
    obs, _ = env.reset(seed=0)  # a new renderer, a real frame
    assert obs["image"].std() > 10


def test_gl_fallback_picks_the_first_backend_that_works() -> None:
    tried: list[str] = []

    def fake(backend: str) -> str | None:
        tried.append(backend)
        return None if backend == "osmesa" else "eglInitialize failed"

    assert gl.choose(("egl", "osmesa"), fake) == "osmesa"
    assert tried == ["egl", "osmesa"]
    with pytest.raises(EnvError, match="libegl1 libegl-mesa0") as err:
        gl.choose(("egl", "osmesa"), lambda b: f"{b} is broken")
    assert "egl: egl is broken" in str(err.value) and "osmesa: osmesa is broken" in str(err.value)
    # A real probe of a backend that cannot work reports why, in a child process.
    why = gl.probe("no-such-backend")
    assert why is not None and "MUJOCO_GL" in why


def test_a_model_can_load_after_a_robot_env_has_rendered() -> None:
    # torch imports triton as it loads a model; after Mesa's GL (llvmpipe) it segfaulted
    pytest.importorskip("triton")
    code = ("import gymnasium as gym, envs; e = gym.make('agent_sdk/robot-reach-v0', width=64, "
            "height=64); e.reset(seed=0); e.close(); import triton; print('loaded')")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "loaded" in proc.stdout, proc.stderr[-500:]


def test_bad_names_and_sizes_give_clear_errors() -> None:
    with pytest.raises(UnknownTaskError, match="Did you mean push"):
        get_task("pusj")
    with pytest.raises(EnvError, match="out of range"):
        RobotEnv("reach", width=32, height=32)
