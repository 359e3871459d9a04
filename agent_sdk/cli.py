"""The ``agent-sdk`` command line.

Usage::

    agent-sdk demo                         # the oracle agent over the GUI suite, success table
    agent-sdk demo --episodes 200 --width 1280 --height 800
    agent-sdk eval --suite ui --policy vlm --model DIR --episodes 50 --workers 2 --out runs/NAME
    agent-sdk eval --env agent_sdk/ui-click-button-v0 --policy random --out runs/r --resume
    agent-sdk report runs/NAME             # summary table, summary.json/.csv and report.html
    agent-sdk envs                         # every registered env id and what it asks
    agent-sdk schema                       # the action JSON schema (tool schema for LLMs)
    agent-sdk parse 'click(512, 300)'      # what the SDK makes of a model's answer
    agent-sdk ask shot.png "What is on screen?" --model DIR [--stream]
    agent-sdk convert APPLE_DIR HF_DIR     # Apple's llava_qwen2 folder -> Hugging Face fast_vlm
    agent-sdk convert HF_DIR MLX_DIR --to mlx   # any PyTorch folder -> mlx-vlm (Apple silicon)
    agent-sdk run "Open the File menu" --model DIR --dry-run   # the agent on the live screen
    agent-sdk run --env agent_sdk/ui-click-button-v0 --policy random
    agent-sdk collect --suite ui --episodes 200 --out data/ui   # oracle demonstrations
    agent-sdk train --config small --data data/ui --out ckpt/small [--resume]
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from agent_sdk.errors import SDK_ERRORS, ConfigError
from agent_sdk.robot import DEFAULT_PERCEIVE_EVERY, DEFAULT_REPLAN_DISTANCE, VLM_REPLAN_DISTANCE

if TYPE_CHECKING:
    from agent_sdk.evaluate import EpisodeRecord, EvalConfig, TaskSummary
    from agent_sdk.report import Run

app = typer.Typer(
    name="agent-sdk",
    help="Agents that see through FastVLM and act on screens and robots.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


_MODEL_HELP = "a local FastVLM checkpoint folder (default: the shipped model)"


def _fail(err: Exception) -> typer.Exit:
    Console(stderr=True).print(f"[bold red]error:[/] {err}", highlight=False, markup=True)
    return typer.Exit(code=2)


class _EvalBars:
    """Rich progress bars for :func:`agent_sdk.evaluate.evaluate`: one per env and one for all,
    each with its successes, errors and ETA."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("[green]{task.fields[ok]} ok[/] [red]{task.fields[err]} err[/]"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True,
        )  # fmt: skip
        self.bars: dict[str, TaskID] = {}

    def __enter__(self) -> _EvalBars:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def start(self, total: Mapping[str, int], done: Mapping[str, int]) -> None:
        for env_id, n in {"all": sum(total.values()), **total}.items():
            completed = sum(done.values()) if env_id == "all" else done[env_id]
            self.bars[env_id] = self.progress.add_task(
                env_id, total=n, completed=completed, ok=0, err=0
            )

    def advance(self, record: EpisodeRecord) -> None:
        for env_id in ("all", record.env_id):
            fields = self.progress.tasks[self.bars[env_id]].fields
            self.progress.update(
                self.bars[env_id], advance=1, ok=fields["ok"] + record.success,
                err=fields["err"] + (record.error is not None),
            )  # fmt: skip


def _summary_table(rows: Sequence[TaskSummary], title: str) -> Table:
    def ms(seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds * 1000:.1f} ms"

    table = Table(title=title)
    for col in ("env id", "episodes", "success", "95% CI", "failures", "errors", "steps",
                "step p50", "step p90", "TTFT p50"):  # fmt: skip
        table.add_column(col, justify="right", overflow="fold")  # wrap, never cut
    env_col = table.columns[0]  # ids in full: the other columns wrap first
    env_col.justify, env_col.no_wrap = "left", True
    env_col.min_width = max((len(r.env_id) for r in rows), default=6)
    for r in rows:
        if r.env_id == "all":
            table.add_section()
        table.add_row(
            r.env_id, str(r.episodes), f"{r.success_rate:.1%}", f"{r.ci_low:.2f}-{r.ci_high:.2f}",
            str(r.failures), str(r.errors), f"{r.mean_steps:.1f}", ms(r.step_p50_s),
            ms(r.step_p90_s), ms(r.ttft_p50_s),
        )  # fmt: skip
    return table


def _run_eval(
    config: EvalConfig, out: Path, console: Console, workers: int = 1,
    ray: str | None = None, resume: bool = False,
) -> list[EpisodeRecord]:  # fmt: skip
    """Run an eval with progress bars; Ctrl-C says how to go on."""
    from agent_sdk.evaluate import evaluate

    try:
        with _EvalBars(console) as bars:
            return evaluate(
                config, out, workers=workers, ray_address=ray, resume=resume, progress=bars
            )
    except KeyboardInterrupt:
        console.print(f"interrupted; the finished episodes are in {out}: add --resume to go on")
        raise typer.Exit(code=130) from None


@app.command()
def demo(
    episodes: Annotated[int, typer.Option(min=1, help="episodes per task")] = 20,
    seed: Annotated[int, typer.Option(help="seed of the first episode")] = 0,
    width: Annotated[int | None, typer.Option(help="screen width (default: the env's)")] = None,
    height: Annotated[int | None, typer.Option(help="screen height (default: the env's)")] = None,
    suite: Annotated[str, typer.Option(help="suite name: ui, miniwob or robot")] = "ui",
    policy: Annotated[
        str,
        typer.Option(help="vlm (the shipped model unless --model), oracle, point-oracle or random"),
    ] = "vlm",
    model: Annotated[Path | None, typer.Option(help=_MODEL_HELP)] = None,
    out: Annotated[
        Path | None, typer.Option(help="the run folder (default: a new runs/demo-TIME)")
    ] = None,
) -> None:
    """Run the agent over a suite with the shipped FastVLM: success table and report."""
    from agent_sdk.evaluate import EvalConfig, resolve_env_ids
    from agent_sdk.report import load_run, write_report, write_summary

    console = Console()
    try:
        config = EvalConfig(
            env_ids=resolve_env_ids(suite), policy=policy,  # type: ignore[arg-type]
            model=_model_for(policy, model), episodes=episodes, seed=seed,
            env_kwargs={k: v for k, v in (("width", width), ("height", height)) if v},
            suite=suite,
        )  # fmt: skip
        out = out or Path("runs") / time.strftime("demo-%Y%m%d-%H%M%S")
        _run_eval(config, out, console)
        run = load_run(out)
        paths = [out / "episodes.jsonl", *write_summary(run), write_report(run)]
    except SDK_ERRORS as err:
        raise _fail(err) from err
    _show_run(console, run, paths)


def _model_for(policy: str, model: Path | None) -> str | None:
    """The checkpoint of a ``vlm`` policy: ``model``, else the shipped default."""
    if policy != "vlm":
        return None if model is None else str(model)
    from perception.zoo import model_or_default

    return str(model_or_default(model))


def _print_table(console: Console, table: Table) -> None:
    """In a terminal as wide as it is; into a file or a CI log at the table's own width."""
    if not console.is_terminal:
        natural = console.measure(table, options=console.options.update_width(1000)).maximum
        console = Console(file=console.file, width=max(natural, console.width))
    console.print(table)


def _show_run(console: Console, run: Run, paths: Sequence[Path]) -> None:
    _print_table(console, _summary_table(run.summary(), f"{run.title}, {run.path}"))
    console.print("wrote " + ", ".join(map(str, paths)), highlight=False)


def _env_kwargs(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values are read as JSON when they parse (``640``, ``true``)."""
    kwargs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--env-arg takes KEY=VALUE, got {pair!r}")
        try:
            kwargs[key] = json.loads(value)
        except ValueError:
            kwargs[key] = value
    return kwargs


@app.command("eval")
def eval_(
    out: Annotated[Path, typer.Option(help="the run folder (episodes, summaries, report)")],
    suite: Annotated[str | None, typer.Option(help="a suite of envs (default ui)")] = None,
    env: Annotated[
        list[str] | None, typer.Option(help="env ids instead of a suite (repeat or a,b,c)")
    ] = None,
    policy: Annotated[
        str, typer.Option(help="vlm, oracle, point-oracle (robots: the expert's points) or random")
    ] = "vlm",
    model: Annotated[Path | None, typer.Option(help=_MODEL_HELP)] = None,
    episodes: Annotated[int, typer.Option(min=1, help="episodes per env")] = 50,
    seed: Annotated[int, typer.Option(help="seed of each env's first episode")] = 0,
    max_steps: Annotated[
        int | None, typer.Option(min=1, help="the agent's step budget (default: the env's)")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="processes (1: this one) or Ray actors")] = 1,
    resume: Annotated[bool, typer.Option(help="continue the run in --out")] = False,
    ray: Annotated[
        str | None, typer.Option(help="run on Ray: 'local' or a cluster address")
    ] = None,
    save_trajectories: Annotated[
        int, typer.Option(min=0, help="episodes per env whose steps and screenshots are kept")
    ] = 3,
    env_arg: Annotated[
        list[str] | None, typer.Option(help="KEY=VALUE passed to gym.make (repeat)")
    ] = None,
    perceive_every: Annotated[
        int, typer.Option(min=1, help="robot envs: simulator steps per policy call")
    ] = DEFAULT_PERCEIVE_EVERY,
    replan_distance: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="robot envs: an answer this near the plan in flight (fraction of the image) "
            f"continues it (default: {VLM_REPLAN_DISTANCE} for --policy vlm, else "
            f"{DEFAULT_REPLAN_DISTANCE})",
        ),
    ] = None,
    grammar: Annotated[
        bool,
        typer.Option(
            help="--policy vlm: decode under the action grammar, so every answer is an action "
            "(--no-grammar: the model writes freely and bad answers are re-asked)"
        ),
    ] = True,
) -> None:
    """Evaluate a policy over a suite: seeded episodes, a summary table, files and a report.

    Suites: ui (the GUI suite), miniwob (MiniWoB++ in Chromium), robot (Fetch in MuJoCo)."""
    from agent_sdk.evaluate import EvalConfig, resolve_env_ids
    from agent_sdk.report import load_run, write_report, write_summary

    console = Console()
    try:
        config = EvalConfig(
            env_ids=resolve_env_ids(suite, env or ()), policy=policy,  # type: ignore[arg-type]
            model=_model_for(policy, model), episodes=episodes, seed=seed,
            max_steps=max_steps, env_kwargs=_env_kwargs(env_arg or ()),
            save_trajectories=save_trajectories, suite=None if env else suite or "ui",
            perceive_every=perceive_every, replan_distance=replan_distance, grammar=grammar,
        )  # fmt: skip
        _run_eval(config, out, console, workers, ray, resume)
        run = load_run(out)
        paths = [out / "episodes.jsonl", *write_summary(run), write_report(run)]
    except SDK_ERRORS as err:
        raise _fail(err) from err
    _show_run(console, run, paths)


@app.command()
def report(
    out: Annotated[Path, typer.Argument(help="a run folder written by `agent-sdk eval`")],
) -> None:
    """Write the summaries and the HTML report of an eval run, and print its table."""
    from agent_sdk.report import load_run, write_report, write_summary

    try:
        run = load_run(out)
        paths = [*write_summary(run), write_report(run)]
    except SDK_ERRORS as err:
        raise _fail(err) from err
    _show_run(Console(), run, paths)


@app.command("envs")
def list_envs() -> None:
    """List every registered env id with its task summary and step budget."""
    from envs import SUITES
    from envs.ui.tasks import TASK_NAMES, get_task

    table = Table(title="Environments")
    for col in ("env id", "max steps", "task"):
        table.add_column(col)
    for env_id, name in zip(SUITES["ui"], TASK_NAMES, strict=True):
        task = get_task(name)
        table.add_row(env_id, str(task.max_steps), task.summary)
    Console().print(table)


@app.command()
def schema() -> None:
    """Print the JSON schema of one action (the tool schema text LLMs get)."""
    from actions.schema import tool_schema

    sys.stdout.write(json.dumps(tool_schema(), indent=2) + "\n")


@app.command()
def parse(
    text: Annotated[str, typer.Argument(help="a model's answer, e.g. 'click(512, 300)'")],
    width: Annotated[int | None, typer.Option(help="image width, for pixel coordinates")] = None,
    height: Annotated[int | None, typer.Option(help="image height, for pixel coordinates")] = None,
) -> None:
    """Parse a model's answer into an action and print its JSON."""
    from actions.parse import parse_action

    size = (width, height) if width and height else None
    try:
        action = parse_action(text, image_size=size)
    except SDK_ERRORS as err:
        raise _fail(err) from err
    sys.stdout.write(action.to_json() + "\n")


@app.command()
def ask(
    image: Annotated[Path, typer.Argument(help="an image file (PNG, JPEG, ...)")],
    question: Annotated[str, typer.Argument(help="what to ask about it")],
    model: Annotated[Path | None, typer.Option(help=_MODEL_HELP)] = None,
    stream: Annotated[bool, typer.Option(help="print the answer as it is generated")] = False,
    max_new_tokens: Annotated[int, typer.Option(min=1)] = 128,
    temperature: Annotated[float, typer.Option(min=0.0)] = 0.0,
    backend: Annotated[str, typer.Option(help="auto, torch or mlx")] = "auto",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1, mps; MLX: gpu")] = "auto",
    dtype: Annotated[str, typer.Option(help="auto, float32, bfloat16, float16")] = "auto",
) -> None:
    """Ask a FastVLM checkpoint about an image; prints the answer and where the time went."""
    from perception.base import load_vlm
    from perception.zoo import model_or_default

    try:
        vlm = load_vlm(model_or_default(model), backend=backend, device=device, dtype=dtype)  # type: ignore[arg-type]
        if stream:
            for piece in vlm.stream(
                image, question, max_new_tokens=max_new_tokens, temperature=temperature
            ):
                sys.stdout.write(piece)
                sys.stdout.flush()
            sys.stdout.write("\n")
            gen = vlm.last_generation  # type: ignore[attr-defined]
        else:
            gen = vlm.generate(
                image, question, max_new_tokens=max_new_tokens, temperature=temperature
            )
            sys.stdout.write(gen.text + "\n")
    except SDK_ERRORS as err:
        raise _fail(err) from err
    t = gen.timings
    table = Table(title=f"{vlm.name} on {vlm.backend}/{vlm.device}/{vlm.dtype}", show_header=False)
    for label, value in (
        ("image tokens", f"{t.num_image_tokens}"),
        ("prompt tokens", f"{t.num_prompt_tokens}"),
        ("preprocess", f"{t.preprocess_s * 1000:.1f} ms"),
        ("vision encode", f"{t.vision_encode_s * 1000:.1f} ms"),
        ("prefill", f"{t.prefill_s * 1000:.1f} ms"),
        ("time to first token", f"{t.ttft_s * 1000:.1f} ms"),
        ("decode", f"{t.num_generated_tokens} tokens, {t.decode_tokens_per_s:.1f} tokens/s"),
        ("finish", gen.finish_reason),
    ):
        table.add_row(label, value)
    Console(stderr=True).print(table)


@app.command()
def convert(
    src: Annotated[Path, typer.Argument(help="a checkpoint folder (apple or hf layout)")],
    dst: Annotated[Path, typer.Argument(help="where to write the converted folder")],
    to: Annotated[str, typer.Option(help="target layout: hf, apple or mlx")] = "hf",
    overwrite: Annotated[bool, typer.Option(help="replace a non-empty DST")] = False,
    dtype: Annotated[
        str | None, typer.Option(help="cast the weights: float32, float16 or bfloat16")
    ] = None,
) -> None:
    """Convert a checkpoint folder once to disk (Apple -> Hugging Face, or either -> MLX)."""
    from perception.checkpoints import convert_checkpoint

    try:
        out = convert_checkpoint(src, dst, to=to, overwrite=overwrite, dtype=dtype)
    except SDK_ERRORS as err:
        raise _fail(err) from err
    Console().print(f"wrote {out}")


@app.command()
def run(
    instruction: Annotated[str, typer.Argument(help="what the agent should do")] = "",
    model: Annotated[Path | None, typer.Option(help=_MODEL_HELP)] = None,
    policy: Annotated[str, typer.Option(help="vlm or random")] = "vlm",
    env: Annotated[
        str | None, typer.Option(help="a Gymnasium env id instead of the screen")
    ] = None,
    seed: Annotated[int, typer.Option(help="env seed (with --env)")] = 0,
    dry_run: Annotated[bool, typer.Option(help="decide and record, execute nothing")] = False,
    approve: Annotated[bool, typer.Option(help="ask before every action")] = False,
    monitor: Annotated[int, typer.Option(help="mss monitor number (1 = primary)")] = 1,
    max_steps: Annotated[int, typer.Option(min=1)] = 20,
    out: Annotated[Path, typer.Option(help="where the trajectory is saved")] = Path("runs/live"),
) -> None:
    """Run the agent on the live screen (or on a Gymnasium env) and show each step."""
    from agent_sdk.agent import Agent
    from agent_sdk.live import make_guard, make_policy, run_live, save_trajectory

    console = Console()
    try:
        guard = make_guard(dry_run, approve)
        agent = Agent(make_policy(model, policy, seed), guard=guard, max_steps=max_steps)
        if env is not None:
            import gymnasium as gym

            target = gym.make(env)
        else:
            from actions.desktop import ScreenSource
            from envs.desktop import DesktopEnv

            # the env enforces the rules again right before executing (its own budget count)
            env_guard = make_guard(dry_run, approve_all=False)
            target = DesktopEnv(instruction, source=ScreenSource(monitor=monitor), guard=env_guard)
        if not instruction and env is None:
            raise _fail(ValueError("give an INSTRUCTION for the live screen"))

        def confirm(request) -> bool:  # type: ignore[no-untyped-def]
            return typer.confirm(f"execute {request.action}? ({request.reason})", default=False)

        traj = run_live(agent, target, console, confirm, seed, instruction or None)
    except SDK_ERRORS as err:
        raise _fail(err) from err
    path = save_trajectory(traj, out)
    verdict = "[green]success[/]" if traj.success else "[red]no success[/]"
    console.print(f"{verdict} after {len(traj.steps)} steps ({traj.end}); saved {path}")


def _size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise ConfigError(f"--size takes WIDTHxHEIGHT (e.g. 320x240), got {text!r}")
    return int(width), int(height)


@app.command()
def collect(
    out: Annotated[Path, typer.Option(help="the data folder (tar shards + manifest.json)")],
    suite: Annotated[str | None, typer.Option(help="a suite of envs (default ui)")] = None,
    env: Annotated[
        list[str] | None, typer.Option(help="env ids instead of a suite (repeat or a,b,c)")
    ] = None,
    episodes: Annotated[int, typer.Option(min=1, help="oracle episodes per env")] = 100,
    seed: Annotated[int, typer.Option(help="seed of each env's first episode")] = 100_000,
    noise: Annotated[
        float | None,
        typer.Option(help="chance a step clicks at random (recovery; 0.1, with --learner 0)"),
    ] = None,
    robot_points: Annotated[
        bool, typer.Option(help="robots: answer with point targets where the task has them")
    ] = True,
    size: Annotated[
        list[str] | None, typer.Option(help="screen sizes WxH to draw from (repeat)")
    ] = None,
    env_arg: Annotated[
        list[str] | None, typer.Option(help="KEY=VALUE passed to gym.make (repeat)")
    ] = None,
    max_steps: Annotated[
        int | None,
        typer.Option(min=1, help="steps per episode (default: the env's budget)"),
    ] = None,
    refer: Annotated[
        int,
        typer.Option(
            min=0,
            help="per screen, up to N 'click the named element' examples "
            "instead of the oracle's answer (GUI suite, MiniWoB++)",
        ),
    ] = 0,
    learner: Annotated[
        Path | None,
        typer.Option(
            help="a checkpoint folder that plays the episodes (as `eval` does) while the oracle "
            "labels every state it reaches (DAgger); --max-steps then counts its policy calls"
        ),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="replace a data set in --out")] = False,
) -> None:
    """Roll out the oracle experts and write training examples (image, prompt, action)."""
    from agent_sdk.collect import CollectConfig
    from agent_sdk.collect import collect as run_collect
    from agent_sdk.evaluate import resolve_env_ids

    console = Console()
    try:
        config = CollectConfig(
            env_ids=resolve_env_ids(suite, env or ()), episodes=episodes, seed=seed,
            noise=(0.0 if learner else 0.1) if noise is None else noise,
            sizes=tuple(_size(s) for s in size or ()), robot_points=robot_points,
            env_kwargs=_env_kwargs(env_arg or ()), max_steps=max_steps, refer=refer,
            learner=None if learner is None else str(learner),
        )  # fmt: skip
        bar = Progress(
            TextColumn("collect"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[examples]} examples, {task.fields[ok]} ok"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True,
        )  # fmt: skip
        with bar:
            task = bar.add_task("collect", total=len(config.env_ids) * episodes, examples=0, ok=0)

            def advance(env_id: str, success: bool, n: int) -> None:
                fields = bar.tasks[task].fields
                bar.update(task, advance=1, examples=fields["examples"] + n,
                           ok=fields["ok"] + success)  # fmt: skip

            manifest = run_collect(config, out, overwrite=overwrite, progress=advance)
    except SDK_ERRORS as err:
        raise _fail(err) from err
    episodes_ok = sum(v["successes"] for v in manifest["per_env"].values())
    console.print(
        f"wrote {manifest['examples']} examples in {len(manifest['shards'])} shards to {out} "
        f"({'learner' if learner else 'oracle'} success {episodes_ok}/"
        f"{len(config.env_ids) * episodes}, hash {manifest['hash']})"
    )
    for skip in manifest.get("skipped", []):
        console.print(f"skipped {skip['env_id']} seed {skip['seed']}: {skip['error']}")


@app.command()
def train(
    out: Annotated[Path, typer.Option(help="the checkpoint folder (loadable at every save)")],
    data: Annotated[
        list[Path],
        typer.Option(
            help="data folders from `agent-sdk collect`; a folder named n times gets n shares "
            "of the batches (held in memory once)"
        ),
    ],
    config: Annotated[str, typer.Option(help="model size: tiny, small or base")] = "small",
    init: Annotated[Path | None, typer.Option(help="fine-tune this FastVLM folder instead")] = None,
    image_size: Annotated[
        int | None,
        typer.Option(
            min=64,
            help="the model's input side in px, a multiple of 64 (one image token per 64 px); "
            "default: --init's, or the --config size's",
        ),
    ] = None,
    lora: Annotated[int, typer.Option(min=0, help="LoRA rank with --init (0: full)")] = 0,
    unfold_tower: Annotated[
        bool,
        typer.Option(
            help="with --init: train the vision tower in timm's train-time form "
            "(BatchNorm branches), unfolded from the folder's re-parameterised one"
        ),
    ] = False,
    freeze_tower: Annotated[
        bool,
        typer.Option(
            help="with --init: keep the vision tower as it is and compute each image's "
            "features once (each batch's anew while --spotlight or --ground changes pixels); "
            "the projector and LLM train, several times faster on the CPU"
        ),
    ] = False,
    feature_cache: Annotated[
        Path | None,
        typer.Option(
            help="with --freeze-tower: a folder keeping the tower's features per data folder "
            "and tower, so a resume or another run from the same --init reads them back "
            "instead of running the tower over every image again"
        ),
    ] = None,
    image_cache: Annotated[
        Path | None,
        typer.Option(
            help="a folder keeping the run's images as the model takes them (decoded, padded, "
            "resized, packed), so a --resume or another run on the same data and image size "
            "reads them back instead of preparing every image again"
        ),
    ] = None,
    shrink_llm: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="with --init: keep this share of the LLM's weights and take the rest from a "
            "new init (shrink and perturb: a long-trained LLM learns new circuits, copying "
            "text, slowly); 1 keeps it, 0 starts it anew",
        ),
    ] = 1.0,
    number_tokens: Annotated[
        bool, typer.Option(help="one token per coordinate value 10..1000 (not one per digit)")
    ] = False,
    word_tokens: Annotated[
        int,
        typer.Option(
            min=0, help="one token per instruction word found in >= N instructions (0: off)"
        ),
    ] = 0,
    steps: Annotated[int, typer.Option(min=1)] = 2000,
    batch_size: Annotated[int, typer.Option(min=1)] = 32,
    lr: Annotated[float, typer.Option(help="peak learning rate")] = 1e-3,
    warmup: Annotated[int, typer.Option(min=0)] = 100,
    pointer_weight: Annotated[
        float,
        typer.Option(min=0.0, help="weight of the pointing loss (grounding signal)"),
    ] = 0.0,
    end_pointer_weight: Annotated[
        float,
        typer.Option(min=0.0, help="weight of the pointing loss at drags' end points (pushes)"),
    ] = 0.0,
    cell_words: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="weight of the loss teaching the target's image feature the instruction's words",
        ),
    ] = 0.0,
    screen_labels: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="weight of the loss teaching the image features the words of the elements "
            "under them (rendered screens of --screen-suite)",
        ),
    ] = 0.0,
    screen_places: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="weight of the loss teaching the image features where inside its token each "
            "element lies alone there (on the --screen-labels screens)",
        ),
    ] = 0.0,
    screen_count: Annotated[
        int, typer.Option(min=1, help="labelled screens rendered for --screen-labels")
    ] = 4000,
    screen_batch: Annotated[
        int, typer.Option(min=1, help="labelled screens per step (the vision tower only)")
    ] = 8,
    screen_suite: Annotated[
        list[str] | None,
        typer.Option(
            help="suite whose screens --screen-labels renders: ui (default), miniwob, robot "
            "(camera images: gripper, block, red target); repeat"
        ),
    ] = None,
    screen_env: Annotated[
        list[str] | None,
        typer.Option(
            help="env id whose screens --screen-labels renders, instead of --screen-suite; "
            "repeat (an id given twice gets twice the screens)"
        ),
    ] = None,
    vision_from: Annotated[
        Path | None,
        typer.Option(
            help="with --init: take this checkpoint's vision tower and projector (a "
            "--tower-warmup run's, say) and keep --init's LLM"
        ),
    ] = None,
    tower_warmup: Annotated[
        int,
        typer.Option(
            min=0,
            help="first steps that train the vision tower and projector alone on the "
            "--screen-labels screens (the LLM waits): a vision pretraining stage",
        ),
    ] = 0,
    spotlight: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="chance an example shows its target only")
    ] = 0.0,
    spotlight_end: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="that chance at the end (linear)")
    ] = None,
    spotlight_max: Annotated[
        int,
        typer.Option(
            min=10, help="largest half-side of the kept box in model pixels (>32: with neighbours)"
        ),
    ] = 32,
    ground: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="chance a pointing example is asked as a grounding one"
        ),
    ] = 0.0,
    ground_end: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="that chance at the end (linear)")
    ] = None,
    copy_text: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="chance typed text gets new letters (the answer must copy it)"
        ),
    ] = 0.0,
    copy_batch: Annotated[
        int,
        typer.Option(
            min=0,
            help="typing examples added to each step, all with new letters (a copying drill)",
        ),
    ] = 0,
    seed: Annotated[int, typer.Option()] = 0,
    precision: Annotated[str, typer.Option(help="auto (bf16 on CUDA), fp32 or bf16")] = "auto",
    channels_last: Annotated[bool, typer.Option(help="channels_last vision tower")] = True,
    compile: Annotated[bool, typer.Option(help="torch.compile the vision tower")] = False,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1, mps")] = "auto",
    threads: Annotated[
        int | None, typer.Option(min=1, help="CPU threads (1 on a busy machine)")
    ] = None,
    data_threads: Annotated[
        int,
        typer.Option(
            min=1,
            help="N > 1: N worker processes read and pack the data at the start, and N threads "
            "decode each batch's images (to feed an accelerator)",
        ),
    ] = 1,
    save_every: Annotated[int, typer.Option(min=1)] = 200,
    eval_every: Annotated[int, typer.Option(min=0, help="steps between evals (0: at the end)")] = 0,
    eval_episodes: Annotated[int, typer.Option(min=0, help="per env; 0: no eval")] = 2,
    eval_suite: Annotated[str, typer.Option(help="suite evaluated during training")] = "ui",
    resume: Annotated[bool, typer.Option(help="continue the run in --out")] = False,
) -> None:
    """Train (or fine-tune) a FastVLM on collected examples; resumable, evaluated as it goes."""
    from agent_sdk.train import TrainConfig
    from agent_sdk.train import train as run_train

    console = Console()
    try:
        cfg = TrainConfig(
            data=tuple(map(str, data)), size=config, init=None if init is None else str(init),
            image_size=image_size, lora_rank=lora, unfold_tower=unfold_tower,
            freeze_tower=freeze_tower,
            feature_cache=None if feature_cache is None else str(feature_cache),
            image_cache=None if image_cache is None else str(image_cache),
            shrink_llm=shrink_llm,
            number_tokens=number_tokens,
            word_tokens=word_tokens, steps=steps,
            batch_size=batch_size,
            lr=lr, warmup=warmup, seed=seed,
            pointer_weight=pointer_weight, end_pointer_weight=end_pointer_weight,
            cell_words=cell_words, spotlight=spotlight,
            screen_labels=screen_labels, screen_places=screen_places, screen_count=screen_count,
            screen_batch=screen_batch,
            screen_suites=tuple(screen_suite or ("ui",)), screen_envs=tuple(screen_env or ()),
            tower_warmup=tower_warmup,
            vision_from=None if vision_from is None else str(vision_from),
            spotlight_end=spotlight_end,
            spotlight_max=spotlight_max, ground=ground, ground_end=ground_end, copy_text=copy_text,
            copy_batch=copy_batch,
            precision=precision,  # type: ignore[arg-type]
            channels_last=channels_last, device=device, threads=threads, compile=compile,
            data_threads=data_threads,
            save_every=save_every, eval_every=eval_every, eval_episodes=eval_episodes,
            eval_suite=eval_suite,
        )  # fmt: skip
        bar = Progress(
            TextColumn("train"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.3f} acc {task.fields[acc]:.2f} "
                       "{task.fields[rate]:.1f} samples/s {task.fields[ev]}"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=console,
        )  # fmt: skip
        with bar:
            task = bar.add_task("train", total=steps, loss=float("nan"), acc=0.0, rate=0.0, ev="")

            def show(p: Any) -> None:
                ev = (
                    f"eval {p.evals[-1]['success_rate']:.0%}@{p.evals[-1]['step']}"
                    if p.evals
                    else ""
                )
                bar.update(task, completed=p.step, loss=p.loss, acc=p.accuracy,
                           rate=p.samples_per_s, ev=ev)  # fmt: skip

            record = run_train(cfg, out, resume=resume, progress=show)
    except KeyboardInterrupt:
        console.print(f"interrupted; the last save is in {out}: add --resume to go on")
        raise typer.Exit(code=130) from None
    except SDK_ERRORS as err:
        raise _fail(err) from err
    last = record["loss_curve"][-1] if record["loss_curve"] else None
    evals = record["evals"][-1]["success_rate"] if record["evals"] else None
    console.print(
        f"{record['steps_done']} steps, loss {last[1]:.3f} " if last else "",
        f"eval success {evals:.1%}; " if evals is not None else "",
        f"saved {out} (run record {out / 'run.json'})",
        sep="",
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
