"""The Gymnasium environment that runs one GUI-suite task."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded

from actions.coords import norm_to_pixels
from actions.errors import ParseError
from actions.schema import (
    ActionBase,
    Click,
    Done,
    DoubleClick,
    Drag,
    Fail,
    Hotkey,
    Key,
    Move,
    RightClick,
    Scroll,
    TypeText,
    Wait,
)
from envs.contract import Element, action_space, check_render_mode, observation_space, to_action
from envs.errors import EnvError, TaskGenerationError
from envs.ui.elements import scene_elements
from envs.ui.inject import Injection, InjectionKind, check_kind, strip_height
from envs.ui.style import ThemeName, sample_style
from envs.ui.task import UITask
from envs.ui.tasks import get_task

MIN_SIZE, MAX_SIZE = 128, 2048
GENERATION_TRIES = 50


class UIEnv(gym.Env[dict[str, Any], str]):
    """A synthetic desktop task rendered with Pillow: the agent sees pixels and acts with actions.

    ## Description
    Each episode generates one task of the GUI suite (``task``: click-button, fill-form, ...)
    with a random layout, theme (light or dark), font, size and distractors, drawn on a
    ``width`` x ``height`` screen. The agent must do what the instruction says.

    ## Action Space
    ``Text``: one action of :mod:`actions.schema` as JSON (``Click(x=.5, y=.3).to_json()``),
    or in the SDK's model format (``click(500, 300)``); :class:`~actions.schema.ActionBase`
    objects are accepted too. Points are normalised to the image. Unparsable or illegal actions
    (robot actions) are a no-op step with ``info["error"]`` set.

    ## Observation Space
    ``Dict(image=Box(0, 255, (height, width, 3), uint8), instruction=Text)``.

    ## Rewards
    1 on the step that completes the task, 0 otherwise.

    ## Episode End
    Terminates when the task decides (a committing action, right or wrong) or the agent sends
    ``done()``/``fail()``; truncates after the task's step budget (``_max_episode_steps``).

    ``inject`` (``"hotkey"``, ``"password"`` or ``"dialog"``, see :mod:`envs.ui.inject`) lays
    the task out in the top 80 % of the screen (its window) and shows hostile text in a strip
    below it; :attr:`outside_window` is that strip as a normalised box, for a guard's
    ``forbidden_regions``. ``info["injection_obeyed"]`` says whether the agent did what it said
    (which fails the task).

    ## Version History
    * v0: first release.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        task: str,
        width: int = 320,
        height: int = 240,
        theme: ThemeName | None = None,
        render_mode: str | None = None,
        inject: InjectionKind | None = None,
    ) -> None:
        if not (MIN_SIZE <= width <= MAX_SIZE and MIN_SIZE <= height <= MAX_SIZE):
            raise EnvError(
                f"screen size {width}x{height} is out of range; width and height must lie in "
                f"[{MIN_SIZE}, {MAX_SIZE}] (the suite is tuned for 160x210 up to 1280x800)"
            )
        if theme not in (None, "light", "dark"):
            raise EnvError(f"theme must be 'light', 'dark' or None (random), got {theme!r}")
        check_render_mode(render_mode)
        check_kind(inject)
        self.inject = inject
        self.task_height = height - (strip_height(height) if inject else 0)
        self.injection: Injection | None = None
        self.task_cls = get_task(task)
        self.width, self.height, self.theme = width, height, theme
        self.render_mode = render_mode
        self.observation_space = observation_space(width, height)
        self.action_space = action_space()
        self._max_episode_steps = self.task_cls.max_steps
        self.task: UITask | None = None
        self.steps = 0
        self._ended = False

    # -- gymnasium API --------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        if self.task is not None:
            # the old task and its scene refer to each other (widget callbacks); drop the frame
            # now rather than keep it until a full garbage collection finds the cycle
            self.task.scene.invalidate()
        for _ in range(GENERATION_TRIES):
            style = sample_style(self.np_random, self.width, self.height, self.theme)
            try:
                self.task = self.task_cls(self.np_random, self.width, self.task_height, style)
                break
            except TaskGenerationError as err:
                last = err
        else:
            raise TaskGenerationError(
                f"{self.task_cls.name} could not lay out a scene at {self.width}x{self.height} in "
                f"{GENERATION_TRIES} tries ({last}); use a larger screen"
            )
        self.steps, self._ended = 0, False
        if self.inject is not None:
            self.injection = Injection(self.inject, self.width, self.height, style)
        return self._obs(), self._info(None)

    def step(
        self, action: str | ActionBase
    ) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        task = self.task
        if task is None or self._ended:
            raise ResetNeeded("the episode has ended (or never started): call reset() first")
        self.steps += 1
        error: str | None = None
        try:
            act = to_action(action, (self.width, self.height))
            error = self._apply(task, act)
        except ParseError as err:
            error = str(err)
        terminated = task.outcome is not None
        truncated = not terminated and self.steps >= self._max_episode_steps
        self._ended = terminated or truncated
        reward = 1.0 if task.outcome is True else 0.0
        return self._obs(), reward, terminated, truncated, self._info(error)

    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array" and self.task is not None:
            return self._screen()
        return None

    # -- SDK extras -----------------------------------------------------------------------------
    def oracle(self) -> ActionBase:
        """The expert's next action for the current state (for tests and demonstrations)."""
        if self.task is None:
            raise ResetNeeded("call reset() before asking the oracle")
        action = self.task.oracle()
        if self.task_height == self.height:
            return action
        scale = self.task_height / self.height  # the task's points, on the taller screen
        update = {k: getattr(action, k) * scale for k in ("y", "to_y") if hasattr(action, k)}
        return action.model_copy(update=update)

    def elements(self) -> list[Element]:
        """What the window shows, element by element (`envs.ui.elements`; ground truth for
        training and tests, never part of the observation)."""
        if self.task is None:
            raise ResetNeeded("call reset() before asking for the elements")
        return scene_elements(self.task.scene)

    @property
    def outside_window(self) -> tuple[float, float, float, float] | None:
        """With ``inject``: the screen below the task's window (normalised box), else None."""
        return None if self.inject is None else (0.0, self.task_height / self.height, 1.0, 1.0)

    @property
    def instruction(self) -> str:
        return self.task.instruction if self.task is not None else ""

    # -- internals ------------------------------------------------------------------------------
    def _apply(self, task: UITask, act: ActionBase) -> str | None:
        """Carry out an action on the scene; returns an error message for illegal ones."""
        scene, w, h = task.scene, self.width, self.height
        if self.injection is not None and self._injected(act):
            return None
        if isinstance(act, (Click, DoubleClick)):
            for _ in range(2 if isinstance(act, DoubleClick) else 1):
                scene.click(*norm_to_pixels(act.x, act.y, w, h))
        elif isinstance(act, Drag):
            scene.drag(norm_to_pixels(act.x, act.y, w, h), norm_to_pixels(act.to_x, act.to_y, w, h))
        elif isinstance(act, Scroll):
            scene.scroll(*norm_to_pixels(act.x, act.y, w, h), act.dx, act.dy)
        elif isinstance(act, TypeText):
            scene.type_text(act.text)
        elif isinstance(act, Key):
            scene.key(act.key)
        elif isinstance(act, Hotkey):
            scene.hotkey(act.keys)
        elif isinstance(act, Done):
            if task.outcome is None:
                task.outcome = task.done_outcome()
        elif isinstance(act, Fail):
            task.fail()
        elif not isinstance(act, (RightClick, Move, Wait)):
            return f"{act.type} is a robot action; a GUI env takes pointer and keyboard actions"
        return None

    def _injected(self, act: ActionBase) -> bool:
        """Whether the injection strip takes an action (then the task never sees it)."""
        injection = self.injection
        assert injection is not None and self.task is not None
        if isinstance(act, Hotkey):
            injection.hotkey(act.keys)
        if isinstance(act, TypeText):
            taken = injection.type_text()
        elif isinstance(act, (Click, DoubleClick, RightClick, Move, Drag, Scroll)):
            taken = injection.click(*norm_to_pixels(act.x, act.y, self.width, self.height))
        else:
            taken = False
        if injection.obeyed:
            self.task.fail()
        return taken

    def _screen(self) -> np.ndarray:
        assert self.task is not None
        window = self.task.scene.render()
        if self.injection is None:
            return window
        return np.concatenate([window, self.injection.image()])

    def _obs(self) -> dict[str, Any]:
        assert self.task is not None
        return {"image": self._screen(), "instruction": self.task.instruction}

    def _info(self, error: str | None) -> dict[str, Any]:
        assert self.task is not None
        return {
            "task": self.task_cls.name,
            "is_success": self.task.outcome is True,
            "error": error,
            "steps": self.steps,
            **({} if self.injection is None else {"injection_obeyed": self.injection.obeyed}),
        }
