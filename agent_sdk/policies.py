"""Policies: what chooses the next action from an observation and the steps so far.

* :class:`VLMPolicy` asks one vision-language model for an action and re-asks on a parse error.
* :class:`PlannerGrounderPolicy` lets a text planner (any LangChain chat model) write the next
  sub-goal and a VLM ground it to a point.
* :class:`OraclePolicy` and :class:`RandomPolicy` are the baselines' upper and lower bounds.

A policy never raises for bad model output: it returns a :class:`~agent_sdk.records.Decision`
without an action and with the error, and the graph records a failed step.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from actions.coords import model_to_norm
from actions.errors import CoordinateError, ParseError
from actions.grammar import action_grammar
from actions.motor import parse_chunk
from actions.parse import parse_action
from actions.schema import (
    ActionBase,
    Click,
    Done,
    Fail,
    Hotkey,
    Key,
    Observation,
    PointerAction,
    Scroll,
    TypeText,
    Wait,
)
from agent_sdk.errors import ConfigError
from agent_sdk.prompting import planner_messages, point_prompt, robot_prompt, step_prompt
from agent_sdk.records import Decision, StepRecord
from perception.base import Generation, VisionLanguageModel

T = TypeVar("T")


@runtime_checkable
class Policy(Protocol):
    """Chooses one action per step."""

    name: str

    def reset(self, instruction: str) -> None:
        """Forget the previous episode; called before its first step."""
        ...

    def act(self, observation: Observation, history: Sequence[StepRecord]) -> Decision:
        """The next action for ``observation``, given the steps taken so far."""
        ...


class ChatModel(Protocol):
    """What a planner needs of a LangChain chat model."""

    def invoke(self, input: Any) -> Any:
        """Answer a list of (role, text) messages with a message that has ``.content``."""
        ...


def action_history(history: Sequence[StepRecord]) -> list[str]:
    """Previous actions in SDK text for a prompt; blocked ones are marked."""
    return [
        r.action_text + ("" if r.executed else " (blocked)")
        for r in history
        if r.action_text is not None
    ]


def _ask(
    vlm: VisionLanguageModel,
    image: np.ndarray,
    prompt: Callable[[str | None], str],
    read: Callable[[str], T],
    retries: int,
    **generation: Any,
) -> tuple[T | None, Generation, int, str | None]:
    """Ask until ``read`` accepts an answer (it raises ParseError otherwise), re-asking with the
    error at most ``retries`` times; returns the value or None, the last generation, the number
    of calls and the last error."""
    reask: str | None = None
    for calls in range(1, retries + 2):
        gen = vlm.generate(image, prompt(reask), **generation)
        try:
            return read(gen.text), gen, calls, None
        except ParseError as err:
            # keep text, not the exception: its traceback holds this frame (a reference
            # cycle that kept every step's image alive until a full garbage collection)
            reask, error = f"{_clip(err.text)!r}: {err.reason}", str(err)
    return None, gen, calls, error


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


class VLMPolicy:
    """One VLM answers each step with an action in SDK text; a bad answer is re-asked with the
    parse error, at most ``max_retries`` times.

    With ``grammar`` (the default) the answer is decoded under
    :func:`actions.grammar.action_grammar` (screen actions, or a chunk of motor actions for a
    camera observation), so it is always the SDK's action text unless ``max_new_tokens`` cuts it
    short; ``grammar=False`` lets the model write anything the parser may read (JSON, pyautogui
    calls) or not.
    """

    def __init__(
        self,
        vlm: VisionLanguageModel,
        max_new_tokens: int = 48,
        temperature: float = 0.0,
        max_retries: int = 2,
        grammar: bool = True,
    ) -> None:
        if max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {max_retries}")
        self.vlm, self.max_new_tokens, self.temperature = vlm, max_new_tokens, temperature
        self.max_retries, self.grammar = max_retries, grammar
        self.name = f"vlm:{vlm.name}"

    def reset(self, instruction: str) -> None:
        """Stateless: every step's prompt carries the task and the recent actions."""

    def act(self, observation: Observation, history: Sequence[StepRecord]) -> Decision:
        past = action_history(history)
        robot = observation.camera is not None
        prompt = robot_prompt if robot else step_prompt
        size = observation.size
        read = _read_motor if robot else lambda text: (parse_action(text, image_size=size),)
        actions, gen, calls, error = _ask(
            self.vlm,
            observation.image,
            lambda error: prompt(observation.instruction, past, error),
            read,
            self.max_retries,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            grammar=action_grammar("motor" if robot else "screen") if self.grammar else None,
        )
        first, rest = (None, ()) if actions is None else (actions[0], tuple(actions[1:]))
        return Decision(first, gen.text, gen.timings, calls, error, chunk=rest)


def _read_motor(text: str) -> tuple[ActionBase, ...]:
    """A robot's answer: a chunk of motor actions (one per line), or one action such as done()."""
    try:
        return tuple(parse_chunk(text))
    except ParseError as chunk_error:
        try:
            return (parse_action(text),)
        except ParseError:
            raise chunk_error from None


_KEYBOARD = (TypeText, Key, Hotkey, Wait, Done, Fail)
"""Actions a planner may give directly: they need no point on the screen."""
_POINT = re.compile(r"(\d+(?:\.\d+)?)\s*,\s*(\d+(?:\.\d+)?)")


def _text(message: Any) -> str:
    """The text of a chat model's reply (``content`` as a string or a list of blocks)."""
    content = getattr(message, "content", message)
    if isinstance(content, list):
        parts = (b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
        content = "".join(parts)
    return str(content).strip()


def _keyboard_action(text: str) -> ActionBase | None:
    try:
        action = parse_action(text)
    except ParseError:
        return None
    return action if isinstance(action, _KEYBOARD) else None


def _point(text: str, image_size: tuple[int, int]) -> tuple[float, float]:
    """The normalised point of a grounding answer: a pointer action or a bare ``x, y`` (0-1000)."""
    try:
        action = parse_action(text, image_size=image_size)
    except ParseError as err:
        match = _POINT.search(text)
        if match is None:
            raise
        try:
            return model_to_norm(float(match[1])), model_to_norm(float(match[2]))
        except CoordinateError:
            raise err from None
    if not isinstance(action, PointerAction):
        raise ParseError(text, f"{action.type} is not a point; answer with click(x, y)")
    return action.point


class PlannerGrounderPolicy:
    """A text planner writes the next sub-goal; the VLM points at it and the SDK clicks there.

    Without a planner the sub-goal is the instruction itself (single-click tasks). A planner
    reply that is already a keyboard action (``type_text("x")``, ``key("enter")``, ``done()``)
    is used as it is, without looking at the screen.
    """

    def __init__(
        self,
        vlm: VisionLanguageModel,
        planner: ChatModel | None = None,
        max_new_tokens: int = 24,
        temperature: float = 0.0,
        max_retries: int = 1,
    ) -> None:
        if max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {max_retries}")
        self.vlm, self.planner, self.max_retries = vlm, planner, max_retries
        self.max_new_tokens, self.temperature = max_new_tokens, temperature
        self.name = f"planner+vlm:{vlm.name}" if planner is not None else f"grounder:{vlm.name}"

    def reset(self, instruction: str) -> None:
        """Stateless: the planner sees the task and the recent actions each step."""

    def act(self, observation: Observation, history: Sequence[StepRecord]) -> Decision:
        plan = observation.instruction
        if self.planner is not None:
            reply = self.planner.invoke(
                planner_messages(observation.instruction, action_history(history))
            )
            plan = _text(reply) or observation.instruction
        action = _keyboard_action(plan)
        if action is not None:
            return Decision(action, plan=plan)
        return self._ground(observation, plan)

    def _ground(self, observation: Observation, plan: str) -> Decision:
        point, gen, calls, error = _ask(
            self.vlm,
            observation.image,
            lambda error: point_prompt(plan, error),
            lambda text: _point(text, observation.size),
            self.max_retries,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
        )
        action = None if point is None else Click(x=point[0], y=point[1])
        return Decision(action, gen.text, gen.timings, calls, error, plan)


class OraclePolicy:
    """The environment's own expert (``env.unwrapped.oracle()``), for tests and upper bounds.

    With ``points`` it answers as a VLM is taught to (``env.unwrapped.point_oracle()`` where
    the env has one and it gives an answer: image points for a robot's motor layer), so an
    evaluation measures what the motor layer makes of perfect points."""

    def __init__(self, env: Any, points: bool = False) -> None:
        self.env = env
        self.points = points
        self.name = "point-oracle" if points else "oracle"

    def reset(self, instruction: str) -> None:
        """The oracle reads the env's state; nothing to forget."""

    def act(self, observation: Observation, history: Sequence[StepRecord]) -> Decision:
        point_oracle = getattr(self.env.unwrapped, "point_oracle", None) if self.points else None
        answer = point_oracle() if point_oracle is not None else None
        return Decision(answer or self.env.unwrapped.oracle())


RANDOM_KEYS = ("enter", "tab", "escape", "backspace", "up", "down", "space")
RANDOM_WORDS = ("hello", "OK", "test", "42", "Paris", "yes")


class RandomPolicy:
    """Random clicks (60 %), scrolls, key presses and typing; never done() (a lower bound).

    Each episode restarts the generator from ``seed``, so a policy replays exactly.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.name = f"random:{seed}"
        self._rng = np.random.default_rng(seed)

    def reset(self, instruction: str) -> None:
        self._rng = np.random.default_rng(self.seed)

    def act(self, observation: Observation, history: Sequence[StepRecord]) -> Decision:
        rng = self._rng
        x, y = (float(v) for v in rng.random(2))
        kind = rng.choice(4, p=[0.6, 0.15, 0.15, 0.1])
        if kind == 0:
            action: ActionBase = Click(x=x, y=y)
        elif kind == 1:
            action = Scroll(x=x, y=y, dy=int(rng.choice([-3, 3])))
        elif kind == 2:
            action = Key(key=str(rng.choice(RANDOM_KEYS)))
        else:
            action = TypeText(text=str(rng.choice(RANDOM_WORDS)))
        return Decision(action)
