"""One headless Chromium showing one MiniWoB++ task page, driven through miniwob and selenium.

Imported only when an env starts its browser: ``import envs`` never imports selenium or miniwob.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from envs.errors import EnvCrashed, EnvError
from envs.miniwob.page import HEIGHT, WIDTH, DomElement

try:
    from miniwob import selenium_actions as sel
    from miniwob.environment import MiniWoBEnvironment
    from selenium.common.exceptions import WebDriverException
    from urllib3.exceptions import HTTPError
except ImportError as err:  # pragma: no cover - depends on the environment
    raise EnvError(
        f"MiniWoB++ needs the miniwob extra ({err.name} is missing): "
        'pip install "fastvlm-agent-sdk[miniwob]"'
    ) from err

log = logging.getLogger(__name__)

CHROME_VARS = ("MINIWOB_CHROME_BINARY", "MINIWOB_CHROMEDRIVER")
DEBIAN_CHROME = ("/usr/bin/chromium", "/usr/bin/chromedriver")
PARK = (WIDTH + 100, 10)
"""Where the pointer waits between episodes: in the viewport, off the task area (no hover)."""
DRIVER_ERRORS = (WebDriverException, HTTPError, OSError)
"""What selenium raises when Chromium or chromedriver has died or stopped answering."""
# Run before each reset: a long episode clock, and nothing left over from the last episode:
# no focus, and no "tampered" marks (the click that ends an episode marks its target with the
# next episode's id, so a static element looked clicked in the next episode).
PREPARE_JS = """
core.EPISODE_MAX_TIME = {ms};
document.activeElement?.blur();
document.querySelectorAll('[data-tampered]').forEach(el => delete el.dataset.tampered);
"""
# The sync cover starts a new episode when clicked; a click after the end must not do that.
DISARM_COVER_JS = "core.cover_div.onclick = null;"
SELECT_VALUES_JS = (
    "return Array.from(document.querySelectorAll('select[data-wob_ref]'), s => "
    "[+s.dataset.wob_ref, s.selectedIndex < 0 ? '' : s.options[s.selectedIndex].text]);"
)


@dataclass(frozen=True)
class Snapshot:
    """The page after a reset or an action."""

    image: np.ndarray  # (HEIGHT, WIDTH, 3) uint8; black once the episode is over
    utterance: str
    fields: dict[str, str]
    dom: tuple[DomElement, ...]  # empty once the episode is over
    done: bool
    raw_reward: float  # the page's reward without time decay; 0 until done


def chrome_defaults() -> None:
    """Point miniwob at Debian's Chromium when neither variable is set and both files exist."""
    given = [name for name in CHROME_VARS if os.environ.get(name)]
    if len(given) == 1:
        raise EnvError(
            f"{given[0]} is set but not {(set(CHROME_VARS) - set(given)).pop()}; set both "
            "MINIWOB_CHROME_BINARY and MINIWOB_CHROMEDRIVER (a Chromium and its matching driver)"
        )
    if not given and all(Path(p).exists() for p in DEBIAN_CHROME):
        os.environ.update(zip(CHROME_VARS, DEBIAN_CHROME, strict=True))


@contextmanager
def crash_guard(task: str) -> Iterator[None]:
    """Turn a dead or unresponsive browser into :class:`~envs.errors.EnvCrashed`."""
    try:
        yield
    except DRIVER_ERRORS as err:
        raise EnvCrashed(
            f"Chromium for MiniWoB++ task {task!r} stopped answering "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
            "rebuild the env (or reset() it: that starts a new browser)"
        ) from err


def child_pids(pid: int) -> list[int]:
    """Child processes of ``pid``, whichever thread made them (Linux /proc; empty elsewhere)."""
    pids = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with suppress(OSError):  # a thread that has just exited
            pids += [int(p) for p in children.read_text().split()]
    return pids


class Browser:
    """miniwob's env for one task plus the low-level input that SDK actions need."""

    def __init__(self, task: str) -> None:
        chrome_defaults()
        t0 = time.perf_counter()
        try:
            self._env = MiniWoBEnvironment(subdomain=task)
            self._env.instance.driver.execute_script(DISARM_COVER_JS)
        except DRIVER_ERRORS as err:
            raise EnvError(
                f"Chromium did not start for MiniWoB++ task {task!r} ({type(err).__name__}: "
                f"{err}); install Debian's chromium and chromium-driver, or set "
                "MINIWOB_CHROME_BINARY and MINIWOB_CHROMEDRIVER together"
            ) from err
        self.task = task
        self.driver = self._env.instance.driver
        size = (self._env.instance.task_width, self._env.instance.task_height)
        assert size == (WIDTH, HEIGHT), f"{task}: task area {size}, expected {(WIDTH, HEIGHT)}"
        # chromedriver does not take Chromium down with it: remember whom to stop after a crash.
        self._browser_pids = child_pids(self.driver.service.process.pid)
        self.startup_s = time.perf_counter() - t0
        log.info("Chromium for %s started in %.2f s", task, self.startup_s)

    # -- episodes ---------------------------------------------------------------------------------
    def reset(self, seed: int, episode_max_time_s: float) -> Snapshot:
        """Start a new episode of the task, generated from ``seed``."""
        sel.execute_move_coords(*PARK, self.driver)
        self.driver.execute_script(PREPARE_JS.format(ms=round(episode_max_time_s * 1000)))
        obs, info = self._env.reset(seed=seed)
        return self._snapshot(obs, info, done=False, raw_reward=0.0)

    def observe(self) -> Snapshot:
        """The page now (after actions)."""
        obs, _, done, _, info = self._env.step(None)
        return self._snapshot(obs, info, done=done, raw_reward=float(info["raw_reward"]))

    def _snapshot(
        self, obs: dict[str, Any], info: dict[str, Any], *, done: bool, raw_reward: float
    ) -> Snapshot:
        root = info.get("root_dom")  # absent once the episode is over
        dom = tuple(DomElement.from_miniwob(e) for e in root.subtree_elements) if root else ()
        if any(el.tag == "select" for el in dom):
            dom = self._with_select_values(dom)
        return Snapshot(
            image=obs["screenshot"],
            utterance=obs["utterance"],
            fields=dict(obs["fields"]),
            dom=dom,
            done=done,
            raw_reward=raw_reward,
        )

    def _with_select_values(self, dom: tuple[DomElement, ...]) -> tuple[DomElement, ...]:
        """getDOMInfo leaves a <select>'s choice out; add it as the element's value."""
        chosen = dict(self.driver.execute_script(SELECT_VALUES_JS))
        return tuple(replace(el, value=chosen[el.ref]) if el.ref in chosen else el for el in dom)

    # -- input, in page pixels --------------------------------------------------------------------
    def click(self, x: int, y: int, *, double: bool = False) -> None:
        (sel.execute_dblclick_coords if double else sel.execute_click_coords)(x, y, self.driver)

    def move(self, x: int, y: int) -> None:
        sel.execute_move_coords(x, y, self.driver)

    def drag(self, start: tuple[int, int], end: tuple[int, int]) -> None:
        sel.execute_mousedown_coords(*start, self.driver)
        sel.execute_mouseup_coords(*end, self.driver)

    def scroll(self, x: int, y: int, pixels: int) -> None:
        sel.execute_scroll_coords(x, y, pixels, 0, self.driver)

    def type_text(self, text: str) -> None:
        sel.execute_type_text(text, self.driver)

    def press(self, key: str) -> None:
        """A key in miniwob's syntax: ``<Enter>``, ``a``, ``C-a`` (modifier prefixes)."""
        sel.execute_press_key(key, self.driver)

    # -- shutdown ---------------------------------------------------------------------------------
    def guard(self) -> AbstractContextManager[None]:
        """A block in which a dead browser raises :class:`~envs.errors.EnvCrashed`."""
        return crash_guard(self.task)

    def close(self) -> None:
        """Quit Chromium and chromedriver, also after a crash (then orphans are killed)."""
        try:
            self.driver.quit()  # stops chromedriver even when the session is gone
        except DRIVER_ERRORS:
            log.debug("driver.quit() failed; Chromium had crashed", exc_info=True)
        for pid in self._browser_pids:  # alive only if chromedriver died before Chromium
            if "chrom" in _cmdline(pid):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except OSError:
        return ""
