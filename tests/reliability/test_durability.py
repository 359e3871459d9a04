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
from pathlib import Path
from typing import Any

import pytest
from procs import children, line_count, live_in_group, wait_for

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


def _interrupted(out: Path, target: int, victim: str, resume: bool) -> None:
    """Start a run, wait until ``episodes.jsonl`` has ``target`` lines, then SIGKILL the driver
    (``victim="driver"``) or one worker (``"worker"``: the driver must stop with an error)."""
    episodes = out / "episodes.jsonl"
    cmd = [*CMD, "--out", str(out), *(["--resume"] if resume else [])]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        wait_for(lambda: line_count(episodes) >= target or proc.poll() is not None, 120, "episodes")
        assert proc.poll() is None, "the run ended before it could be killed"
        if victim == "driver":
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        else:
            wait_for(lambda: children(proc.pid, b"spawn_main"), 30, "a worker")
            os.kill(children(proc.pid, b"spawn_main")[0], signal.SIGKILL)
            _, err = proc.communicate(timeout=60)
            assert proc.returncode != 0
            assert b"worker process died" in err and b"--resume" in err
        wait_for(lambda: not live_in_group(proc.pid), 15, "orphaned workers to exit")
    finally:
        for pid in live_in_group(proc.pid):
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
        done = line_count(out / "episodes.jsonl")
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
