"""Robots in the agent loop: :class:`RobotEnvironment` runs the motor layer between perception
calls.

One agent step is one policy call. An ``ee_delta`` (or ``wait``, ``done``, ``fail``) is one
simulator step; a ``point_target`` or a ``drag`` (a push), or a chunk of motor actions, is
grounded once with the observation's depth and camera, then :class:`~actions.motor.MotorLayer`
emits one ``ee_delta`` per simulator step for up to ``perceive_every`` steps, after which the
agent looks again. When
the policy repeats the action still in flight, the plan goes on instead of starting over, so a
pick is not restarted every ``perceive_every`` steps.

Works with any Gymnasium env whose observation holds ``image``, ``instruction``, ``depth``,
``camera`` (``intrinsics``, ``extrinsics``) and ``state`` starting with the gripper's world
position and opening (the SDK's robot envs, ``envs.robot``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from actions.errors import GroundingError
from actions.motor import MotorConfig, MotorLayer
from actions.schema import ActionBase, CameraInfo, Drag, EEDelta, Observation, PointTarget
from agent_sdk.environment import GymEnvironment
from agent_sdk.errors import ConfigError
from agent_sdk.records import StepResult

ROBOT_KEYS = frozenset({"depth", "camera", "state"})
"""Observation keys that mark a Gymnasium env as a robot env."""
DEFAULT_PERCEIVE_EVERY = 10
"""Simulator steps the motor layer runs between two perception calls."""


def is_robot_env(env: gym.Env) -> bool:
    """Whether ``env``'s observations carry depth, a camera and proprioception."""
    space = env.observation_space
    return isinstance(space, gym.spaces.Dict) and set(space.spaces) >= ROBOT_KEYS


class RobotEnvironment(GymEnvironment):
    """A robot env as an :class:`~agent_sdk.environment.Environment`, with the motor layer.

    ``motor`` sets the controller's gains and limits (defaults suit Fetch: 5 cm per action
    unit); ``perceive_every`` is how many simulator steps a ``point_target`` may run before the
    agent observes again. ``act`` also takes a chunk (a sequence of motor actions).
    """

    def __init__(
        self,
        env: gym.Env,
        instruction: str | None = None,
        motor: MotorConfig | None = None,
        perceive_every: int = DEFAULT_PERCEIVE_EVERY,
    ) -> None:
        if perceive_every < 1:
            raise ConfigError(f"perceive_every must be >= 1, got {perceive_every}")
        if not is_robot_env(env):
            raise ConfigError(
                f"{env} is not a robot env: its observations need {', '.join(sorted(ROBOT_KEYS))}"
            )
        super().__init__(env, instruction)
        self.motor = MotorLayer(motor)
        self.perceive_every = perceive_every
        self._raw: dict[str, Any] | None = None
        self._last_info: dict[str, Any] = {}
        self._in_flight: tuple[str, ...] = ()

    def reset(self, seed: int | None = None) -> Observation:
        self.motor.clear()
        self._in_flight = ()
        return super().reset(seed)

    def act(self, action: ActionBase | Sequence[ActionBase]) -> StepResult:
        chunk = [action] if isinstance(action, ActionBase) else list(action)
        if not chunk:
            raise ConfigError("act() needs an action or a non-empty chunk")
        if len(chunk) == 1 and not isinstance(chunk[0], (EEDelta, PointTarget, Drag)):
            self.motor.clear()
            self._in_flight = ()
            return super().act(chunk[0])  # wait, done, fail: one step, as the env defines it
        key = tuple(a.to_text() for a in chunk)
        if key != self._in_flight or self.motor.done:
            try:
                self.motor.set_target(chunk, self.observe(), self._state()[:3])
            except GroundingError as err:
                self._in_flight = ()
                return StepResult(0.0, False, False, self._success(), error=str(err))
            self._in_flight = key
        return self._run_motor()

    def _run_motor(self) -> StepResult:
        reward, result, steps = 0.0, None, 0
        while not self.motor.done and steps < self.perceive_every:
            state = self._state()
            result = super().act(self.motor.command(state[:3], float(state[3])))
            reward, steps = reward + result.reward, steps + 1
            if result.terminated or result.truncated or result.error is not None:
                self.motor.clear()
                break
        if self.motor.done:
            self._in_flight = ()
        if result is None:  # the plan was already over: nothing to run
            return StepResult(0.0, False, False, self._success(), info={"sim_steps": 0})
        info = {**result.info, "sim_steps": steps, "motor": self.motor.status}
        return StepResult(reward, result.terminated, result.truncated, result.success,
                          result.error, info)  # fmt: skip

    def _state(self) -> np.ndarray:
        assert self._raw is not None
        return np.asarray(self._raw["state"], dtype=np.float64)

    def _success(self) -> bool:
        return bool(self._last_info.get("is_success", False))

    def _observation(self, obs: dict[str, Any], info: dict[str, Any]) -> Observation:
        self._raw, self._last_info = obs, info
        cam = obs["camera"]
        return Observation(
            image=obs["image"],
            instruction=self.instruction or str(obs["instruction"]),
            depth=obs["depth"],
            camera=CameraInfo(intrinsics=cam["intrinsics"], extrinsics=cam["extrinsics"]),
            step=self._steps,
        )
