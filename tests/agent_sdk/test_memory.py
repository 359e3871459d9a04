"""Heap trimming for long runs."""

from __future__ import annotations

import platform

import numpy as np
import pytest

from agent_sdk import memory
from agent_sdk.memory import HeapTrimmer, trim_heap


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))


@pytest.mark.skipif(platform.system() != "Linux", reason="glibc's malloc_trim is Linux-only")
def test_trim_gives_fragmented_free_memory_back() -> None:
    # many small blocks (below the mmap threshold), every other one freed: a fragmented heap
    blocks = [np.ones(8192, np.uint8) for _ in range(20000)]
    del blocks[::2]
    before = rss_kib()
    assert trim_heap()
    assert rss_kib() < before - 20_000  # at least ~20 of the ~80 MB freed come back
    del blocks


def test_trimmer_trims_every_nth_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(memory, "trim_heap", lambda: calls.append(1) or True)
    trimmer = HeapTrimmer(every=3)
    for _ in range(7):
        trimmer.tick()
    assert len(calls) == 2
    with pytest.raises(ValueError, match="every"):
        HeapTrimmer(every=-1)


def test_trimmer_turns_itself_off_where_it_cannot_trim(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "trim_heap", lambda: False)
    trimmer = HeapTrimmer(every=1)
    trimmer.tick()
    assert trimmer.every == 0
