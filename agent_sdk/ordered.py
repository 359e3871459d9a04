"""An ordered, bounded map over a thread pool: for work that releases the GIL (image decoding,
resizing, PNG packing), run over a stream that must not be read into memory at once."""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")


def ordered_map(
    pool: ThreadPoolExecutor, fn: Callable[[_T], _R], items: Iterable[_T], ahead: int
) -> Iterator[_R]:
    """``fn`` over ``items`` in ``pool``, results in order, at most ``ahead`` in flight (``items``
    is read no further than that ahead of the results taken)."""
    pending: collections.deque[Future[_R]] = collections.deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
