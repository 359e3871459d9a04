"""The ``agent-sdk`` command line.

Usage::

    agent-sdk demo                         # the oracle agent over the GUI suite, success table
    agent-sdk demo --episodes 200 --width 1280 --height 800
    agent-sdk envs                         # every registered env id and what it asks
    agent-sdk schema                       # the action JSON schema (tool schema for LLMs)
    agent-sdk parse 'click(512, 300)'      # what the SDK makes of a model's answer
    agent-sdk ask shot.png "What is on screen?" --model DIR [--stream]
    agent-sdk convert APPLE_DIR HF_DIR     # Apple's llava_qwen2 folder -> Hugging Face fast_vlm
    agent-sdk run "Open the File menu" --model DIR --dry-run   # the agent on the live screen
    agent-sdk run --env agent_sdk/ui-click-button-v0 --policy random
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from agent_sdk.errors import SDK_ERRORS

app = typer.Typer(
    name="agent-sdk",
    help="Agents that see through FastVLM and act on screens and robots.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _fail(err: Exception) -> typer.Exit:
    Console(stderr=True).print(f"[bold red]error:[/] {err}", highlight=False, markup=True)
    return typer.Exit(code=2)


@app.command()
def demo(
    episodes: Annotated[int, typer.Option(min=1, help="episodes per task")] = 50,
    seed: Annotated[int, typer.Option(help="seed of the first episode")] = 0,
    width: Annotated[int, typer.Option(help="screen width in pixels")] = 320,
    height: Annotated[int, typer.Option(help="screen height in pixels")] = 240,
    suite: Annotated[str, typer.Option(help="suite name")] = "ui",
) -> None:
    """Run the oracle agent over a suite and print the success table."""
    from agent_sdk.evaluate import evaluate, oracle_policy, summarize
    from envs import SUITES

    if suite not in SUITES:
        raise _fail(ValueError(f"unknown suite {suite!r}; known suites: {', '.join(SUITES)}"))
    env_ids = SUITES[suite]
    console = Console()
    try:
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeRemainingColumn(), console=console, transient=True,
        ) as progress:  # fmt: skip
            bar = progress.add_task("oracle", total=episodes * len(env_ids))
            records = evaluate(
                env_ids, oracle_policy, episodes, seed,
                env_kwargs={"width": width, "height": height}, policy_name="oracle",
                on_episode=lambda r: progress.update(bar, advance=1, description=r.env_id),
            )  # fmt: skip
    except SDK_ERRORS as err:
        raise _fail(err) from err
    table = Table(
        title=f"Oracle agent, {suite} suite, {width}x{height}, seeds {seed}..{seed + episodes - 1}"
    )
    for col in ("env id", "episodes", "success", "95% CI", "mean steps", "steps/s"):
        table.add_column(col, justify="left" if col == "env id" else "right")
    summaries = summarize(records)
    for s in summaries:
        lo, hi = s.interval
        table.add_row(
            s.env_id,
            str(s.episodes),
            f"{s.success_rate:.1%}",
            f"{lo:.2f}-{hi:.2f}",
            f"{s.mean_steps:.1f}",
            f"{s.steps_per_s:,.0f}",
        )
    total = sum(s.successes for s in summaries), sum(s.episodes for s in summaries)
    table.add_section()
    table.add_row("all", str(total[1]), f"{total[0] / total[1]:.1%}", "", "", "")
    console.print(table)


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
    model: Annotated[Path, typer.Option(help="a local FastVLM checkpoint folder")],
    stream: Annotated[bool, typer.Option(help="print the answer as it is generated")] = False,
    max_new_tokens: Annotated[int, typer.Option(min=1)] = 128,
    temperature: Annotated[float, typer.Option(min=0.0)] = 0.0,
    backend: Annotated[str, typer.Option(help="auto, torch or mlx")] = "auto",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1, mps")] = "auto",
    dtype: Annotated[str, typer.Option(help="auto, float32, bfloat16, float16")] = "auto",
) -> None:
    """Ask a FastVLM checkpoint about an image; prints the answer and where the time went."""
    from perception.base import load_vlm

    try:
        vlm = load_vlm(model, backend=backend, device=device, dtype=dtype)  # type: ignore[arg-type]
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
    src: Annotated[Path, typer.Argument(help="an Apple llava_qwen2 checkpoint folder")],
    dst: Annotated[Path, typer.Argument(help="where to write the Hugging Face fast_vlm folder")],
    to: Annotated[str, typer.Option(help="target layout")] = "hf",
    overwrite: Annotated[bool, typer.Option(help="replace a non-empty DST")] = False,
) -> None:
    """Convert a checkpoint folder once to disk (Apple's original layout -> Hugging Face)."""
    from perception.checkpoints import convert_checkpoint

    try:
        out = convert_checkpoint(src, dst, to=to, overwrite=overwrite)
    except SDK_ERRORS as err:
        raise _fail(err) from err
    Console().print(f"wrote {out}")


@app.command()
def run(
    instruction: Annotated[str, typer.Argument(help="what the agent should do")] = "",
    model: Annotated[Path | None, typer.Option(help="a local FastVLM checkpoint folder")] = None,
    policy: Annotated[str, typer.Option(help="vlm (needs --model) or random")] = "vlm",
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
