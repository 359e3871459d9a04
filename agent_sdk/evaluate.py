"""Evaluate a policy over Gymnasium envs: seeded episodes, in parallel, resumable, on the record.

Usage::

    agent-sdk eval --suite ui --policy oracle --episodes 20 --workers 2 --out runs/oracle
    agent-sdk eval --suite ui --policy vlm --model checkpoints/fastvlm-0.5b \\
        --episodes 50 --seed 0 --workers 2 --out runs/fastvlm
    agent-sdk eval --env agent_sdk/ui-click-button-v0,agent_sdk/ui-fill-form-v0 --policy random \\
        --max-steps 5 --out runs/random
    agent-sdk eval ... --resume        # after a crash or Ctrl-C: runs only the missing episodes
    agent-sdk eval ... --ray local     # on Ray actors (pip install "fastvlm-agent-sdk[ray]")
    agent-sdk report runs/fastvlm      # rebuild runs/fastvlm/report.html

    from agent_sdk.evaluate import EvalConfig, evaluate, summarize
    from envs import SUITES

    config = EvalConfig(env_ids=SUITES["ui"], policy="oracle", episodes=20)
    records = evaluate(config, "runs/oracle", workers=2)
    for row in summarize(records, config.env_ids):   # one row per env, then "all"
        print(row.env_id, row.success_rate, row.ci_low, row.ci_high)

Episode ``i`` of every env runs with seed ``seed + i``. Each worker (this process for
``workers=1``, else spawned processes or Ray actors) builds its own model, env and
:class:`~agent_sdk.agent.Agent` from the picklable :class:`EvalConfig`. An episode whose env or
policy raises is recorded with ``error`` and the worker rebuilds the env for the next one; only
the driver writes to the run folder::

    config.json                 the config and its hash; --resume refuses another config
    episodes.jsonl              one EpisodeRecord per line, appended, flushed and fsync'd
    trajectories/ENV/SEED/      trajectory.json + step_NNN.jpg, final.jpg (first K seeds per env)
    summary.json summary.csv report.html      written by agent_sdk.report
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import io
import json
import logging
import math
import multiprocessing
import multiprocessing.util
import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol, get_args

import gymnasium as gym
import numpy as np
from PIL import Image

import envs
from actions.schema import Observation
from agent_sdk.agent import Agent
from agent_sdk.environment import GymEnvironment
from agent_sdk.errors import AgentError, ConfigError
from agent_sdk.events import EndEvent, ObservationEvent, StepEvent
from agent_sdk.policies import OraclePolicy, Policy, RandomPolicy, VLMPolicy
from agent_sdk.records import StepRecord
from agent_sdk.robot import (
    DEFAULT_PERCEIVE_EVERY,
    DEFAULT_REPLAN_DISTANCE,
    VLM_REPLAN_DISTANCE,
    RobotEnvironment,
    check_replan_distance,
    is_robot_env,
)

log = logging.getLogger(__name__)

PolicyName = Literal["oracle", "point-oracle", "random", "vlm"]
POLICIES: tuple[str, ...] = get_args(PolicyName)
DEFAULT_MAX_STEPS = 50  # the agent's budget in an env that has none of its own
JPEG_QUALITY = 85  # trajectory screenshots


def step_budget(env: gym.Env, max_steps: int | None = None) -> int:
    """The agent's step budget in ``env``: ``max_steps``, else the env's own, else
    :data:`DEFAULT_MAX_STEPS`."""
    return max_steps or (env.spec and env.spec.max_episode_steps) or DEFAULT_MAX_STEPS


def play_environment(
    env: gym.Env,
    perceive_every: int = DEFAULT_PERCEIVE_EVERY,
    replan_distance: float = DEFAULT_REPLAN_DISTANCE,
) -> GymEnvironment:
    """``env`` as the harness plays it: a robot env through the motor layer
    (:class:`RobotEnvironment` with these settings), any other as it is."""
    if is_robot_env(env):
        return RobotEnvironment(env, perceive_every=perceive_every, replan_distance=replan_distance)
    return GymEnvironment(env)


# -- config ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate. Picklable: every worker builds its own env, policy and model from it."""

    env_ids: tuple[str, ...]
    policy: PolicyName = "oracle"
    model: str | None = None  # a local checkpoint folder, for policy "vlm"
    episodes: int = 10  # per env, with seeds seed .. seed + episodes - 1
    seed: int = 0
    max_steps: int | None = None  # the agent's step budget; None: each env's own
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)  # gym.make(env_id, **env_kwargs)
    save_trajectories: int = 3  # per env, the first K episodes keep their steps and screenshots
    suite: str | None = None  # the suite's name, for titles
    perceive_every: int = DEFAULT_PERCEIVE_EVERY  # robot envs: simulator steps per policy call
    # robot envs: `RobotEnvironment`'s; None: VLM_REPLAN_DISTANCE for the vlm policy, else
    # DEFAULT_REPLAN_DISTANCE (the experts' points do not jitter)
    replan_distance: float | None = None
    grammar: bool = True  # policy "vlm": decode under the action grammar (VLMPolicy's grammar)
    model_hash: str | None = field(default=None, init=False)  # content hash of ``model``

    def __post_init__(self) -> None:
        object.__setattr__(self, "env_ids", tuple(self.env_ids))
        object.__setattr__(self, "env_kwargs", dict(self.env_kwargs))
        _check_env_ids(self.env_ids)
        if self.policy not in POLICIES:
            raise ConfigError(f"policy must be one of {', '.join(POLICIES)}, got {self.policy!r}")
        if (self.policy == "vlm") != (self.model is not None):
            raise ConfigError(
                "policy 'vlm' needs model=DIR (--model, a local FastVLM checkpoint folder)"
                if self.model is None
                else f"model is only used by policy 'vlm', not {self.policy!r}; drop --model"
            )
        limits = (("episodes", 1), ("save_trajectories", 0), ("max_steps", 1),
                  ("perceive_every", 1))  # fmt: skip
        for name, low in limits:
            value = getattr(self, name)
            if value is not None and value < low:
                raise ConfigError(f"{name} must be >= {low}, got {value}")
        if self.replan_distance is None:
            default = VLM_REPLAN_DISTANCE if self.policy == "vlm" else DEFAULT_REPLAN_DISTANCE
            object.__setattr__(self, "replan_distance", default)
        check_replan_distance(self.replan_distance)
        try:
            json.dumps(self.env_kwargs)
        except TypeError as err:
            raise ConfigError(f"env_kwargs must be JSON values, got {self.env_kwargs!r}") from err
        if self.model is not None:
            from perception.checkpoints import checkpoint_hash

            object.__setattr__(self, "model_hash", checkpoint_hash(self.model))

    def identity(self) -> dict[str, Any]:
        """What decides an episode's outcome; hashed into :attr:`config_hash`."""
        return {"env_ids": list(self.env_ids), "env_kwargs": dict(self.env_kwargs),
                "policy": self.policy, "model_hash": self.model_hash,
                "max_steps": self.max_steps, "perceive_every": self.perceive_every,
                "replan_distance": self.replan_distance,
                **({"grammar": self.grammar} if self.policy == "vlm" else {})}  # fmt: skip

    @property
    def config_hash(self) -> str:
        """16 hex digits of the identity's sha256; episodes, seeds and workers are not part of
        it, so a resumed run may add episodes."""
        text = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_json_dict(self) -> dict[str, Any]:
        return {**asdict(self), "env_ids": list(self.env_ids)}


def _check_env_ids(env_ids: Sequence[str]) -> None:
    if not env_ids:
        raise ConfigError("env_ids is empty: give a suite or at least one env id")
    for env_id in env_ids:
        if env_id not in gym.registry:
            near = difflib.get_close_matches(env_id, list(gym.registry), n=3)
            hint = f" Did you mean {', '.join(near)}?" if near else ""
            raise ConfigError(f"unknown env id {env_id!r}.{hint} See `agent-sdk envs`.")


def resolve_env_ids(suite: str | None, env_ids: Sequence[str] = ()) -> tuple[str, ...]:
    """The env ids of ``suite``, or ``env_ids`` (items may be comma-separated lists)."""
    ids = tuple(i.strip() for item in env_ids for i in item.split(",") if i.strip())
    if ids and suite is not None:
        raise ConfigError("give either a suite (--suite) or env ids (--env), not both")
    if ids:
        return ids
    suite = suite or "ui"
    if suite not in envs.SUITES:
        raise ConfigError(f"unknown suite {suite!r}; known suites: {', '.join(envs.SUITES)}")
    return envs.SUITES[suite]


# -- records --------------------------------------------------------------------------------------
@dataclass
class EpisodeRecord:
    """One episode, as one line of ``episodes.jsonl`` (DESIGN.md's episode record).

    ``step_latency_s`` holds each step's wall time (observe to check: model call, guard and env
    step); ``ttft_s`` the model's time to first token of each step that called a model (empty
    without one); ``error`` is ``"Type: message"`` when the env or the policy raised, and
    ``end`` says why the episode ended (``done``, ``terminated``, ``max_steps``, ``error``: no
    action, ``crash``: an exception); ``model`` is the VLM's name and content hash.
    """

    env_id: str
    seed: int
    success: bool
    steps: int
    return_: float
    wall_s: float
    step_latency_s: list[float] = field(default_factory=list)
    ttft_s: list[float] = field(default_factory=list)
    error: str | None = None
    end: str | None = None
    policy: str = ""
    model: dict[str, str] | None = None
    config_hash: str = ""

    def to_json_dict(self) -> dict[str, Any]:
        return {("return" if k == "return_" else k): v for k, v in asdict(self).items()}

    @classmethod
    def from_json_dict(cls, d: Mapping[str, Any]) -> EpisodeRecord:
        names = {f.name for f in fields(cls)}
        d = {("return_" if k == "return" else k): v for k, v in d.items()}
        return cls(**{k: v for k, v in d.items() if k in names})


class EpisodeTask(NamedTuple):
    """One episode to run."""

    env_id: str
    seed: int
    keep_trajectory: bool  # return its steps and screenshots


@dataclass
class EpisodeResult:
    """A finished episode: its record and, when kept, its trajectory and JPEG screenshots."""

    record: EpisodeRecord
    trajectory: dict[str, Any] | None = None
    images: dict[str, bytes] = field(default_factory=dict)


# -- one worker -----------------------------------------------------------------------------------
@dataclass
class _Episode:
    """What an episode left behind, even when it crashed."""

    steps: list[StepRecord] = field(default_factory=list)
    first: Observation | None = None
    last: Observation | None = None
    success: bool = False
    end: str | None = None
    error: str | None = None


class EpisodeRunner:
    """Runs episodes of one config in one process: the model is loaded once, an env is built
    when its first episode comes (and again after an episode crashed it)."""

    def __init__(self, config: EvalConfig) -> None:
        self.config, self.config_hash = config, config.config_hash
        self.vlm = _load_vlm(config.model) if config.model is not None else None
        self.model = (
            None if self.vlm is None else {"name": self.vlm.name, "hash": self.vlm.model_hash}
        )
        self.env_id: str | None = None
        self.env: gym.Env | None = None
        self.agent: Agent | None = None  # compiled once (~3 ms); each episode sets its policy

    def run(self, task: EpisodeTask) -> EpisodeResult:
        """Play one episode; an exception from the env or the policy is recorded, not raised."""
        start = time.perf_counter()
        env = self._env(task.env_id)  # a failure to build the env stops the run
        episode = _Episode()
        try:
            self._play(env, task, episode)
        except Exception as err:
            log.debug("%s seed %d crashed", task.env_id, task.seed, exc_info=True)
            episode.error, episode.end = f"{type(err).__name__}: {err}", "crash"
            self.close()
        record = self._record(task, episode, time.perf_counter() - start)
        if not task.keep_trajectory:
            return EpisodeResult(record)
        return EpisodeResult(record, *_trajectory(task, episode))

    def close(self) -> None:
        """Close the current env and its agent (the next episode builds new ones)."""
        if self.env is not None:
            with contextlib.suppress(Exception):  # a crashed env may not close cleanly
                self.env.close()
        self.env, self.env_id = None, None
        self.agent = None  # and forget any episode a crash left paused in it

    def _env(self, env_id: str) -> gym.Env:
        if self.env_id != env_id or self.env is None:
            self.close()
            self.env = gym.make(env_id, **self.config.env_kwargs)
            self.env_id = env_id
        return self.env

    def _policy(self, env: gym.Env, seed: int) -> Policy:
        if self.vlm is not None:
            return VLMPolicy(self.vlm, grammar=self.config.grammar)
        if self.config.policy in ("oracle", "point-oracle"):
            return OraclePolicy(env, points=self.config.policy == "point-oracle")
        return RandomPolicy(seed)

    def _play(self, env: gym.Env, task: EpisodeTask, episode: _Episode) -> None:
        policy = self._policy(env, task.seed)
        if self.agent is None:
            self.agent = Agent(policy)
        agent = self.agent
        agent.policy, agent.max_steps = policy, step_budget(env, self.config.max_steps)
        agent.keep_images = task.keep_trajectory
        assert self.config.replan_distance is not None  # set by EvalConfig
        environment = play_environment(env, self.config.perceive_every, self.config.replan_distance)
        for event in agent.stream_episode(environment, task.seed):
            if isinstance(event, ObservationEvent):
                episode.first = episode.first or event.observation
            elif isinstance(event, StepEvent):
                episode.steps.append(event.record)
            elif isinstance(event, EndEvent):
                episode.success, episode.end = event.trajectory.success, event.trajectory.end
        episode.last = environment.observe()

    def _record(self, task: EpisodeTask, episode: _Episode, wall_s: float) -> EpisodeRecord:
        steps = episode.steps
        return EpisodeRecord(
            env_id=task.env_id,
            seed=task.seed,
            success=episode.success and episode.error is None,
            steps=len(steps),
            return_=sum(s.result.reward for s in steps if s.result is not None),
            wall_s=wall_s,
            step_latency_s=[s.wall_s for s in steps],
            ttft_s=[s.timings["ttft_s"] for s in steps if "ttft_s" in s.timings],
            error=episode.error,
            end=episode.end,
            policy=self.config.policy,
            model=self.model,
            config_hash=self.config_hash,
        )


def _load_vlm(model: str) -> Any:
    from perception.base import load_vlm

    return load_vlm(model)


def _jpeg(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def _trajectory(task: EpisodeTask, episode: _Episode) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The report's view of an episode: steps as JSON, screenshots as JPEG files by name."""
    images: dict[str, bytes] = {}
    steps = []
    for s in episode.steps:
        name = None
        if s.image is not None:
            name = f"step_{s.step:03d}.jpg"
            images[name] = _jpeg(s.image)
        steps.append({
            "step": s.step, "image": name, "action": s.action and s.action.model_dump(),
            "action_text": s.action_text, "model_text": s.model_text, "plan": s.plan,
            "attempts": s.attempts, "guard": s.guard and asdict(s.guard),
            "result": s.result and {k: v for k, v in asdict(s.result).items() if k != "info"},
            "timings": s.timings, "error": s.error, "wall_s": s.wall_s,
        })  # fmt: skip
    if episode.last is not None:
        images["final.jpg"] = _jpeg(episode.last.image)
    first = episode.first
    trajectory = {
        "env_id": task.env_id, "seed": task.seed,
        "instruction": first.instruction if first is not None else None,
        "success": episode.success and episode.error is None, "end": episode.end,
        "error": episode.error, "steps": steps,
        "final_image": "final.jpg" if episode.last is not None else None,
    }  # fmt: skip
    return trajectory, images


# -- the run folder -------------------------------------------------------------------------------
def read_episodes(path: str | Path) -> list[EpisodeRecord]:
    """The records of an ``episodes.jsonl``; a torn last line (a killed writer's) is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(EpisodeRecord.from_json_dict(json.loads(line)))
        except (ValueError, TypeError) as err:
            if number == len(lines):  # no newline after it: a write cut short
                log.warning("%s: dropping a torn last line (%d bytes)", path, len(line))
                continue
            raise ConfigError(f"{path} line {number} is not an episode record: {err}") from err
    return records


def _drop_torn_tail(path: Path) -> None:
    """Cut ``path`` after its last newline, so that appends start on a fresh line."""
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    if keep < len(data):
        with path.open("r+b") as f:
            f.truncate(keep)
            os.fsync(f.fileno())


def _safe(part: str) -> str:
    return re.sub(r"[^\w.-]", "_", part)


def trajectory_dir(out: Path, env_id: str, seed: int) -> Path:
    """``OUT/trajectories/<env id>/<seed>``."""
    return out.joinpath("trajectories", *map(_safe, env_id.split("/")), str(seed))


class RunDir:
    """An eval run's folder (see the module docstring); only the driver process writes it."""

    def __init__(self, out: str | Path, config: EvalConfig, resume: bool = False) -> None:
        self.path = Path(out)
        self.episodes_path = self.path / "episodes.jsonl"
        self.config_path = self.path / "config.json"
        self.path.mkdir(parents=True, exist_ok=True)
        self.records = read_episodes(self.episodes_path)
        if self.records and not resume:
            raise ConfigError(
                f"{self.path} already holds {len(self.records)} episodes: pass --resume to "
                "continue that run, or choose another --out"
            )
        self._check_same_config(config)
        if self.episodes_path.exists():
            _drop_torn_tail(self.episodes_path)
        if not self.config_path.exists() or not self.records:
            saved = {"config_hash": config.config_hash, "config": config.to_json_dict()}
            self.config_path.write_text(json.dumps(saved, indent=2) + "\n")

    def todo(self, config: EvalConfig) -> list[EpisodeTask]:
        """The config's episodes that are not recorded yet, env by env."""
        done = {(r.env_id, r.seed) for r in self.records}
        return [
            EpisodeTask(env_id, config.seed + i, i < config.save_trajectories)
            for env_id in config.env_ids
            for i in range(config.episodes)
            if (env_id, config.seed + i) not in done
        ]

    def save(self, result: EpisodeResult) -> None:
        """Write the trajectory, then append the record (flushed and fsync'd)."""
        record = result.record
        if result.trajectory is not None:
            self._save_trajectory(record, result.trajectory, result.images)
        line = json.dumps(record.to_json_dict()) + "\n"
        with self.episodes_path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.records.append(record)

    def _save_trajectory(
        self, record: EpisodeRecord, trajectory: dict[str, Any], images: Mapping[str, bytes]
    ) -> None:
        folder = trajectory_dir(self.path, record.env_id, record.seed)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in images.items():
            (folder / name).write_bytes(data)
        tmp = folder / "trajectory.json.tmp"
        tmp.write_text(json.dumps({**trajectory, "record": record.to_json_dict()}, indent=1))
        tmp.replace(folder / "trajectory.json")

    def _check_same_config(self, config: EvalConfig) -> None:
        if not self.records:
            return
        saved = json.loads(self.config_path.read_text()) if self.config_path.exists() else {}
        hashes = {r.config_hash for r in self.records} | {saved.get("config_hash", "")} - {""}
        if hashes == {config.config_hash}:
            return
        old, new = saved.get("config", {}), config.to_json_dict()
        changed = [f"{k} {old[k]!r} -> {new[k]!r}" for k in config.identity()
                   if k in old and old[k] != new[k]]  # fmt: skip
        why = "; ".join(changed) or f"hash {', '.join(sorted(hashes))} -> {config.config_hash}"
        raise ConfigError(
            f"{self.path} holds a run of another config ({why}): resume it with the same "
            "flags, or choose another --out"
        )


# -- running many episodes ------------------------------------------------------------------------
class EvalProgress(Protocol):
    """What :func:`evaluate` reports to a progress display."""

    def start(self, total: Mapping[str, int], done: Mapping[str, int]) -> None:
        """Episodes per env in this run, and those of them recorded before it started."""
        ...

    def advance(self, record: EpisodeRecord) -> None:
        """One more episode finished."""
        ...


def evaluate(
    config: EvalConfig,
    out: str | Path,
    *,
    workers: int = 1,
    ray_address: str | None = None,
    resume: bool = False,
    progress: EvalProgress | None = None,
) -> list[EpisodeRecord]:
    """Run the config's episodes that ``out`` does not hold yet and record each as it ends.

    ``workers`` is the number of processes (1: this one) or, with ``ray_address`` (``"local"``
    or a cluster address), of Ray actors. Returns every record of the run, sorted by env (in the
    config's order) and seed.
    """
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    run = RunDir(out, config, resume)
    tasks = run.todo(config)
    if progress is not None:
        left = Counter(task.env_id for task in tasks)
        total = dict.fromkeys(config.env_ids, config.episodes)
        progress.start(total, {env_id: n - left[env_id] for env_id, n in total.items()})
    if tasks:
        if ray_address is not None:
            results = _on_ray(config, tasks, workers, ray_address)
        elif workers == 1:
            results = _in_process(config, tasks)
        else:
            results = _in_processes(config, tasks, workers)
        with contextlib.closing(results):
            for result in results:
                run.save(result)
                if progress is not None:
                    progress.advance(result.record)
    order = {env_id: i for i, env_id in enumerate(config.env_ids)}
    return sorted(run.records, key=lambda r: (order.get(r.env_id, len(order)), r.env_id, r.seed))


def _in_process(config: EvalConfig, tasks: Sequence[EpisodeTask]) -> Iterator[EpisodeResult]:
    runner = EpisodeRunner(config)
    try:
        for task in tasks:
            yield runner.run(task)
    finally:
        runner.close()


_worker_runner: EpisodeRunner | None = None  # one per worker process, built by its first task


def worker_threads(workers: int) -> int:
    """Compute threads for each of ``workers`` processes: the cores this process may use,
    shared out (at least one), so that the workers' thread pools do not oversubscribe them."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // workers)


def _init_worker(driver: int, threads: int) -> None:
    """Leave Ctrl-C to the driver, exit when the driver (pid ``driver``) dies, even by SIGKILL
    and even before this worker started, and use ``threads`` compute threads (torch and OpenMP;
    a user's own ``OMP_NUM_THREADS`` wins)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    if "torch" in sys.modules:  # else torch reads OMP_NUM_THREADS when it is imported
        sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

    def watch() -> None:
        while os.getppid() == driver:
            time.sleep(0.5)
        if _worker_runner is not None:
            _worker_runner.close()  # a browser env's Chromium would outlive us
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _run_in_worker(config: EvalConfig, task: EpisodeTask) -> EpisodeResult:
    global _worker_runner
    if _worker_runner is None:  # built in a task, so that its errors reach the driver as they are
        _worker_runner = EpisodeRunner(config)
        multiprocessing.util.Finalize(_worker_runner, _worker_runner.close, exitpriority=10)
    return _worker_runner.run(task)


def _in_processes(
    config: EvalConfig, tasks: Sequence[EpisodeTask], workers: int
) -> Iterator[EpisodeResult]:
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(tasks)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(os.getpid(), worker_threads(min(workers, len(tasks)))),
    )
    try:
        futures = [pool.submit(_run_in_worker, config, task) for task in tasks]
        for future in as_completed(futures):
            yield future.result()
    except BrokenProcessPool as err:
        raise AgentError(
            f"a worker process died ({err}); the finished episodes are saved: run the same "
            "command with --resume to go on"
        ) from err
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise ConfigError('--ray needs Ray: pip install "fastvlm-agent-sdk[ray]"') from err
    return ray


def _on_ray(
    config: EvalConfig, tasks: Sequence[EpisodeTask], workers: int, address: str
) -> Iterator[EpisodeResult]:
    """Episodes on ``workers`` Ray actors (each an :class:`EpisodeRunner`); a Ray already
    initialised in this process is used as it is."""
    ray = _import_ray()
    from ray.util import ActorPool

    started = not ray.is_initialized()
    if started:
        where = {"num_cpus": workers} if address == "local" else {"address": address}
        ray.init(include_dashboard=False, **where)
    try:
        actor = ray.remote(num_cpus=1)(EpisodeRunner)
        actors = [actor.remote(config) for _ in range(min(workers, len(tasks)))]
        yield from ActorPool(actors).map_unordered(lambda a, task: a.run.remote(task), tasks)
        ray.get([a.close.remote() for a in actors])  # close their envs (browsers) before exit
    finally:
        if started:
            ray.shutdown()


# -- summaries ------------------------------------------------------------------------------------
def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a success rate (95 % for ``z = 1.96``); it holds the rate
    itself exactly (rounding left 6 / 6 an upper bound of 0.9999999999999999)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, min(centre - half, p)), min(1.0, max(centre + half, p))


@dataclass(frozen=True)
class TaskSummary:
    """One env's (or, for ``env_id == "all"``, every env's) episodes in numbers."""

    env_id: str
    episodes: int
    successes: int
    success_rate: float
    ci_low: float  # 95 % Wilson interval of the success rate
    ci_high: float
    errors: int  # episodes that crashed: the env or the policy raised (not a success)
    failures: int  # episodes that ran to their end without success (errors not included)
    mean_steps: float
    step_p50_s: float | None  # step latency percentiles over every step
    step_p90_s: float | None
    ttft_p50_s: float | None  # None when no model ran


def _percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def _summary(env_id: str, records: Sequence[EpisodeRecord]) -> TaskSummary:
    n, ok = len(records), sum(r.success for r in records)
    latencies = [t for r in records for t in r.step_latency_s]
    ttfts = [t for r in records for t in r.ttft_s]
    return TaskSummary(
        env_id=env_id,
        episodes=n,
        successes=ok,
        success_rate=ok / n if n else 0.0,
        ci_low=wilson_interval(ok, n)[0],
        ci_high=wilson_interval(ok, n)[1],
        errors=sum(r.error is not None for r in records),
        failures=sum(not r.success and r.error is None for r in records),
        mean_steps=sum(r.steps for r in records) / n if n else 0.0,
        step_p50_s=_percentile(latencies, 50),
        step_p90_s=_percentile(latencies, 90),
        ttft_p50_s=_percentile(ttfts, 50),
    )


def summarize(records: Sequence[EpisodeRecord], env_ids: Sequence[str] = ()) -> list[TaskSummary]:
    """One row per env, in the order of ``env_ids`` (then of first appearance), and a last
    row ``"all"`` over every episode."""
    by_env: dict[str, list[EpisodeRecord]] = {env_id: [] for env_id in env_ids}
    for r in records:
        by_env.setdefault(r.env_id, []).append(r)
    rows = [_summary(env_id, rs) for env_id, rs in by_env.items() if rs]
    return [*rows, _summary("all", records)]
