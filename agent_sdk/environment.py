"""Where the agent's actions go: the :class:`Environment` protocol and its Gymnasium adapter.

Every SDK env (the GUI suite, the live desktop ``envs.desktop.DesktopEnv``, MiniWoB, robots) is a
Gymnasium env, so :class:`GymEnvironment` serves them all; a custom executor only needs
``reset``, ``observe`` and ``act``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym

from actions.coords import ScreenFrame
from actions.schema import ActionBase, Observation
from agent_sdk.errors import AgentError
from agent_sdk.records import StepResult

_SCALARS = (str, int, float, bool, type(None))


@runtime_checkable
class Environment(Protocol):
    """What the agent's graph observes and acts on."""

    def reset(self, seed: int | None = None) -> Observation:
        """Start an episode; returns its first observation."""
        ...

    def observe(self) -> Observation:
        """The current observation."""
        ...

    def act(self, action: ActionBase | Sequence[ActionBase]) -> StepResult:
        """Execute one action (or a chunk of them, where the environment supports chunks)."""
        ...


class GymEnvironment:
    """A Gymnasium env with the SDK's spaces (``Dict(image, instruction)``, ``Text`` actions)
    as an :class:`Environment`.

    ``instruction`` replaces the env's own (and is passed to ``reset`` as
    ``options={"instruction": ...}``, for envs such as the live desktop that take one). A
    :class:`~actions.coords.ScreenFrame` in ``info["frame"]`` reaches the observation, so the
    guard can check points against the real screen.
    """

    def __init__(self, env: gym.Env, instruction: str | None = None) -> None:
        self.env, self.instruction = env, instruction
        self._obs: Observation | None = None
        self._steps = 0

    def reset(self, seed: int | None = None) -> Observation:
        options = None if self.instruction is None else {"instruction": self.instruction}
        obs, info = self.env.reset(seed=seed, options=options)
        self._steps = 0
        self._obs = self._observation(obs, info)
        return self._obs

    def observe(self) -> Observation:
        if self._obs is None:
            raise AgentError("the environment has not been reset; call reset(seed) first")
        return self._obs

    def act(self, action: ActionBase | Sequence[ActionBase]) -> StepResult:
        if not isinstance(action, ActionBase):
            if len(action) != 1:
                raise AgentError(
                    f"{type(self.env.unwrapped).__name__} takes one action per step, not a "
                    "chunk; chunks of motor actions are for robot envs"
                )
            action = action[0]
        obs, reward, terminated, truncated, info = self.env.step(action.to_json())
        self._steps += 1
        self._obs = self._observation(obs, info)
        return StepResult(
            reward=float(reward),
            terminated=bool(terminated),
            truncated=bool(truncated),
            success=bool(info.get("is_success", False)),
            error=info.get("error"),
            info={k: v for k, v in info.items() if isinstance(v, _SCALARS)},
        )

    def _observation(self, obs: dict[str, Any], info: dict[str, Any]) -> Observation:
        frame = info.get("frame")
        return Observation(
            image=obs["image"],
            instruction=self.instruction or str(obs["instruction"]),
            frame=frame if isinstance(frame, ScreenFrame) else None,
            step=self._steps,
        )


def as_environment(env: Environment | gym.Env, instruction: str | None = None) -> Environment:
    """``env`` itself when it is an :class:`Environment`; a Gymnasium env becomes a
    :class:`~agent_sdk.robot.RobotEnvironment` when its observations carry depth, camera and
    state, else a :class:`GymEnvironment`."""
    if isinstance(env, gym.Env):
        from agent_sdk.robot import RobotEnvironment, is_robot_env

        if is_robot_env(env):
            return RobotEnvironment(env, instruction)
        return GymEnvironment(env, instruction)
    if instruction is not None:
        raise AgentError(
            "an instruction can only be given with a Gymnasium env; "
            "set it on your Environment instead"
        )
    if not isinstance(env, Environment):
        raise AgentError(
            f"expected a Gymnasium env or an Environment (reset/observe/act), "
            f"got {type(env).__name__}"
        )
    return env
