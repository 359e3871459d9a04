"""The Gymnasium environment that runs one MiniWoB++ task in headless Chromium."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

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
    Scroll,
    TypeText,
    Wait,
)
from envs.contract import Element, action_space, check_render_mode, observation_space, to_action
from envs.errors import EnvCrashed, EnvError
from envs.miniwob.page import HEIGHT, WIDTH, Page
from envs.miniwob.tasks import get_task

if TYPE_CHECKING:
    from envs.miniwob.browser import Browser, Snapshot

SUCCESS_REWARD = 1.0
"""A raw page reward at least this high is a success (partial credit is not)."""
SCROLL_PX = 50
"""Page pixels per wheel click (miniwob's own scroll step)."""
SPECIAL_KEYS: dict[str, str] = {
    "enter": "<Enter>", "tab": "<Tab>", "escape": "<Escape>", "backspace": "<Backspace>",
    "delete": "<Delete>", "insert": "<Insert>", "space": "<Space>", "up": "<ArrowUp>",
    "down": "<ArrowDown>", "left": "<ArrowLeft>", "right": "<ArrowRight>", "home": "<Home>",
    "end": "<End>", "pageup": "<PageUp>", "pagedown": "<PageDown>",
    **{f"f{i}": f"<F{i}>" for i in range(1, 13)},
}  # fmt: skip
"""SDK key names -> miniwob's (WebDriver) key names; printable characters pass as they are."""
MODIFIER_PREFIXES = {"ctrl": "C-", "shift": "S-", "alt": "A-", "win": "M-", "command": "M-"}


def miniwob_key(keys: tuple[str, ...]) -> str:
    """SDK keys (modifiers first) in miniwob's syntax (``C-a``); ``ValueError`` if it has none."""
    *mods, key = keys
    unknown = [m for m in mods if m not in MODIFIER_PREFIXES]
    if unknown or not (key in SPECIAL_KEYS or len(key) == 1):
        named = ", ".join(k for k in SPECIAL_KEYS if not k.startswith("f"))
        raise ValueError(
            f"MiniWoB++ cannot press {'+'.join(keys)}; it takes {', '.join(MODIFIER_PREFIXES)} "
            f"as modifiers and a printable character, {named} or f1-f12 as the key"
        )
    return "".join(MODIFIER_PREFIXES[m] for m in mods) + SPECIAL_KEYS.get(key, key)


def _pixels(x: float, y: float) -> tuple[int, int]:
    """A normalised point as page pixels: the screenshot is the task area, pixel for pixel."""
    return norm_to_pixels(x, y, WIDTH, HEIGHT)


class MiniWoBEnv(gym.Env[dict[str, Any], str]):
    """A MiniWoB++ web task in headless Chromium: the agent sees pixels and acts with actions.

    ## Description
    Wraps Farama's ``miniwob`` (selenium + Chromium) for one task (``task``: click-button,
    login-user, ... see ``envs.miniwob.tasks.TASK_NAMES``). Each episode the page generates a
    problem from the seed; the agent must do what the utterance says. Chromium starts on the
    first ``reset()`` (about 1 s) and is reused; ``close()`` quits it. The page's episode clock
    (``core.EPISODE_MAX_TIME``, 10 s upstream) is raised to ``episode_max_time_s`` so a slow
    model is not timed out. ``info["dom"]`` (a tuple of
    :class:`~envs.miniwob.page.DomElement`) and ``info["fields"]`` (the utterance's fields)
    feed :meth:`oracle`; the observation never holds them.

    ## Action Space
    ``Text``: one action of :mod:`actions.schema` as JSON or in the SDK's model format
    (``click(500, 300)``); :class:`~actions.schema.ActionBase` objects are accepted too. Points
    are normalised to the 160x210 screenshot, which is the page's task area pixel for pixel.
    click, double_click, move, drag, scroll (vertical), type_text (into the focused element),
    key, hotkey, wait (sleeps), done and fail are carried out; right_click, horizontal scrolls,
    keys MiniWoB++ lacks, robot actions and unparsable text are a no-op step with
    ``info["error"]`` set.

    ## Observation Space
    ``Dict(image=Box(0, 255, (210, 160, 3), uint8), instruction=Text)``; the instruction is the
    page's utterance. The step that ends an episode shows a black image (as miniwob does).

    ## Rewards
    1 on the step where the page ends the episode with its full reward, 0 otherwise (partial
    credit, e.g. some boxes right in click-checkboxes, is a failure). ``info["raw_reward"]``
    holds the page's own reward in [-1, 1].

    ## Episode End
    Terminates when the page ends the episode (right or wrong) or the agent sends
    ``done()``/``fail()``; truncates after the task's step budget (``_max_episode_steps``).
    A dead browser raises :class:`~envs.errors.EnvCrashed`; ``reset()`` then starts a new one.

    ## Version History
    * v0: first release (miniwob 1.x).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        task: str,
        episode_max_time_s: float = 3600.0,
        render_mode: str | None = None,
        width: int = WIDTH,
        height: int = HEIGHT,
    ) -> None:
        if (width, height) != (WIDTH, HEIGHT):
            raise EnvError(
                f"MiniWoB++ pages are {WIDTH}x{HEIGHT}, not {width}x{height}; leave width and "
                f"height out (they exist so that suite-wide settings can name the size)"
            )
        if not 1.0 <= episode_max_time_s <= 86_400.0:
            raise EnvError(
                f"episode_max_time_s must lie in [1, 86400] seconds, got {episode_max_time_s}"
            )
        check_render_mode(render_mode)
        self.task = get_task(task)
        self.episode_max_time_s = episode_max_time_s
        self.render_mode = render_mode
        self.observation_space = observation_space(WIDTH, HEIGHT)
        self.action_space = action_space()
        self._max_episode_steps = self.task.max_steps
        self._browser: Browser | None = None
        self._snap: Snapshot | None = None
        self._instruction = ""
        self._history: list[ActionBase] = []
        self.steps = 0
        self._ended = False

    # -- gymnasium API --------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        page_seed = seed if seed is not None else int(self.np_random.integers(2**31))
        if self._browser is None:
            self._browser = self._start()
        with self._browser_call() as browser:
            self._snap = browser.reset(page_seed, self.episode_max_time_s)
        self._instruction = self._snap.utterance
        self._history, self.steps, self._ended = [], 0, False
        return self._obs(), self._info(None)

    def step(
        self, action: str | ActionBase
    ) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        if self._snap is None or self._ended:
            raise ResetNeeded("the episode has ended (or never started): call reset() first")
        self.steps += 1
        error: str | None = None
        agent_ended = False
        with self._browser_call() as browser:
            try:
                act = to_action(action, (WIDTH, HEIGHT))
                error = self._apply(browser, act)
                agent_ended = error is None and act.terminal
                if error is None:
                    self._history.append(act)
            except ParseError as err:
                error = str(err)
            self._snap = browser.observe()
        success = self._snap.done and self._snap.raw_reward >= SUCCESS_REWARD
        terminated = self._snap.done or agent_ended
        truncated = not terminated and self.steps >= self._max_episode_steps
        self._ended = terminated or truncated
        return self._obs(), float(success), terminated, truncated, self._info(error)

    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array" and self._snap is not None:
            return self._snap.image
        return None

    def close(self) -> None:
        """Quit Chromium (a later ``reset()`` starts a new one)."""
        if self._browser is not None:
            self._browser.close()
            self._browser, self._snap = None, None

    # -- SDK extras -----------------------------------------------------------------------------
    def oracle(self) -> ActionBase:
        """The expert's next action, read from the DOM (for tests and demonstrations)."""
        if self._snap is None or self._ended:
            raise ResetNeeded("call reset() before asking the oracle")
        return self.task.oracle(self.page)

    @property
    def page(self) -> Page:
        """What the oracle sees: utterance, fields, DOM and the actions carried out so far."""
        if self._snap is None:
            raise ResetNeeded("call reset() first")
        snap = self._snap
        return Page(self._instruction, snap.fields, snap.dom, tuple(self._history))

    def elements(self) -> list[Element]:
        """What the page shows, element by element (`Page.elements`; ground truth for
        training and tests, never part of the observation)."""
        return self.page.elements()

    @property
    def instruction(self) -> str:
        return self._instruction

    @property
    def startup_s(self) -> float | None:
        """Seconds Chromium took to start and load the task page (``None`` before reset)."""
        return self._browser.startup_s if self._browser is not None else None

    # -- internals ------------------------------------------------------------------------------
    def _start(self) -> Browser:
        from envs.miniwob.browser import Browser  # selenium and miniwob load here, not on import

        return Browser(self.task.name)

    @contextmanager
    def _browser_call(self) -> Iterator[Browser]:
        """The running browser; if it dies inside the block, drop it and raise EnvCrashed."""
        browser = self._browser
        assert browser is not None
        try:
            with browser.guard():
                yield browser
        except EnvCrashed:
            browser.close()
            self._browser, self._snap, self._ended = None, None, True
            raise

    def _apply(self, browser: Browser, act: ActionBase) -> str | None:
        """Carry out an action in the page; returns an error message for illegal ones."""
        if isinstance(act, (Click, DoubleClick)):
            browser.click(*_pixels(act.x, act.y), double=isinstance(act, DoubleClick))
        elif isinstance(act, Move):
            browser.move(*_pixels(act.x, act.y))
        elif isinstance(act, Drag):
            browser.drag(_pixels(act.x, act.y), _pixels(act.to_x, act.to_y))
        elif isinstance(act, Scroll):
            if act.dx:
                return "MiniWoB++ scrolls vertically only: send dy, not dx"
            browser.scroll(*_pixels(act.x, act.y), act.dy * SCROLL_PX)
        elif isinstance(act, TypeText):
            browser.type_text(act.text)
        elif isinstance(act, (Key, Hotkey)):
            try:
                browser.press(miniwob_key((act.key,) if isinstance(act, Key) else act.keys))
            except ValueError as err:
                return str(err)
        elif isinstance(act, Wait):
            time.sleep(act.seconds)
        elif not isinstance(act, (Done, Fail)):
            return f"{act.type} is not available in MiniWoB++ (pointer and keyboard actions only)"
        return None

    def _obs(self) -> dict[str, Any]:
        assert self._snap is not None
        return {"image": self._snap.image, "instruction": self._instruction}

    def _info(self, error: str | None) -> dict[str, Any]:
        assert self._snap is not None
        snap = self._snap
        return {
            "task": self.task.name,
            "is_success": snap.done and snap.raw_reward >= SUCCESS_REWARD,
            "error": error,
            "steps": self.steps,
            "dom": snap.dom,
            "fields": snap.fields,
            "raw_reward": snap.raw_reward,
        }
