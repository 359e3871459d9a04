"""Demonstrations for training: roll out each env's oracle and keep every step as an example.

Usage::

    agent-sdk collect --suite ui --episodes 200 --out data/ui          # GUI suite
    agent-sdk collect --suite miniwob --episodes 50 --out data/miniwob # Chromium, DOM oracles
    agent-sdk collect --env agent_sdk/ui-click-button-v0 --episodes 10 --noise 0 --out data/cb

    from agent_sdk.collect import CollectConfig, collect, read_examples
    manifest = collect(CollectConfig(env_ids=SUITES["ui"], episodes=20), "data/ui")
    for ex in read_examples("data/ui"):
        ex.prompt, ex.target                # what VLMPolicy sends, and the oracle's answer

An example is what a :class:`~agent_sdk.policies.VLMPolicy` sees at one step (the image, the
instruction, the previous actions in SDK text) and the oracle's action in the same text
(``click(512, 300)``); its prompt is :func:`agent_sdk.prompting.step_prompt`, so training and
the agent ask in exactly one format. Any env with an ``oracle()`` (the GUI suite, MiniWoB++, the
robot envs) can be collected from; an observation with a ``camera`` (a robot's) is asked with
:func:`~agent_sdk.prompting.robot_prompt`, as VLMPolicy asks it.

Domain randomisation: every episode has its own seed (layout, theme, font, distractors), an
optional random screen size from ``sizes``, and with probability ``noise`` a step executes a
random click instead of the oracle's click; the example keeps the oracle's answer, so the data
shows how to recover from mistakes. Episode ``i`` of every env runs with seed ``seed + i``;
the default first seed (100000) keeps the data apart from evaluation's seeds (0, 1, ...).

The folder holds ``shard-NNNNN.tar`` files (``KEY.png`` + ``KEY.json`` per example, members
with fixed metadata, so the same config writes the same bytes) and ``manifest.json``: the
config, each shard's example count and sha256, totals per env, and a ``hash`` over them all.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tarfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from PIL import Image

import envs  # registers the env ids; the suites
from actions.schema import ActionBase, Click
from agent_sdk.agent import Agent
from agent_sdk.errors import ConfigError
from agent_sdk.evaluate import _check_env_ids, play_environment, step_budget
from agent_sdk.events import EndEvent, ModelEvent, ObservationEvent, StepEvent
from agent_sdk.ordered import ordered_map
from agent_sdk.policies import VLMPolicy, action_history
from agent_sdk.prompting import robot_prompt, step_prompt
from agent_sdk.records import StepRecord
from agent_sdk.refer import referring_questions
from agent_sdk.robot import DEFAULT_PERCEIVE_EVERY, VLM_REPLAN_DISTANCE, is_robot_env
from envs.errors import EnvError

log = logging.getLogger(__name__)

FORMAT = "agent-sdk-demos/1"
MANIFEST = "manifest.json"
DEFAULT_SEED = 100_000  # far from evaluation's seeds 0, 1, ...


@dataclass(frozen=True)
class CollectConfig:
    """What to collect: ``episodes`` oracle episodes of each env."""

    env_ids: tuple[str, ...]
    episodes: int = 100  # per env, seeds seed .. seed + episodes - 1
    seed: int = DEFAULT_SEED
    noise: float = 0.1  # probability that a step clicks at random instead of the oracle's click
    sizes: tuple[tuple[int, int], ...] = ()  # screen sizes (w, h) to draw from; (): the env's own
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)  # gym.make(env_id, **env_kwargs)
    shard_size: int = 2000  # examples per tar shard
    max_steps: int | None = None  # per episode; None: the env's own budget
    robot_points: bool = True  # robot envs: answer with point_oracle() (point targets) where
    # the task has one; the scripted ee_delta expert drives the arm either way
    refer: int = 0  # > 0: each screen gives up to this many referring examples (`agent_sdk.refer`)
    # in place of the oracle's answer; the oracle still plays the episode
    learner: str | None = None  # a checkpoint folder whose VLMPolicy plays the episodes instead of
    # the oracle, which labels every state the learner reaches (DAgger)

    def __post_init__(self) -> None:
        object.__setattr__(self, "env_ids", tuple(self.env_ids))
        object.__setattr__(self, "sizes", tuple(tuple(s) for s in self.sizes))
        object.__setattr__(self, "env_kwargs", dict(self.env_kwargs))
        _check_env_ids(self.env_ids)
        if self.episodes < 1:
            raise ConfigError(f"episodes must be >= 1, got {self.episodes}")
        if not 0.0 <= self.noise < 1.0:
            raise ConfigError(f"noise must lie in [0, 1), got {self.noise}")
        if self.shard_size < 1:
            raise ConfigError(f"shard_size must be >= 1, got {self.shard_size}")
        if any(len(s) != 2 or min(s) < 1 for s in self.sizes):
            raise ConfigError(f"sizes must be (width, height) pairs, got {self.sizes}")
        if self.refer < 0:
            raise ConfigError(f"refer is a count of examples per screen (0: off), got {self.refer}")
        if self.learner is not None and (self.noise or self.refer or self.sizes):
            raise ConfigError("a learner's episodes take no --noise (its own mistakes are the "
                              "noise), --refer or --size: drop them")  # fmt: skip
        robots = [e for e in self.env_ids if e in envs.SUITES["robot"]]
        if self.refer and robots:
            raise ConfigError(f"--refer asks for screen elements by name (the GUI suite, "
                              f"MiniWoB++); {', '.join(robots)} shows a camera image: collect "
                              "it without --refer")  # fmt: skip

    def to_json_dict(self) -> dict[str, Any]:
        body = {**asdict(self), "env_ids": list(self.env_ids),
                "sizes": [list(s) for s in self.sizes]}  # fmt: skip
        for key in ("refer", "learner"):  # (keys only when set: data sets without them keep
            if not body[key]:  # the hashes they had)
                del body[key]
        if self.learner is not None:
            from perception.checkpoints import checkpoint_hash

            body["learner_hash"] = checkpoint_hash(self.learner)
        return body


@dataclass(frozen=True)
class Example:
    """One step of a demonstration: what the policy saw and the oracle's answer."""

    image: np.ndarray  # H x W x 3 uint8
    instruction: str
    history: tuple[str, ...]  # previous actions in SDK text, oldest first
    target: str  # the oracle's action in SDK text
    env_id: str = ""
    seed: int = 0
    step: int = 0
    robot: bool = False  # a camera observation: VLMPolicy asks with the robot prompt

    @property
    def prompt(self) -> str:
        """The question VLMPolicy asks at this step."""
        return (robot_prompt if self.robot else step_prompt)(self.instruction, self.history)

    def meta(self) -> dict[str, Any]:
        return {"env_id": self.env_id, "seed": self.seed, "step": self.step,
                "instruction": self.instruction, "history": list(self.history),
                "target": self.target, "robot": self.robot}  # fmt: skip


# -- rolling out ----------------------------------------------------------------------------------
def episode_examples(
    env: gym.Env, env_id: str, seed: int, rng: np.random.Generator, noise: float,
    max_steps: int | None = None, points: bool = True, refer: int = 0,
) -> tuple[list[Example], bool]:  # fmt: skip
    """Play one oracle episode (with random clicks at rate ``noise``); its examples and success.

    With ``points``, an env with ``point_oracle()`` (the robots) is answered with the point
    target it gives, when it gives one, while ``oracle()`` drives the episode. With ``refer``
    > 0 each screen gives up to that many referring examples instead (`referring_examples`)."""
    point_oracle = getattr(env.unwrapped, "point_oracle", None) if points else None
    obs, info = env.reset(seed=seed)
    budget = max_steps or getattr(env.unwrapped, "_max_episode_steps", None) or 50
    history: list[str] = []
    examples: list[Example] = []
    success = bool(info.get("is_success", False))
    for step in range(budget):
        target: ActionBase = env.unwrapped.oracle()
        answer = (point_oracle() if point_oracle is not None else None) or target
        if refer:
            examples += referring_examples(env, obs, env_id, seed, step, refer)
        else:
            examples.append(Example(np.asarray(obs["image"]), str(obs["instruction"]),
                                    tuple(history), answer.to_text(), env_id, seed, step,
                                    "camera" in obs))  # fmt: skip
        action = target
        if isinstance(target, Click) and rng.random() < noise:
            x, y = (float(v) for v in rng.random(2))
            action = Click(x=x, y=y)
        history.append((action if answer is target else answer).to_text())
        obs, _, terminated, truncated, info = env.step(action.to_json())
        success = bool(info.get("is_success", False))
        if terminated or truncated:
            break
    return examples, success


def learner_examples(
    env: gym.Env, env_id: str, seed: int, agent: Agent, max_steps: int | None = None
) -> tuple[list[Example], bool]:
    """Play one episode with ``agent`` (a learner's VLMPolicy) acting, as `agent-sdk eval` plays
    it (robots through :class:`~agent_sdk.robot.RobotEnvironment`, one example per policy
    call); each example is what the learner saw, labelled with the oracle's answer at that state
    (``point_oracle()`` where it gives one, else ``oracle()``). Its examples and success."""
    unwrapped = env.unwrapped
    point_oracle = getattr(unwrapped, "point_oracle", None)
    robot = is_robot_env(env)
    environment = play_environment(env, DEFAULT_PERCEIVE_EVERY, VLM_REPLAN_DISTANCE)
    agent.max_steps = step_budget(env, max_steps)
    examples: list[Example] = []
    records: list[StepRecord] = []
    success, seen = False, None
    for event in agent.stream_episode(environment, seed):
        if isinstance(event, ObservationEvent):
            seen = event.observation
        elif isinstance(event, ModelEvent) and seen is not None:  # answered, not yet acted
            answer = (point_oracle() if point_oracle is not None else None) or unwrapped.oracle()
            examples.append(Example(np.asarray(seen.image), seen.instruction,
                                    tuple(action_history(records)), answer.to_text(), env_id,
                                    seed, event.step, robot))  # fmt: skip
        elif isinstance(event, StepEvent):
            records.append(event.record)
        elif isinstance(event, EndEvent):
            success = event.trajectory.success
    return examples, success


def referring_examples(
    env: gym.Env, obs: Mapping[str, Any], env_id: str, seed: int, step: int, count: int
) -> list[Example]:
    """Up to ``count`` referring examples of the screen ``obs`` shows (`refer.referring_questions`
    over ``env.unwrapped.elements()``, drawn from ``(seed, step)``): each names one element
    and clicks its centre, with no previous actions (a question of its own)."""
    image = np.asarray(obs["image"])
    height, width = image.shape[:2]
    rng = np.random.default_rng([seed, step])
    questions = referring_questions(env.unwrapped.elements(), width, height, count, rng)
    return [Example(image, text, (), click.to_text(), env_id, seed, step)
            for text, click in questions]  # fmt: skip


def _make_env(config: CollectConfig, env_id: str, size: tuple[int, int] | None) -> gym.Env:
    kwargs = dict(config.env_kwargs)
    if size is not None:
        kwargs.update(width=size[0], height=size[1])
    return gym.make(env_id, **kwargs)


@dataclass(frozen=True)
class Rollout:
    """One oracle episode: its examples and success, or the error that stopped its oracle
    (then it has no examples: a half-played demonstration would teach a wrong ending)."""

    env_id: str
    seed: int
    examples: list[Example]
    success: bool
    error: str | None = None


def rollouts(config: CollectConfig) -> Iterator[Rollout]:
    """Every episode, env by env and seed by seed (deterministic). An episode whose env or
    oracle raises `EnvError` (e.g. a MiniWoB++ button drawn wholly under another, which no
    click can reach) is yielded with its error and no examples; the next episode goes on."""
    agent = None
    if config.learner is not None:
        from perception.base import load_vlm

        agent = Agent(VLMPolicy(load_vlm(config.learner)), keep_images=False)
    for index, env_id in enumerate(config.env_ids):
        envs_by_size: dict[tuple[int, int] | None, gym.Env] = {}
        try:
            for i in range(config.episodes):
                seed = config.seed + i
                rng = np.random.default_rng([config.seed, index, i])
                size = config.sizes[int(rng.integers(len(config.sizes)))] if config.sizes else None
                if size not in envs_by_size:
                    envs_by_size[size] = _make_env(config, env_id, size)
                try:
                    if agent is not None:
                        examples, success = learner_examples(
                            envs_by_size[size], env_id, seed, agent, config.max_steps
                        )
                    else:
                        examples, success = episode_examples(
                            envs_by_size[size], env_id, seed, rng, config.noise,
                            config.max_steps, config.robot_points, config.refer,
                        )  # fmt: skip
                except EnvError as err:
                    log.warning("skipped %s seed %d: %s", env_id, seed, err)
                    yield Rollout(env_id, seed, [], False, f"{type(err).__name__}: {err}")
                    continue
                yield Rollout(env_id, seed, examples, success)
        finally:
            for env in envs_by_size.values():
                env.close()


# -- writing --------------------------------------------------------------------------------------
def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG", compress_level=6)
    return buf.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    tar.addfile(info, io.BytesIO(data))


class _ShardWriter:
    """Writes examples into numbered tar shards and keeps their manifest entries."""

    def __init__(self, out: Path, shard_size: int) -> None:
        self.out, self.shard_size = out, shard_size
        self.shards: list[dict[str, Any]] = []
        self.buffer: list[Example] = []
        self.count = 0

    def add(self, example: Example) -> None:
        self.buffer.append(example)
        if len(self.buffer) == self.shard_size:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        name = f"shard-{len(self.shards):05d}.tar"
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for ex in self.buffer:
                key = f"{self.count:08d}"
                _add(tar, f"{key}.png", _png(ex.image))
                _add(tar, f"{key}.json", json.dumps(ex.meta(), sort_keys=True).encode())
                self.count += 1
        data = raw.getvalue()
        tmp = self.out / f"{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(self.out / name)
        self.shards.append({"name": name, "examples": len(self.buffer),
                            "sha256": hashlib.sha256(data).hexdigest()})  # fmt: skip
        self.buffer = []


def collect(
    config: CollectConfig,
    out: str | Path,
    *,
    overwrite: bool = False,
    progress: Callable[[str, bool, int], None] | None = None,
) -> dict[str, Any]:
    """Roll out the config's episodes into ``out`` and return the manifest (also written).

    ``progress(env_id, success, examples)`` is called after each episode.
    """
    folder = Path(out)
    if (folder / MANIFEST).exists() and not overwrite:
        raise ConfigError(f"{folder} already holds a data set: choose another --out or --overwrite")
    folder.mkdir(parents=True, exist_ok=True)
    for stale in (*folder.glob("shard-*.tar"), folder / MANIFEST):
        stale.unlink(missing_ok=True)
    writer = _ShardWriter(folder, config.shard_size)
    per_env: dict[str, dict[str, int]] = {
        e: {"episodes": 0, "successes": 0, "examples": 0} for e in config.env_ids
    }
    skipped: list[dict[str, Any]] = []
    for episode in rollouts(config):
        for ex in episode.examples:
            writer.add(ex)
        totals = per_env[episode.env_id]
        totals["episodes"] += 1
        totals["successes"] += episode.success
        totals["examples"] += len(episode.examples)
        if episode.error is not None:
            skipped.append({"env_id": episode.env_id, "seed": episode.seed,
                            "error": episode.error})  # fmt: skip
        if progress is not None:
            progress(episode.env_id, episode.success, len(episode.examples))
    writer.flush()
    body = {"format": FORMAT, "config": config.to_json_dict(), "shards": writer.shards,
            "examples": writer.count, "per_env": per_env}  # fmt: skip
    if skipped:  # (a key only then: data sets without skips keep the hashes they had)
        body["skipped"] = skipped
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    manifest = {**body, "hash": hashlib.sha256(text.encode()).hexdigest()[:16]}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


# -- reading --------------------------------------------------------------------------------------
def read_manifest(data: str | Path) -> dict[str, Any]:
    """The manifest of a data folder written by :func:`collect`."""
    path = Path(data) / MANIFEST
    if not path.is_file():
        raise ConfigError(f"{data} holds no {MANIFEST}: write a data set with `agent-sdk collect`")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise ConfigError(f"{path} has format {manifest.get('format')!r}, not {FORMAT!r}")
    return manifest


def read_examples(
    data: str | Path | Sequence[str | Path], *, images: bool = True, threads: int = 1
) -> Iterator[Example]:
    """The examples of one or more data folders, in order; shards are checked against the
    manifest's sha256. ``images=False`` skips decoding the images (each is then an empty
    ``0 x 0 x 3`` array): for the text alone, far faster and lighter. ``threads`` > 1 reads
    and decodes that many shards at once (in order; as many shards' images in memory)."""
    folders = [data] if isinstance(data, (str, Path)) else list(data)
    if threads <= 1:
        for folder in map(Path, folders):
            for shard in read_manifest(folder)["shards"]:
                yield from shard_examples(Shard(folder, shard), images)
        return

    def read(shard: Shard) -> list[Example]:
        return list(shard_examples(shard, images))

    with ThreadPoolExecutor(threads) as pool:
        for examples in ordered_map(pool, read, data_shards(folders), ahead=threads):
            yield from examples


@dataclass(frozen=True)
class Shard:
    """One shard file of a data folder: the folder and its manifest entry (name, sha256, ...)."""

    folder: Path
    entry: dict[str, Any]


def data_shards(data: Sequence[str | Path]) -> list[Shard]:
    """The shards of the data folders ``data``, in the order :func:`read_examples` reads them."""
    return [Shard(Path(f), s) for f in data for s in read_manifest(f)["shards"]]


def shard_examples(shard: Shard, images: bool = True) -> Iterator[Example]:
    """The examples of one shard, in order, the file checked against its manifest entry first;
    ``images=False`` as in :func:`read_examples`."""
    path = shard.folder / shard.entry["name"]
    raw = path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != shard.entry["sha256"]:
        raise ConfigError(f"{path} does not match its manifest entry: collect the data set again")
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        for name in sorted(n for n in members if n.endswith(".json")):
            meta = json.loads(tar.extractfile(members[name]).read())  # type: ignore[union-attr]
            image = np.empty((0, 0, 3), dtype=np.uint8)
            if images:
                png = tar.extractfile(members[name.removesuffix(".json") + ".png"])
                image = np.asarray(Image.open(png).convert("RGB"))  # type: ignore[arg-type]
            yield Example(image, meta["instruction"], tuple(meta["history"]), meta["target"],
                          meta["env_id"], meta["seed"], meta["step"],
                          meta.get("robot", False))  # fmt: skip
