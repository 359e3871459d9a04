"""Giving freed memory back to the operating system in long runs.

Each agent step allocates and frees images, tensors and strings of varying sizes; glibc's
allocator keeps the freed pages of a fragmented heap, so a process that runs thousands of
episodes grows (about 12 MB per 100 one-step episodes with a tiny FastVLM here) although
nothing leaks. ``malloc_trim(0)`` returns those pages; :class:`HeapTrimmer` calls it every
``every`` episodes. Elsewhere than glibc (macOS, musl, Windows) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def trim_heap() -> bool:
    """Return the heap's free pages to the OS; whether this platform can."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


class HeapTrimmer:
    """Calls :func:`trim_heap` on every ``every``-th :meth:`tick` (``every=0``: never)."""

    def __init__(self, every: int = 25) -> None:
        if every < 0:
            raise ValueError(f"every must be >= 0, got {every}")
        self.every, self._ticks = every, 0

    def tick(self) -> None:
        self._ticks += 1
        if self.every and self._ticks % self.every == 0 and not trim_heap():
            log.debug("malloc_trim is not available here; heap trimming is off")
            self.every = 0
