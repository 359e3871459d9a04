"""The live screen as a Gymnasium environment (needs a display and the ``desktop`` extra)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded

from actions.desktop import Executor, PyAutoGUIExecutor, RecordingExecutor, ScreenSource
from actions.errors import ActionError, ParseError
from actions.guard import Guard, GuardDecision
from actions.schema import ActionBase, Observation
from envs.contract import action_space, check_render_mode, observation_space, to_action
from envs.errors import EnvError

SuccessFn = Callable[[dict[str, Any]], bool]
ApproveFn = Callable[[GuardDecision], bool]


class DesktopEnv(gym.Env[dict[str, Any], str]):
    """Whatever a real screen shows, driven by real input, every action checked by a guard.

    ## Description
    Each step captures the screen with a :class:`~actions.desktop.ScreenSource`; each action
    passes a :class:`~actions.guard.Guard` and then an :class:`~actions.desktop.Executor`
    (pyautogui by default; a :class:`~actions.desktop.RecordingExecutor` when the guard's
    config says ``dry_run``). The env is not registered with Gymnasium, since it needs a live
    display: construct it directly.

    ## Action Space
    ``Text``: one action of :mod:`actions.schema` as JSON, or in the SDK's model format
    (``click(500, 300)``); :class:`~actions.schema.ActionBase` objects are accepted too. Points
    are normalised to the last observation. An unparsable action, one the guard refuses, one
    that needs approval nobody gave (``approve``), or one the executor cannot carry out does
    nothing; ``info["error"]`` says why and ``info["guard"]`` holds the guard's decision.

    ## Observation Space
    ``Dict(image=Box(0, 255, (height, width, 3), uint8), instruction=Text)``, the size of the
    captured screen area when the env was made.

    ## Rewards
    1 on a step where ``success_fn(observation)`` holds, 0 otherwise.

    ## Episode End
    Terminates when ``success_fn`` holds or the agent sends ``done()``/``fail()``; truncates
    after ``max_steps`` steps. Without ``success_fn`` nothing counts as success.

    ## Version History
    * v0: first release.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        instruction: str = "",
        *,
        source: ScreenSource | None = None,
        guard: Guard | None = None,
        executor: Executor | None = None,
        success_fn: SuccessFn | None = None,
        approve: ApproveFn | None = None,
        max_steps: int = 50,
        render_mode: str | None = None,
    ) -> None:
        if max_steps < 1:
            raise EnvError(f"max_steps must be >= 1, got {max_steps}")
        check_render_mode(render_mode)
        self.instruction = instruction
        self.source = source or ScreenSource()
        self.guard = guard or Guard()
        if self.guard.dry_run:
            executor = RecordingExecutor()
        self.executor = executor or PyAutoGUIExecutor()
        self.success_fn, self.approve = success_fn, approve
        self.render_mode = render_mode
        size = self.source.frame()
        self.observation_space = observation_space(size.width, size.height)
        self.action_space = action_space()
        self._max_episode_steps = max_steps
        self.steps = 0
        self._last: Observation | None = None
        self._ended = True

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start an episode; ``options={"instruction": ...}`` replaces the instruction."""
        super().reset(seed=seed)
        if options and "instruction" in options:
            self.instruction = str(options["instruction"])
        self.guard.reset()
        self.steps, self._ended = 0, False
        obs = self._observe()
        return obs, self._info(self._succeeded(obs), None, None)

    def step(
        self, action: str | ActionBase
    ) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if self._last is None or self._ended:
            raise ResetNeeded("the episode has ended (or never started): call reset() first")
        self.steps += 1
        decision: GuardDecision | None = None
        try:
            act = to_action(action, self._last.size)
            decision = self.guard.check(act, self._last.frame)
            error = self._act(decision)
        except ParseError as err:
            act, error = None, str(err)
        obs = self._observe()
        success = self._succeeded(obs)
        terminated = success or (act is not None and act.terminal and error is None)
        truncated = not terminated and self.steps >= self._max_episode_steps
        self._ended = terminated or truncated
        return obs, float(success), terminated, truncated, self._info(success, error, decision)

    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array" and self._last is not None:
            return self._last.image
        return None

    def close(self) -> None:
        self.source.close()

    def _act(self, decision: GuardDecision) -> str | None:
        """Run an action the guard allows; otherwise, or if it fails, say why."""
        action = decision.action
        if not decision.allowed:
            return f"the guard refused {action.to_text()}: {decision.reason}"
        if decision.needs_approval and not (self.approve and self.approve(decision)):
            return f"{action.to_text()} needs approval that was not given: {decision.reason}"
        assert self._last is not None and self._last.frame is not None
        try:
            self.executor.execute(action, self._last.frame)
        except ActionError as err:
            return str(err)
        return None

    def _observe(self) -> dict[str, Any]:
        self._last = self.source.capture()
        return {"image": self._last.image, "instruction": self.instruction}

    def _succeeded(self, obs: dict[str, Any]) -> bool:
        return bool(self.success_fn(obs)) if self.success_fn is not None else False

    def _info(
        self, success: bool, error: str | None, decision: GuardDecision | None
    ) -> dict[str, Any]:
        assert self._last is not None
        return {
            "task": "desktop",
            "is_success": success,
            "error": error,
            "guard": decision,
            "frame": self._last.frame,
            "steps": self.steps,
        }
