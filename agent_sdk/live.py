"""Running the agent from the command line: build the pieces, show each step, save the run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image
from rich.console import Console

from actions.guard import Guard, GuardConfig
from agent_sdk.agent import Agent
from agent_sdk.errors import ConfigError
from agent_sdk.events import (
    ActionEvent,
    AgentEvent,
    ApprovalRequest,
    EndEvent,
    GuardEvent,
    ModelEvent,
    ResultEvent,
)
from agent_sdk.policies import Policy, RandomPolicy, VLMPolicy
from agent_sdk.records import Trajectory


def make_policy(model: Path | None, policy: str, seed: int) -> Policy:
    """``vlm`` (``model``, else the shipped model) or ``random``."""
    if policy == "random":
        return RandomPolicy(seed)
    if policy != "vlm":
        raise ConfigError(f"--policy must be vlm or random, got {policy!r}")
    from perception.base import load_vlm
    from perception.zoo import model_or_default

    return VLMPolicy(load_vlm(model_or_default(model)))


def make_guard(dry_run: bool, approve_all: bool) -> Guard:
    """The default guard; with ``approve_all`` every action waits for a person's yes."""
    rules = (lambda action: "--approve asks before every action",) if approve_all else ()
    return Guard(GuardConfig(dry_run=dry_run), require_approval=rules)


def show(console: Console, event: AgentEvent) -> None:
    """One line (or a few) per event, as the episode runs."""
    if isinstance(event, ModelEvent):
        ms = event.timings.get("ttft_s")
        ttft = f" [dim](ttft {ms * 1000:.0f} ms)[/]" if ms else ""
        text = event.text if event.text is not None else "-"
        console.print(f"[bold]step {event.step}[/] model: {text!r}{ttft}", highlight=False)
        if event.error:
            console.print(f"  [red]{event.error}[/]", highlight=False)
    elif isinstance(event, ActionEvent) and event.action is not None:
        console.print(f"  action: [cyan]{event.action.to_text()}[/]", highlight=False)
    elif isinstance(event, GuardEvent) and not event.verdict.allowed:
        console.print(f"  [yellow]guard refused: {event.verdict.reason}[/]", highlight=False)
    elif isinstance(event, ResultEvent):
        r = event.result
        note = f" [red]{r.error}[/]" if r.error else ""
        console.print(f"  result: reward {r.reward:g}, success {r.success}{note}", highlight=False)


def run_live(
    agent: Agent,
    env: Any,
    console: Console,
    confirm: Callable[[ApprovalRequest], bool],
    seed: int | None = None,
    instruction: str | None = None,
) -> Trajectory:
    """Stream an episode, asking ``confirm`` at each approval pause, until it ends."""
    events = agent.stream_episode(env, seed, instruction=instruction)
    while True:
        pending: ApprovalRequest | None = None
        for event in events:
            show(console, event)
            if isinstance(event, EndEvent):
                return event.trajectory
            if isinstance(event, ApprovalRequest):
                pending = event
        if pending is None:
            raise ConfigError("the episode stopped without ending or asking for approval")
        events = agent.stream_resume(pending.thread_id, confirm(pending))


def save_trajectory(traj: Trajectory, out: Path) -> Path:
    """``out/trajectory.json`` (steps without pixels) and one PNG per step's observation."""
    out.mkdir(parents=True, exist_ok=True)
    steps = []
    for s in traj.steps:
        image = None
        if s.image is not None:
            image = f"step_{s.step:03d}.png"
            Image.fromarray(s.image).save(out / image)
        guard = s.guard and {"allowed": s.guard.allowed, "reason": s.guard.reason}
        result = s.result and {
            "reward": s.result.reward, "success": s.result.success, "error": s.result.error
        }  # fmt: skip
        steps.append({
            "step": s.step, "image": image, "model_text": s.model_text, "action": s.action_text,
            "guard": guard, "result": result, "timings": s.timings, "error": s.error,
            "wall_s": s.wall_s,
        })  # fmt: skip
    record = {"instruction": traj.instruction, "success": traj.success, "end": traj.end,
              "return": traj.return_, "steps": steps}  # fmt: skip
    path = out / "trajectory.json"
    path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    return path
