"""Shared helpers for the benchmark scripts (not a benchmark: ``make bench`` skips ``_*.py``).

* :func:`time_calls` times callables with warm-up, interleaved repeats and the median;
* :func:`torch_threads` sets torch's intra-op thread count for a block;
* :func:`print_table` prints an aligned text table;
* :func:`write_json` / :func:`save_figure` write ``benchmarks/out/<name>.json`` / ``.png``;
* :func:`first_clicks` and :func:`model_dataset` give the model probes their held-out screens
  and a checkpoint with its dataset.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent / "out"


@dataclass
class Timing:
    """Seconds per call: the median of ``samples_s`` (warm-up calls excluded)."""

    samples_s: list[float] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(self.samples_s)


def time_calls(
    fns: dict[str, Callable[[], object]],
    *,
    warmup: int = 1,
    repeats: int = 3,
    budget_s: float | None = None,
) -> dict[str, Timing]:
    """Time each callable: ``warmup`` untimed calls, then up to ``repeats`` timed rounds.

    Rounds are interleaved (A B A B ...) so that drift on a shared machine hits every
    callable alike, which keeps their ratios honest. With ``budget_s`` the timed rounds stop
    early (after at least one) once another round would push the timed total past the budget,
    so that very slow cells cost two calls rather than ``1 + repeats``.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    timings = {name: Timing() for name in fns}
    spent = 0.0
    for _ in range(repeats):
        round_s = 0.0
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            timings[name].samples_s.append(dt)
            round_s += dt
        spent += round_s
        if budget_s is not None and spent + round_s > budget_s:
            break
    return timings


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads.

    On the shared 2-vCPU development machine one vCPU is often throttled for tens of seconds;
    a 2-thread run then waits on the slow thread and swings by up to 3x, whereas one thread
    stays within about 1.2x. The benchmarks therefore time on one thread by default (and build
    models with all threads).
    """
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def fmt(value: float | int | None, spec: str = ".3f") -> str:
    """Format a number for a table; ``None`` (a skipped cell) becomes ``-``."""
    return "-" if value is None else format(value, spec)


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "", align: str = ""
) -> None:
    """Print rows as an aligned text table.

    ``align`` holds one ``l`` or ``r`` per column; by default the first column is left-aligned
    and the others right-aligned.
    """
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    align = align or "l" + "r" * (len(headers) - 1)

    def line(row: list[str]) -> str:
        parts = zip(row, widths, align, strict=True)
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in parts).rstrip()

    if title:
        print(f"\n{title}")
    print(line(cells[0]))
    print("-" * (sum(widths) + 2 * (len(widths) - 1)))
    for row in cells[1:]:
        print(line(row))
    print(flush=True)


def environment() -> dict[str, Any]:
    """Versions and machine facts to store beside the numbers."""
    from importlib.metadata import PackageNotFoundError, version

    info: dict[str, Any] = {"python": platform.python_version()}
    for package in ("torch", "timm", "transformers"):
        try:
            info[package] = version(package)
        except PackageNotFoundError:
            info[package] = None
    return info | {
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_json(name: str, payload: dict[str, Any], out_dir: Path = OUT_DIR) -> Path:
    """Write ``payload`` plus an ``environment`` block to ``out_dir/<name>.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps({**payload, "environment": environment()}, indent=2) + "\n")
    return path


def pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend (matplotlib is in the dev extra)."""
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise SystemExit("matplotlib is missing: pip install -e '.[dev]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, name: str, out_dir: Path = OUT_DIR) -> Path:
    """Save a matplotlib figure to ``out_dir/<name>.png`` and close it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    pyplot().close(fig)
    return path


def collect_ui(folder: Path, episodes: int = 5, held_out: bool = True) -> Path:
    """Oracle examples of every GUI task collected into ``folder``: ``held_out`` on evaluation
    seeds (from 0, never trained on) without random clicks, the model benchmarks' default
    data; else as training data is (seeds from 100000, random clicks at 0.15)."""
    from agent_sdk.collect import CollectConfig, collect
    from envs import UI_SUITE

    how = {"seed": 0, "noise": 0.0} if held_out else {"noise": 0.15}
    collect(CollectConfig(env_ids=UI_SUITE, episodes=episodes, **how), folder)
    return folder


def first_clicks(env_id: str, episodes: int) -> list[Any]:
    """The first screens of ``env_id`` on seeds 0 .. episodes-1 (held out, no random clicks)
    whose oracle clicks, as `agent_sdk.collect.Example`s held in memory (their seed is the
    episode's)."""
    import tempfile

    from agent_sdk.collect import CollectConfig, collect, read_examples

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "first"
        collect(CollectConfig(env_ids=(env_id,), episodes=episodes, seed=0, noise=0.0,
                              max_steps=1), folder)  # fmt: skip
        return [ex for ex in read_examples(folder) if ex.target.startswith("click(")]


def model_dataset(model_dir: str, examples: Sequence[Any]) -> tuple[Any, Any, Any, Any, int]:
    """``model_dir`` loaded on the CPU in float32 (eval mode) and ``examples`` preprocessed and
    tokenised for it (`agent_sdk.train.build_dataset` at its input size): the model, its
    `LoadInfo`, tokenizer and dataset, and its image tokens' grid side."""
    import math

    import torch

    from agent_sdk.train import build_dataset
    from perception.checkpoints import load_fastvlm_torch, load_tokenizer

    model, info = load_fastvlm_torch(model_dir, dtype=torch.float32)
    model.eval()
    tokenizer = load_tokenizer(model_dir)
    grid = math.isqrt(model.config.image_seq_length)
    data = build_dataset(examples, tokenizer, model.config.image_token_id, grid * 64,
                         grid * grid, info.image_mean)  # fmt: skip
    return model, info, tokenizer, data, grid


def token_features(
    model: Any, mean: Sequence[float], std: Sequence[float], data: Any,
    pixels: Callable[[int], Any] | None = None, batch: int = 64,
) -> Any:  # fmt: skip
    """N x tokens x H float tensor: for each example of ``data`` (`agent_sdk.train.Dataset`),
    the projected feature of every image token (the vision tower + projector, as the LLM sees
    them). ``pixels(i)`` gives example ``i``'s input instead of its own image (a spotlit copy,
    say)."""
    import torch

    m, s = torch.tensor(mean)[:, None, None], torch.tensor(std)[:, None, None]
    rows = []
    for start in range(0, len(data), batch):
        index = list(range(start, min(start + batch, len(data))))
        images = torch.stack([pixels(i) for i in index]) if pixels else data.pixels[index]
        with torch.no_grad():
            out = model.model.get_image_features(pixel_values=(images.float() / 255 - m) / s)
        rows.append(out.pooler_output.float())
    return torch.cat(rows)


def target_features(
    model: Any, mean: Sequence[float], std: Sequence[float], data: Any,
    pixels: Callable[[int], Any] | None = None, batch: int = 64,
) -> Any:  # fmt: skip
    """N x H numpy array: for each example of ``data`` (answers with a point), the projected
    feature of the image token under its point (`Dataset.cells`; `token_features`)."""
    import torch

    feats = token_features(model, mean, std, data, pixels, batch)
    return feats[torch.arange(len(feats)), data.cells].numpy()


def add_example_args(parser: Any, examples: int, spotlight: bool = True) -> None:
    """The options the model benchmarks share: ``--data`` (default: `collect_ui`, collected
    into a scratch folder), ``--examples``, ``--threads`` and (``spotlight``) ``--spotlight``."""
    parser.add_argument("--data", help="a folder from `agent-sdk collect` (default: GUI suite "
                        "examples on held-out seeds, collected now)")  # fmt: skip
    parser.add_argument("--examples", type=int, default=examples)
    parser.add_argument("--threads", type=int, default=1)
    if spotlight:
        parser.add_argument("--spotlight", action="store_true", help="spotlit images (easy case)")


def episode_model(parser: Any) -> tuple[Any, Any, Any]:
    """Parse the options the episode benchmarks share (``--model``, ``--episodes``,
    ``--threads``, with any the caller added) and load that model on the CPU: the parsed
    arguments, the model folder and the backend."""
    import torch

    from perception import load_vlm
    from perception.zoo import model_or_default

    parser.add_argument("--model", default=None, help="checkpoint (default: the shipped model)")
    parser.add_argument("--episodes", type=int, default=10, help="seeds per task, from 0")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = model_or_default(args.model)
    return args, model, load_vlm(model, device="cpu")


def time_trainer_starts(
    base: Any, ways: dict[str, Callable[[int], dict[str, Any]]], tmp: Path, repeats: int,
    built: Callable[[Any], Any], what: str,
) -> dict[str, Any]:  # fmt: skip
    """Build ``agent_sdk.train.Trainer`` from the config ``base`` each of ``ways`` a round (the
    config fields ``ways[name](round)`` changes), in ``repeats`` rounds. Prints the median
    seconds of each and the ratio of the first way's to it, and whether ``built(trainer)`` (a
    tensor) came out the same every way; returns those figures (``examples``, ``seconds``,
    ``median_s``, ``same``)."""
    import dataclasses

    import torch

    from agent_sdk.train import Trainer

    seconds: dict[str, list[float]] = {way: [] for way in ways}
    examples, same, first = 0, True, next(iter(ways))
    for r in range(repeats):
        outputs = {}
        for way, changes in ways.items():
            start = time.perf_counter()
            trainer = Trainer(dataclasses.replace(base, **changes(r)),
                              tmp / f"run-{r}-{way.replace(' ', '-')}")  # fmt: skip
            seconds[way].append(time.perf_counter() - start)
            outputs[way], examples = built(trainer), len(trainer.data)
            del trainer
        same &= all(torch.equal(outputs[first], o) for o in outputs.values())
    medians = {way: statistics.median(s) for way, s in seconds.items()}
    print_table(
        ["start", "seconds (median)", f"x {first}"],
        [[way, f"{medians[way]:.1f}", f"{medians[first] / medians[way]:.2f}"] for way in ways],
        title=f"Trainer start, {what}, {examples} examples ({repeats} rounds); "
        f"the same every way: {same}",
    )
    return {"examples": examples, "seconds": seconds, "median_s": medians, "same": same}


def time_cached_starts(
    base: Any, field: str, tmp: Path, repeats: int, built: Callable[[Any], Any], what: str
) -> dict[str, Any]:
    """`time_trainer_starts` with no cache, an empty one (filled as it starts) and that filled
    one, the cache's folder given as the config's ``field``."""
    ways: dict[str, Callable[[int], dict[str, Any]]] = {
        "no cache": lambda r: {field: None},
        "cache written": lambda r: {field: str(tmp / f"cache-{r}")},
        "cache read": lambda r: {field: str(tmp / f"cache-{r}")},
    }
    return time_trainer_starts(base, ways, tmp, repeats, built, what)
