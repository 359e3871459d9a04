"""Watching processes from tests (Linux /proc): children, process groups, and waiting."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def line_count(path: Path) -> int:
    """Complete lines in ``path`` (0 while it does not exist)."""
    return path.read_bytes().count(b"\n") if path.exists() else 0


def children(pid: int, marker: bytes = b"", *, deep: bool = False) -> list[int]:
    """Child processes of ``pid`` whose command line contains ``marker``; with ``deep``, their
    descendants too. Processes that exit meanwhile are passed over."""
    kids: list[int] = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            kids += [int(p) for p in listing.read_text().split()]
        except OSError:
            continue
    found = []
    for kid in kids:
        try:
            cmdline = Path(f"/proc/{kid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker in cmdline:
            found.append(kid)
        if deep:
            found += children(kid, marker, deep=True)
    return found


def live_in_group(pgid: int) -> list[int]:
    """Processes of a process group that are not zombies."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> None:
    """Poll ``check`` until it is truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)
