"""The agent-sdk command line, run as a user would."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from agent_sdk.cli import app

runner = CliRunner(env={"COLUMNS": "200"})


def test_demo_prints_the_success_table() -> None:
    result = runner.invoke(app, ["demo", "--episodes", "3"])
    assert result.exit_code == 0, result.output
    assert "agent_sdk/ui-click-button-v0" in result.output
    assert "100.0%" in result.output
    assert result.output.count("agent_sdk/ui-") == 12


def test_envs_lists_every_task() -> None:
    result = runner.invoke(app, ["envs"])
    assert result.exit_code == 0
    assert "agent_sdk/ui-fill-form-v0" in result.output


def test_schema_is_json_with_every_action() -> None:
    result = runner.invoke(app, ["schema"])
    schema = json.loads(result.output)
    text = json.dumps(schema)
    for kind in ("click", "drag", "type_text", "ee_delta", "point_target"):
        assert f'"{kind}"' in text


def test_parse_prints_json_and_bad_text_exits_nonzero_with_a_message() -> None:
    ok = runner.invoke(app, ["parse", "click(500, 250)"])
    assert ok.exit_code == 0
    assert json.loads(ok.output) == {"type": "click", "x": 0.5, "y": 0.25}
    bad = runner.invoke(app, ["parse", "please click somewhere"])
    assert bad.exit_code == 2
    assert "cannot parse" in bad.output


def test_console_script_entry_point_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "agent_sdk.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "demo" in out.stdout
