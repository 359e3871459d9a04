"""Referring examples (`agent-sdk collect --refer`): questions that name one element each."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from typer.testing import CliRunner

from actions.parse import parse_action
from actions.schema import Click
from agent_sdk.cli import app
from agent_sdk.collect import CollectConfig, read_examples
from agent_sdk.errors import ConfigError
from agent_sdk.prompting import step_prompt
from agent_sdk.refer import instruction, named_alone, referring_questions
from envs.contract import Element


def _el(role: str, text: str = "", x: float = 10, y: float = 10) -> Element:
    return Element(x, y, 20, 10, role, text)


def test_only_elements_a_name_picks_out_alone_are_asked_about() -> None:
    screen = [
        _el("button", "OK"), _el("button", "ok"),  # the same text twice: neither
        _el("button", "Save"), _el("field"),  # a field shows no name
        _el("circle", "red"), _el("square", "red"), _el("circle", "blue"), _el("circle", "blue"),
        _el("text", "Offline mode"), _el("text", "a paragraph of more than three words"),
    ]  # fmt: skip
    alone = named_alone(screen)
    assert [(e.role, e.text) for e in alone] == [
        ("button", "Save"), ("circle", "red"), ("square", "red"), ("text", "Offline mode"),
        ("text", "a paragraph of more than three words"),
    ]  # fmt: skip
    rng = np.random.default_rng(0)
    assert instruction(screen[-1], rng) is None  # too long to name it by
    assert instruction(screen[3], rng) is None
    assert instruction(_el("circle", "red"), rng) in (
        "Click the red circle.", "Find the red circle and click it.", "Select the red circle.",
    )  # fmt: skip
    under_a_dialog = Element(200, 10, 20, 10, "button", "Quit", covered=True)
    assert under_a_dialog in named_alone([under_a_dialog])  # it is named alone, but no
    assert referring_questions([under_a_dialog], 320, 240, 3, rng) == []  # click reaches it
    apart = [_el(e.role, e.text, x=30.0 * i, y=20.0 * i) for i, e in enumerate(screen)]
    asked = referring_questions(apart, 320, 240, 10, np.random.default_rng(1))
    assert len(asked) == 4 and len({text for text, _ in asked}) == 4
    for text, click in asked:  # each click at the centre of the one element its text names
        element = next(e for e in apart if (e.text in text) and (e.role in text or e.role in
                       ("button", "text")))  # fmt: skip
        assert isinstance(click, Click)
        assert (
            abs(click.x * 320 - element.center[0]) <= 1
            and abs(click.y * 240 - element.center[1]) <= 1
        )


def test_cli_collect_refer_names_elements_and_clicks_inside_them(tmp_path: Path) -> None:
    envs = ("agent_sdk/ui-click-button-v0", "agent_sdk/ui-click-shape-v0")
    args = ["collect", "--env", ",".join(envs), "--episodes", "3", "--noise", "0", "--refer",
            "3", "--out", str(tmp_path / "d")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "d" / "manifest.json").read_text())["config"]["refer"] == 3
    per_screen = defaultdict(list)
    for ex in read_examples(tmp_path / "d"):
        assert ex.history == () and ex.prompt == step_prompt(ex.instruction)
        per_screen[ex.env_id, ex.seed, ex.step].append(ex)
    assert {env_id for env_id, *_ in per_screen} == set(envs)
    for (env_id, seed, step), examples in per_screen.items():
        assert 1 <= len(examples) <= 3
        assert len({ex.instruction for ex in examples}) == len(examples)
        if step:
            continue
        env = gym.make(env_id)
        obs, _ = env.reset(seed=seed)
        assert all(np.array_equal(obs["image"], ex.image) for ex in examples)
        height, width = obs["image"].shape[:2]
        elements = env.unwrapped.elements()
        for ex in examples:
            click = parse_action(ex.target)
            px, py = click.x * width, click.y * height
            under = [e for e in elements if abs(px - e.center[0]) <= e.w / 2 + 1
                     and abs(py - e.center[1]) <= e.h / 2 + 1]  # fmt: skip
            named = [e for e in under if e.text and e.text in ex.instruction]
            assert named, (ex.instruction, ex.target)
            if env_id.endswith("click-shape-v0"):
                assert any(e.role in ex.instruction for e in named)
        env.close()


def test_refer_refuses_camera_envs_and_leaves_other_data_sets_as_they_were() -> None:
    with pytest.raises(ConfigError, match="camera image"):
        CollectConfig(env_ids=("agent_sdk/robot-reach-v0",), refer=2)
    with pytest.raises(ConfigError, match="refer is a count"):
        CollectConfig(env_ids=("agent_sdk/ui-click-button-v0",), refer=-1)
    plain = CollectConfig(env_ids=("agent_sdk/ui-click-button-v0",))
    assert "refer" not in plain.to_json_dict()  # the manifests' hashes stay as they were
    assert CollectConfig(env_ids=plain.env_ids, refer=2).to_json_dict()["refer"] == 2
