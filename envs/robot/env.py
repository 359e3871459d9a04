"""The Gymnasium environment that runs one Fetch task seen through a fixed RGB-D camera."""

from __future__ import annotations

import contextlib
import importlib
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded

from actions.errors import CoordinateError, ParseError
from actions.motor import project
from actions.schema import ActionBase, CameraInfo, Done, Drag, EEDelta, Fail, PointTarget, Wait
from envs.contract import (
    Element,
    action_space,
    check_render_mode,
    observation_space,
    to_action,
)
from envs.errors import EnvCrashed, EnvError
from envs.robot.camera import DEFAULT_CAMERA, CameraPose, SceneRenderer
from envs.robot.gl import import_mujoco
from envs.robot.oracle import EXPERTS, FetchState, holding
from envs.robot.tasks import get_task

MIN_SIZE, MAX_SIZE = 64, 1024
STATE_LAYOUT: tuple[str, ...] = (
    "grip_x", "grip_y", "grip_z",  # grip site (between the fingertips), world frame, m
    "grip_width",  # finger opening, m (0 closed, 0.1 fully open)
    "grip_vx", "grip_vy", "grip_vz",  # grip site velocity, m/s
    "grip_width_v",  # opening velocity, m/s
)  # fmt: skip
"""Names of the ``state`` vector's entries, in order."""
BLOCK_HALF = 0.025
"""Half the side of Fetch's block (metres): its top face is this far above its centre."""
TARGET_RADIUS = 0.02
"""The red target sphere's radius (metres)."""
GRIPPER_HALF = 0.03
"""About half the span of the gripper's fingers (metres), for its box in `RobotEnv.elements`."""
RESET_TRIES = 20
"""Draws of block and target per reset until they do not start within the success distance."""
BOUND = 1e4
"""Bound of the float spaces (metres, pixels, m/s): far above any value the scene produces."""


def robot_observation_space(width: int, height: int) -> spaces.Dict:
    """The SDK's ``image`` + ``instruction`` plus ``depth``, ``camera`` and ``state``."""
    return spaces.Dict(
        {
            **observation_space(width, height).spaces,
            "depth": spaces.Box(0.0, BOUND, (height, width), np.float32),
            "camera": spaces.Dict(
                intrinsics=spaces.Box(0.0, BOUND, (3, 3), np.float64),
                extrinsics=spaces.Box(-BOUND, BOUND, (4, 4), np.float64),
            ),
            "state": spaces.Box(-BOUND, BOUND, (len(STATE_LAYOUT),), np.float32),
        }
    )


def observation_extras(obs: dict[str, Any]) -> dict[str, Any]:
    """The fields of :class:`~actions.schema.Observation` beyond image and instruction.

    ``Observation(image=obs["image"], instruction=obs["instruction"], **observation_extras(obs))``
    """
    cam = obs["camera"]
    return {
        "depth": obs["depth"],
        "camera": CameraInfo(intrinsics=cam["intrinsics"], extrinsics=cam["extrinsics"]),
    }


class RobotEnv(gym.Env[dict[str, Any], str]):
    """A Fetch arm on a table (gymnasium-robotics v4, MuJoCo) seen through a fixed RGB-D camera.

    ## Description
    Wraps ``FetchReach``, ``FetchPush`` or ``FetchPickAndPlace`` (``task``: reach, push,
    pick-and-place). Each episode places the black block (push, pick-and-place) and the red
    target (a 2 cm sphere) at random, never already within the success distance; the agent
    must do what the instruction says. A free MuJoCo
    camera (``camera``, a :class:`~envs.robot.camera.CameraPose`) looks at the table from the
    side opposite the robot and renders RGB and depth in one pass. Headless OpenGL is picked
    on first use (EGL, else OSMesa; see :mod:`envs.robot.gl`), with shadows and reflections
    off. :meth:`oracle` is a scripted expert that reads the true state.

    ## Action Space
    ``Text``: one action of :mod:`actions.schema` as JSON or in the SDK's model format;
    :class:`~actions.schema.ActionBase` objects are accepted too. ``ee_delta(dx, dy, dz,
    gripper)`` is Fetch's own 4-D action: each unit of dx/dy/dz moves the gripper's target 5 cm
    along world x/y/z in one step (with the default camera: +x comes toward the camera, +y goes
    right in the image, +z up); gripper +1 opens and -1 closes (push and reach keep the fingers
    closed). ``wait`` is one step with
    no motion; ``done`` and ``fail`` end the episode. ``point_target`` (turn it into
    ``ee_delta`` with :mod:`actions.motor` first), GUI actions and unparsable text are a no-op
    step (no simulation) with ``info["error"]`` set.

    ## Observation Space
    ``Dict(image=Box(uint8, (height, width, 3)), instruction=Text, depth=Box(float32,
    (height, width)), camera=Dict(intrinsics=Box(float64, (3, 3)), extrinsics=Box(float64,
    (4, 4))), state=Box(float32, (8,)))``. ``depth`` is metres along the optical axis;
    ``camera`` follows :class:`~actions.schema.CameraInfo` (OpenCV axes, camera-to-world);
    ``state`` is proprioception only, laid out as :data:`STATE_LAYOUT`.
    :func:`observation_extras` turns an observation into ``Observation`` fields.

    ## Rewards
    1 on the step that reaches the goal (gripper, or block, within 5 cm of the target), else 0.

    ## Episode End
    Terminates on success or when the agent sends ``done()``/``fail()``; truncates after the
    task's step budget (``_max_episode_steps``: reach 50, push and pick-and-place 100). A dead
    renderer raises :class:`~envs.errors.EnvCrashed`; ``reset()`` builds a new one.

    ## Version History
    * v0: first release (gymnasium-robotics Fetch v4, MuJoCo < 3.12).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(
        self,
        task: str,
        width: int = 256,
        height: int = 256,
        camera: CameraPose = DEFAULT_CAMERA,
        render_mode: str | None = None,
    ) -> None:
        if not (MIN_SIZE <= width <= MAX_SIZE and MIN_SIZE <= height <= MAX_SIZE):
            raise EnvError(
                f"image size {width}x{height} is out of range; width and height must lie in "
                f"[{MIN_SIZE}, {MAX_SIZE}] (224 to 480 suits the VLM)"
            )
        check_render_mode(render_mode)
        self.task = get_task(task)
        self.width, self.height, self.camera_pose = width, height, camera
        self.render_mode = render_mode
        self.observation_space = robot_observation_space(width, height)
        self.action_space = action_space()
        self._max_episode_steps = self.task.max_steps
        import_mujoco()  # checks the extra and picks the GL backend before Fetch imports mujoco
        module, cls = self.task.fetch_class.split(":")
        self._fetch = getattr(importlib.import_module(module), cls)(width=width, height=height)
        self._camera = {
            "intrinsics": camera.intrinsics(width, height),
            "extrinsics": camera.extrinsics(),
        }
        self._renderer: SceneRenderer | None = None
        self._frame: tuple[np.ndarray, np.ndarray] | None = None
        self._instruction = ""
        self.steps = 0
        self._success = False
        self._ended = False

    # -- gymnasium API --------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        fetch = self._fetch
        for _ in range(RESET_TRIES):  # an episode that starts at the goal teaches nothing
            fetch.reset(seed=int(self.np_random.integers(2**31 - 1)))
            if not self._at_goal():
                break
        fetch._render_callback()  # move the red target site onto the goal
        in_air = fetch.has_object and fetch.goal[2] > fetch.height_offset + 0.01
        self._instruction = self.task.describe(bool(in_air))
        self.steps, self._ended, self._success = 0, False, False
        self._frame = None
        self._render()
        return self._obs(), self._info(None)

    def step(
        self, action: str | ActionBase
    ) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if self._frame is None or self._ended:
            raise ResetNeeded("the episode has ended (or never started): call reset() first")
        self.steps += 1
        error: str | None = None
        agent_ended = False
        try:
            act = to_action(action, (self.width, self.height))
            error = self._apply(act)
            agent_ended = error is None and act.terminal
            if isinstance(act, Fail):
                self._success = False
        except ParseError as err:
            error = str(err)
        terminated = self._success or agent_ended
        truncated = not terminated and self.steps >= self._max_episode_steps
        self._ended = terminated or truncated
        return self._obs(), float(self._success), terminated, truncated, self._info(error)

    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array" and self._frame is not None:
            return self._frame[0]
        return None

    def close(self) -> None:
        """Free the renderer (a later ``reset()`` builds a new one)."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self._fetch.close()

    # -- SDK extras -----------------------------------------------------------------------------
    def oracle(self) -> ActionBase:
        """The scripted expert's next action, from the true state."""
        if self._frame is None:
            raise ResetNeeded("call reset() before asking the oracle")
        return EXPERTS[self.task.name](self.fetch_state())

    def point_oracle(self) -> PointTarget | Drag | None:
        """The expert's next goal in image points, the answer a VLM gives through the motor
        layer: reach: the target; pick-and-place: the block (``gripper="close"``) until it is
        held, then the target (``"open"``); push: a ``drag`` from the top of the block to the top
        of the target (straight above their centres; the motor layer pushes). ``None`` when a
        point is outside the image."""
        if self._frame is None:
            raise ResetNeeded("call reset() before asking the oracle")
        state = self.fetch_state()
        camera, size = CameraInfo(**self._camera), (self.width, self.height)
        try:
            if self.task.name == "push":
                assert state.block is not None
                up = np.array([0.0, 0.0, 1.0])
                tops = (state.block + BLOCK_HALF * up, state.goal + TARGET_RADIUS * up)
                (x, y), (to_x, to_y) = (project(p, camera, size) for p in tops)
                return Drag(x=x, y=y, to_x=to_x, to_y=to_y)
            if self.task.name == "reach":
                world, gripper = state.goal, "keep"
            else:
                world, gripper = (state.goal, "open") if holding(state) else (state.block, "close")
            x, y = project(world, camera, size)
        except CoordinateError:
            return None
        return PointTarget(x=x, y=y, gripper=gripper)

    def elements(self) -> list[Element]:
        """What the camera shows, in image pixels: the gripper, the block (push, pick-and-place)
        and the red target, each as the box around its centre's projection that its size spans
        (ground truth for training and tests, never part of the observation). A thing whose
        centre lies outside the image is left out; one hidden behind the arm is still listed."""
        if self._frame is None:
            raise ResetNeeded("call reset() before asking for the elements")
        state = self.fetch_state()
        things = [(state.grip, GRIPPER_HALF, "gripper", "")]
        if state.block is not None:
            things.append((state.block, BLOCK_HALF, "block", "black"))
        things.append((state.goal, TARGET_RADIUS, "target", "red"))
        camera, size = CameraInfo(**self._camera), np.array([self.width, self.height])
        out = []
        for centre, half, role, text in things:
            try:
                middle = np.array(project(centre, camera, tuple(size))) * size
            except CoordinateError:
                continue
            reach = 1.0  # pixels: at least a one-pixel box
            for offset in np.concatenate([np.eye(3), -np.eye(3)]) * half:
                with contextlib.suppress(CoordinateError):  # a face outside the image
                    corner = np.array(project(centre + offset, camera, tuple(size))) * size
                    reach = max(reach, float(np.abs(corner - middle).max()))
            x, y = float(middle[0]) - reach, float(middle[1]) - reach
            out.append(Element(x, y, 2 * reach, 2 * reach, role, text))
        return out

    def fetch_state(self) -> FetchState:
        """The true positions the expert reads (the observation never holds the block or goal)."""
        fetch, utils = self._fetch, self._fetch._utils
        grip = utils.get_site_xpos(fetch.model, fetch.data, "robot0:grip").copy()
        block = None
        if fetch.has_object:
            block = utils.get_site_xpos(fetch.model, fetch.data, "object0").copy()
        return FetchState(
            grip=grip, width=self._state()[3].item(), goal=fetch.goal.copy(), block=block
        )

    @property
    def instruction(self) -> str:
        return self._instruction

    @property
    def task_description(self) -> str:
        """The instruction (LeRobot's name for it)."""
        return self._instruction

    # -- internals ------------------------------------------------------------------------------
    def _apply(self, act: ActionBase) -> str | None:
        """Carry out an action; returns an error message for ones a robot cannot take."""
        if isinstance(act, EEDelta):
            move = np.array([act.dx, act.dy, act.dz, act.gripper], np.float32)
        elif isinstance(act, Wait):
            move = np.zeros(4, np.float32)
        elif isinstance(act, (Done, Fail)):
            return None
        elif act.type in ("point_target", "drag"):
            return (
                f"{act.type} needs depth and the camera: turn it into ee_delta with "
                "actions.motor first (a robot env takes ee_delta, wait, done and fail)"
            )
        else:
            return f"{act.type} is a GUI action; a robot env takes ee_delta, wait, done and fail"
        _, _, _, _, info = self._fetch.step(np.clip(move, -1.0, 1.0))
        self._success = bool(info["is_success"])
        self._render()
        return None

    def _at_goal(self) -> bool:
        fetch = self._fetch
        return bool(fetch._is_success(fetch._get_obs()["achieved_goal"], fetch.goal))

    def _render(self) -> None:
        """Render the current state into ``self._frame``; EnvCrashed if the renderer dies."""
        try:
            if self._renderer is None:
                self._renderer = SceneRenderer(
                    self._fetch.model, self.width, self.height, self.camera_pose
                )
            self._frame = self._renderer.render(self._fetch.data)
        except EnvError:
            raise
        except Exception as err:  # GL and MuJoCo errors come in many types
            if self._renderer is not None:
                with contextlib.suppress(Exception):  # the context is already broken
                    self._renderer.close()
            self._renderer, self._frame, self._ended = None, None, True
            raise EnvCrashed(
                f"the MuJoCo renderer failed ({type(err).__name__}: {err}); call reset() to "
                f"build a new one, or make a new env"
            ) from err

    def _state(self) -> np.ndarray:
        fetch = self._fetch
        grip, _, _, fingers, _, _, _, grip_velp, fingers_vel = fetch.generate_mujoco_observations()
        dt = fetch.dt
        return np.array(
            [*grip, fingers.sum(), *(grip_velp / dt), fingers_vel.sum() / dt], np.float32
        )

    def _obs(self) -> dict[str, Any]:
        assert self._frame is not None
        rgb, depth = self._frame
        return {
            "image": rgb.copy(),
            "instruction": self._instruction,
            "depth": depth.copy(),
            "camera": {k: v.copy() for k, v in self._camera.items()},
            "state": self._state(),
        }

    def _info(self, error: str | None) -> dict[str, Any]:
        return {
            "task": self.task.name,
            "is_success": self._success,
            "error": error,
            "steps": self.steps,
            "task_description": self._instruction,
        }
