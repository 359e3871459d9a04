"""The eval harness: configs, records, crashes, resume after SIGKILL, processes and Ray alike."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
from procs import line_count, live_in_group, wait_for

from agent_sdk.errors import ConfigError
from agent_sdk.evaluate import (
    EpisodeRecord,
    EvalConfig,
    _init_worker,
    evaluate,
    read_episodes,
    resolve_env_ids,
    summarize,
    trajectory_dir,
    wilson_interval,
    worker_threads,
)
from agent_sdk.robot import VLM_REPLAN_DISTANCE
from envs import SUITES, EnvCrashed
from envs.ui.env import UIEnv

QUICK = tuple(f"agent_sdk/ui-{t}-v0" for t in ("click-button", "click-link", "click-dialog",
                                               "click-shape", "drag-slider"))  # fmt: skip
CONFIG = EvalConfig(env_ids=QUICK, policy="oracle", episodes=20, save_trajectories=2)
TIMINGS = {"step_p50_s", "step_p90_s", "ttft_p50_s"}


def _key(r: EpisodeRecord) -> tuple[Any, ...]:
    return r.env_id, r.seed, r.success, r.steps, r.return_, r.end, r.error, r.config_hash


def _untimed(records: Sequence[EpisodeRecord]) -> list[dict[str, Any]]:
    rows = summarize(records, CONFIG.env_ids)
    return [{k: v for k, v in vars(r).items() if k not in TIMINGS} for r in rows]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[EpisodeRecord]:
    """CONFIG run uninterrupted, in this process."""
    return evaluate(CONFIG, tmp_path_factory.mktemp("reference"))


class Bars:
    """Records what evaluate reports to a progress display."""

    def __init__(self) -> None:
        self.total: Mapping[str, int] = {}
        self.done: Mapping[str, int] = {}
        self.advanced: list[EpisodeRecord] = []

    def start(self, total: Mapping[str, int], done: Mapping[str, int]) -> None:
        self.total, self.done = total, done

    def advance(self, record: EpisodeRecord) -> None:
        self.advanced.append(record)


def test_wilson_interval_matches_known_values() -> None:
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(50, 50)
    assert hi == 1.0 and 0.92 < lo < 0.93
    for n in range(1, 61):  # the rate lies inside, exactly (6 / 6 broke the report's chart)
        for k in range(n + 1):
            lo, hi = wilson_interval(k, n)
            assert 0.0 <= lo <= k / n <= hi <= 1.0, (k, n)


def test_configs_check_their_values_and_name_them() -> None:
    with pytest.raises(ConfigError, match="Did you mean agent_sdk/ui-click-button-v0"):
        EvalConfig(env_ids=("agent_sdk/ui-click-buton-v0",))
    with pytest.raises(ConfigError, match="needs model=DIR"):
        EvalConfig(env_ids=QUICK, policy="vlm")
    with pytest.raises(ConfigError, match="only used by policy 'vlm'"):
        EvalConfig(env_ids=QUICK, policy="oracle", model="somewhere")
    with pytest.raises(ConfigError, match="episodes must be >= 1, got 0"):
        EvalConfig(env_ids=QUICK, episodes=0)
    with pytest.raises(ConfigError, match="one of oracle, point-oracle, random, vlm, got 'sm"):
        EvalConfig(env_ids=QUICK, policy="smart")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"replan_distance must lie in \[0, 1\], got 2"):
        EvalConfig(env_ids=QUICK, replan_distance=2.0)
    assert resolve_env_ids(None) == SUITES["ui"] == resolve_env_ids("ui")
    assert resolve_env_ids(None, ["a,b", "c"]) == ("a", "b", "c")
    with pytest.raises(ConfigError, match="not both"):
        resolve_env_ids("ui", ["a"])
    with pytest.raises(ConfigError, match="known suites: ui"):
        resolve_env_ids("iu")


def test_the_config_hash_covers_what_decides_an_outcome() -> None:
    same = EvalConfig(env_ids=QUICK, episodes=99, seed=7, save_trajectories=0, suite="x")
    assert same.config_hash == EvalConfig(env_ids=QUICK).config_hash
    for other in (
        EvalConfig(env_ids=QUICK[:2]),
        EvalConfig(env_ids=QUICK, policy="random"),
        EvalConfig(env_ids=QUICK, max_steps=3),
        EvalConfig(env_ids=QUICK, env_kwargs={"width": 400}),
    ):
        assert other.config_hash != same.config_hash


def test_oracle_run_records_every_episode_in_order(
    reference: list[EpisodeRecord], tmp_path: Path
) -> None:
    assert [(r.env_id, r.seed) for r in reference] == [(e, s) for e in QUICK for s in range(20)]
    assert all(r.success and r.return_ == 1.0 and r.error is None for r in reference)
    assert all(len(r.step_latency_s) == r.steps and r.ttft_s == [] for r in reference)
    assert {r.config_hash for r in reference} == {CONFIG.config_hash}
    rows = summarize(reference, QUICK)
    assert [r.env_id for r in rows] == [*QUICK, "all"]
    assert rows[-1].episodes == 100 and rows[-1].success_rate == 1.0 and rows[-1].ttft_p50_s is None
    assert rows[0].ci_low == pytest.approx(wilson_interval(20, 20)[0])
    d = reference[0].to_json_dict()
    assert list(d)[:6] == ["env_id", "seed", "success", "steps", "return", "wall_s"]
    for key in ("step_latency_s", "ttft_s", "error", "policy", "model", "config_hash"):
        assert key in d
    assert EpisodeRecord.from_json_dict(json.loads(json.dumps(d))) == reference[0]


def test_trajectories_are_kept_for_the_first_seeds_only(tmp_path: Path) -> None:
    config = EvalConfig(env_ids=QUICK[:1], episodes=3, save_trajectories=2, seed=5)
    evaluate(config, tmp_path)
    kept = [trajectory_dir(tmp_path, QUICK[0], s) for s in (5, 6)]
    assert all((d / "trajectory.json").is_file() for d in kept)
    assert not trajectory_dir(tmp_path, QUICK[0], 7).exists()
    traj = json.loads((kept[0] / "trajectory.json").read_text())
    step = traj["steps"][0]
    assert traj["instruction"] and traj["record"]["seed"] == 5
    assert step["action"]["type"] == "click" and step["action_text"].startswith("click(")
    assert (kept[0] / step["image"]).is_file() and (kept[0] / traj["final_image"]).is_file()


def test_random_policy_replays_each_seed(tmp_path: Path) -> None:
    config = EvalConfig(env_ids=QUICK[:2], policy="random", episodes=4, max_steps=2)
    first, again = evaluate(config, tmp_path / "a"), evaluate(config, tmp_path / "b")
    assert [_key(r) for r in first] == [_key(r) for r in again]
    assert all(r.steps <= 2 and r.policy == "random" for r in first)


class CrashyEnv(UIEnv):
    """click-button, except that seed 1 fails to reset, seed 2 to step and seed 3's policy."""

    built = 0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("click-button", **kwargs)
        CrashyEnv.built += 1
        self.episode_seed: int | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        if seed == 1:
            raise RuntimeError("reset exploded")
        self.episode_seed = seed
        return super().reset(seed=seed, options=options)

    def step(self, action: Any) -> Any:
        if self.episode_seed == 2:
            raise EnvCrashed("the browser died")
        return super().step(action)

    def oracle(self) -> Any:
        if self.episode_seed == 3:
            raise ValueError("the model fell over")
        return super().oracle()


def test_crashes_are_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    if "test/crashy-v0" not in gym.registry:
        gym.register("test/crashy-v0", entry_point=CrashyEnv, max_episode_steps=3)
    CrashyEnv.built = 0
    records = evaluate(EvalConfig(env_ids=("test/crashy-v0",), episodes=5), tmp_path)
    errors = {r.seed: r.error for r in records}
    assert errors == {0: None, 1: "RuntimeError: reset exploded",
                      2: "EnvCrashed: the browser died", 3: "ValueError: the model fell over",
                      4: None}  # fmt: skip
    assert [r.success for r in records] == [True, False, False, False, True]
    assert all(r.end == "crash" for r in records if r.error)
    assert CrashyEnv.built == 4  # rebuilt after each crash
    row = summarize(records)[0]
    assert (row.episodes, row.successes, row.errors) == (5, 2, 3)
    traj = json.loads(
        (trajectory_dir(tmp_path, "test/crashy-v0", 2) / "trajectory.json").read_text()
    )
    assert traj["error"] == "EnvCrashed: the browser died" and not traj["success"]


def test_resume_runs_only_what_is_missing_and_refuses_another_config(tmp_path: Path) -> None:
    small = EvalConfig(env_ids=QUICK[:2], episodes=2)
    evaluate(small, tmp_path)
    with pytest.raises(ConfigError, match="already holds 4 episodes: pass --resume"):
        evaluate(small, tmp_path)
    with pytest.raises(ConfigError, match="max_steps None -> 3"):
        evaluate(EvalConfig(env_ids=QUICK[:2], episodes=2, max_steps=3), tmp_path, resume=True)
    bars = Bars()
    more = EvalConfig(env_ids=QUICK[:2], episodes=3)
    records = evaluate(more, tmp_path, resume=True, progress=bars)
    assert bars.total == dict.fromkeys(QUICK[:2], 3) and bars.done == dict.fromkeys(QUICK[:2], 2)
    assert [(r.env_id, r.seed) for r in bars.advanced] == [(QUICK[0], 2), (QUICK[1], 2)]
    assert len(records) == 6 == len(read_episodes(tmp_path / "episodes.jsonl"))


def test_a_torn_last_line_is_dropped_and_rewritten(tmp_path: Path) -> None:
    config = EvalConfig(env_ids=QUICK[:1], episodes=3)
    evaluate(config, tmp_path)
    path = tmp_path / "episodes.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:2]) + lines[2][:40])  # the writer was killed mid-line
    assert [r.seed for r in read_episodes(path)] == [0, 1]
    records = evaluate(config, tmp_path, resume=True)
    assert [r.seed for r in records] == [0, 1, 2]
    assert path.read_text().endswith("}\n") and len(path.read_text().splitlines()) == 3
    path.write_text("{oops\n" + "".join(lines))
    with pytest.raises(ConfigError, match="line 1 is not an episode record"):
        read_episodes(path)


def test_sigkill_then_resume_gives_the_uninterrupted_episodes(
    reference: list[EpisodeRecord], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    episodes = out / "episodes.jsonl"
    cmd = [sys.executable, "-m", "agent_sdk.cli", "eval", "--env", ",".join(QUICK),
           "--policy", "oracle", "--episodes", "20", "--save-trajectories", "2",
           "--workers", "2", "--out", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: line_count(episodes) >= 6 or proc.poll() is not None, 120, "episodes")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert 6 <= line_count(episodes) < 100, "the run ended before it could be killed"
        wait_for(lambda: not live_in_group(proc.pid), 10, "orphaned workers to exit")
        with episodes.open("ab") as f:  # as if the kill had come in the middle of a write
            f.write(b'{"env_id": "agent_sdk/ui-click-bu')
        done = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
    finally:
        for pid in live_in_group(proc.pid):
            os.kill(pid, signal.SIGKILL)
    lines = episodes.read_text().splitlines()
    records = [EpisodeRecord.from_json_dict(json.loads(line)) for line in lines]
    assert len(records) == len({(r.env_id, r.seed) for r in records}) == 100  # no duplicates
    assert {_key(r) for r in records} == {_key(r) for r in reference}
    assert _untimed(records) == _untimed(reference)
    assert all((trajectory_dir(out, e, s) / "trajectory.json").is_file()
               for e in QUICK for s in (0, 1))  # fmt: skip
    assert "100.0%" in done.stdout and (out / "report.html").is_file()


def _threads_here() -> tuple[str | None, int]:
    import torch

    return os.environ.get("OMP_NUM_THREADS"), torch.get_num_threads()


def test_worker_processes_share_the_cores_out(monkeypatch: pytest.MonkeyPatch) -> None:
    cores = len(os.sched_getaffinity(0))
    assert worker_threads(1) == cores and worker_threads(cores * 4) == 1
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # spawned workers inherit the env
    context = multiprocessing.get_context("spawn")
    for threads in {1, min(cores, 2)}:  # torch caps its threads at the cores
        with ProcessPoolExecutor(1, mp_context=context, initializer=_init_worker,
                                 initargs=(os.getpid(), threads)) as pool:  # fmt: skip
            assert pool.submit(_threads_here).result() == (str(threads), threads)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the user's choice wins
    with ProcessPoolExecutor(1, mp_context=context, initializer=_init_worker,
                             initargs=(os.getpid(), 2)) as pool:  # fmt: skip
        assert pool.submit(_threads_here).result() == ("1", 1)


def test_ray_runs_the_same_episodes(reference: list[EpisodeRecord], tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        records = evaluate(CONFIG, tmp_path, workers=2, ray_address="local")
    finally:
        ray.shutdown()
    assert [_key(r) for r in records] == [_key(r) for r in reference]  # sorted alike
    assert _untimed(records) == _untimed(reference)


def test_ray_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    config = EvalConfig(env_ids=QUICK[:1], episodes=1)
    with pytest.raises(ConfigError, match=r'pip install "fastvlm-agent-sdk\[ray\]"'):
        evaluate(config, tmp_path, ray_address="local")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    pytest.importorskip("transformers")
    from perception.tiny import save_tiny_checkpoint

    yield save_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny-fastvlm", layout="hf")


def test_vlm_runs_record_the_model_and_its_ttft(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from perception.checkpoints import checkpoint_hash

    config = EvalConfig(env_ids=QUICK[:1], policy="vlm", model=str(tiny_checkpoint),
                        episodes=2, max_steps=2)  # fmt: skip
    assert config.model_hash == checkpoint_hash(tiny_checkpoint)
    assert config.replan_distance == VLM_REPLAN_DISTANCE > 0  # a model's points jitter
    for policy in ("oracle", "point-oracle"):  # the experts' do not
        assert EvalConfig(env_ids=QUICK, policy=policy).replan_distance == 0.0
    exact = EvalConfig(env_ids=QUICK[:1], policy="vlm", model=str(tiny_checkpoint),
                       replan_distance=0.0)  # fmt: skip
    assert exact.replan_distance == 0.0 and exact.config_hash != config.config_hash
    free = EvalConfig(env_ids=QUICK[:1], policy="vlm", model=str(tiny_checkpoint),
                      episodes=2, max_steps=2, grammar=False)  # fmt: skip
    assert config.grammar and free.config_hash != config.config_hash
    records = evaluate(config, tmp_path)
    assert all(r.end != "error" for r in records)  # every answer is an action
    model = {"name": "tiny-fastvlm", "hash": config.model_hash}
    assert all(r.model == model and r.policy == "vlm" for r in records)
    assert all(r.ttft_s and all(t > 0 for t in r.ttft_s) for r in records)
    assert summarize(records)[-1].ttft_p50_s is not None
    traj = json.loads((trajectory_dir(tmp_path, QUICK[0], 0) / "trajectory.json").read_text())
    assert traj["steps"][0]["model_text"] is not None and "ttft_s" in traj["steps"][0]["timings"]
