"""An eval run killed again and again (the driver by SIGKILL, or one of its workers) and resumed
each time ends with exactly the episodes of an uninterrupted run: none lost, none twice, no torn
line."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agent_sdk.evaluate import EpisodeRecord, EvalConfig, evaluate

ENVS = ("agent_sdk/ui-click-button-v0", "agent_sdk/ui-click-checkboxes-v0",
        "agent_sdk/ui-enter-text-v0")  # fmt: skip
EPISODES = 16
TOTAL = len(ENVS) * EPISODES
CONFIG = EvalConfig(env_ids=ENVS, policy="random", episodes=EPISODES, max_steps=3,
                    save_trajectories=1)  # fmt: skip
CMD = [sys.executable, "-m", "agent_sdk.cli", "eval", "--env", ",".join(ENVS), "--policy",
       "random", "--episodes", str(EPISODES), "--max-steps", "3", "--save-trajectories", "1",
       "--workers", "2"]  # fmt: skip


def _key(r: EpisodeRecord) -> tuple[Any, ...]:
    return r.env_id, r.seed, r.success, r.steps, r.return_, r.end, r.error, r.config_hash


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _children(pid: int) -> list[int]:
    pids = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            pids += [int(p) for p in children.read_text().split()]
        except OSError:
            continue
    return pids


def _workers(pid: int) -> list[int]:
    """The driver's pool workers (spawned ``multiprocessing`` children)."""
    found = []
    for child in _children(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            found.append(child)
    return found


def _group(pgid: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


def _wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def _interrupted(out: Path, target: int, victim: str, resume: bool) -> None:
    """Start a run, wait until ``episodes.jsonl`` has ``target`` lines, then SIGKILL the driver
    (``victim="driver"``) or one worker (``"worker"``: the driver must stop with an error)."""
    episodes = out / "episodes.jsonl"
    cmd = [*CMD, "--out", str(out), *(["--resume"] if resume else [])]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        _wait(lambda: _lines(episodes) >= target or proc.poll() is not None, 120, "episodes")
        assert proc.poll() is None, "the run ended before it could be killed"
        if victim == "driver":
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        else:
            _wait(lambda: _workers(proc.pid), 30, "a worker")
            os.kill(_workers(proc.pid)[0], signal.SIGKILL)
            _, err = proc.communicate(timeout=60)
            assert proc.returncode != 0
            assert b"worker process died" in err and b"--resume" in err
        _wait(lambda: not _group(proc.pid), 15, "orphaned workers to exit")
    finally:
        for pid in _group(proc.pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
def test_repeated_kills_then_resume_give_the_uninterrupted_episodes(tmp_path: Path) -> None:
    reference = evaluate(CONFIG, tmp_path / "reference")
    out = tmp_path / "run"
    rng = random.Random(9)
    done = 0
    for round_, victim in enumerate(("driver", "worker", "driver", "driver")):
        target = done + rng.randint(1, 8)
        _interrupted(out, target, victim, resume=round_ > 0)
        done = _lines(out / "episodes.jsonl")
        assert target <= done < TOTAL
    finished = subprocess.run(
        [*CMD, "--out", str(out), "--resume"], capture_output=True, text=True, timeout=180
    )
    assert finished.returncode == 0, finished.stderr
    raw = (out / "episodes.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    records = [EpisodeRecord.from_json_dict(json.loads(line)) for line in raw.splitlines()]
    assert len(records) == len({(r.env_id, r.seed) for r in records}) == TOTAL
    assert sorted(map(_key, records)) == sorted(map(_key, reference))
    assert sum(r.success for r in records) < TOTAL  # random: the comparison is not trivial
