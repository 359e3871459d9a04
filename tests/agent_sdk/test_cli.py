"""The agent-sdk command line, run as a user would."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from agent_sdk.cli import app

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.mark.usefixtures("one_torch_thread")  # 2 spinning threads crawl on a busy machine
def test_demo_runs_the_shipped_model_and_writes_the_report(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from perception.zoo import zoo_model

    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--episodes", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.count("agent_sdk/ui-") == 12 and "report.html" in result.output
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["policy"] == "vlm" and config["model"] == str(zoo_model())
    episodes = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert len(episodes) == 12 and all(e["model"] for e in episodes)


def test_demo_with_the_oracle_prints_the_success_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(
        app, ["demo", "--policy", "oracle", "--episodes", "3", "--out", str(tmp_path / "d")]
    )
    assert result.exit_code == 0, result.output
    assert "agent_sdk/ui-click-button-v0" in result.output
    assert "100.0%" in result.output
    assert result.output.count("agent_sdk/ui-") == 12


def test_eval_prints_the_table_and_writes_the_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    args = ["eval", "--env", "agent_sdk/ui-click-button-v0", "--env", "agent_sdk/ui-click-link-v0",
            "--policy", "oracle", "--episodes", "3", "--save-trajectories", "1",
            "--env-arg", "width=400", "--out", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "agent_sdk/ui-click-link-v0" in result.output and "100.0%" in result.output
    assert "TTFT p50" in result.output and "report.html" in result.output
    assert "failures" in result.output and "errors" in result.output
    for name in ("config.json", "episodes.jsonl", "summary.json", "summary.csv", "report.html"):
        assert (out / name).is_file(), name
    assert json.loads((out / "config.json").read_text())["config"]["env_kwargs"] == {"width": 400}
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "--resume" in again.output
    resumed = runner.invoke(app, [*args, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert len((out / "episodes.jsonl").read_text().splitlines()) == 6
    (out / "report.html").unlink()
    report = runner.invoke(app, ["report", str(out)])
    assert report.exit_code == 0 and "agent_sdk/ui-click-button-v0" in report.output
    assert (out / "report.html").is_file()


def test_eval_and_report_explain_bad_input(tmp_path) -> None:  # type: ignore[no-untyped-def]
    stray = ["eval", "--policy", "oracle", "--model", str(tmp_path), "--out", str(tmp_path / "a")]
    stray_model = runner.invoke(app, stray)
    assert stray_model.exit_code == 2 and "only used by policy 'vlm'" in stray_model.output
    typo = runner.invoke(app, ["eval", "--suite", "iu", "--policy", "oracle", "--out", "x"])
    assert typo.exit_code == 2 and "known suites" in typo.output
    no_run = runner.invoke(app, ["report", str(tmp_path)])
    assert no_run.exit_code == 2 and "not an eval run folder" in no_run.output


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


def test_ask_prints_the_answer_and_the_timings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np
    from PIL import Image

    from perception.tiny import save_tiny_checkpoint

    model = save_tiny_checkpoint(tmp_path / "tiny", layout="hf")
    shot = tmp_path / "shot.png"
    Image.fromarray(np.zeros((60, 80, 3), np.uint8)).save(shot)
    for extra in ([], ["--stream"]):
        result = runner.invoke(
            app,
            [
                "ask",
                str(shot),
                "What is this?",
                "--model",
                str(model),
                "--max-new-tokens",
                "4",
                *extra,
            ],
        )
        assert result.exit_code == 0, result.output
        assert "time to first token" in result.output and "vision encode" in result.output
    missing = runner.invoke(app, ["ask", str(shot), "Q", "--model", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "error" in missing.output


def test_convert_writes_a_loadable_hf_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from perception.checkpoints import CheckpointFormat, detect_format
    from perception.tiny import save_tiny_checkpoint

    src = save_tiny_checkpoint(tmp_path / "apple", layout="apple")
    result = runner.invoke(app, ["convert", str(src), str(tmp_path / "hf")])
    assert result.exit_code == 0, result.output
    assert detect_format(tmp_path / "hf") is CheckpointFormat.HF
    again = runner.invoke(app, ["convert", str(src), str(tmp_path / "hf")])
    assert again.exit_code == 2


def test_run_on_a_gym_env_saves_the_trajectory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    args = ["run", "--env", "agent_sdk/ui-click-button-v0", "--policy", "random"]
    result = runner.invoke(app, [*args, "--max-steps", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "trajectory.json").read_text())
    assert record["instruction"] and 1 <= len(record["steps"]) <= 3
    assert all((out / s["image"]).is_file() for s in record["steps"])
    assert "step 0" in result.output and "saved" in result.output


def test_run_without_a_model_uses_the_shipped_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    args = ["run", "--env", "agent_sdk/ui-click-button-v0", "--max-steps", "2", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    steps = json.loads((out / "trajectory.json").read_text())["steps"]
    assert steps and all(s["model_text"] for s in steps)  # answers came from a model
    assert "ttft" in result.output


def test_run_with_approve_asks_and_a_no_executes_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    args = ["run", "--env", "agent_sdk/ui-click-button-v0", "--policy", "random", "--approve"]
    result = runner.invoke(app, [*args, "--max-steps", "2", "--out", str(out)], input="n\nn\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("execute ") == 2
    steps = json.loads((out / "trajectory.json").read_text())["steps"]
    assert [s["result"] for s in steps] == [None, None]  # denied: recorded, not executed
    assert all(s["guard"]["allowed"] is False for s in steps)


@pytest.mark.display
def test_run_dry_run_on_the_live_screen_executes_nothing(xvfb_display, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from perception.tiny import save_tiny_checkpoint

    model = save_tiny_checkpoint(tmp_path / "tiny", layout="hf")
    out = tmp_path / "live"
    args = ["run", "Click the OK button", "--model", str(model), "--dry-run", "--max-steps", "2"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "trajectory.json").read_text())
    assert record["instruction"] == "Click the OK button"
    assert record["steps"] and all(s["timings"].get("ttft_s", 0) > 0 for s in record["steps"])


@pytest.mark.browser
def test_eval_smoke_on_miniwob_with_the_oracle(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from needs import chromium_missing, need

    need(chromium_missing())
    out = tmp_path / "miniwob"
    args = ["eval", "--suite", "miniwob", "--policy", "oracle", "--episodes", "1"]
    result = runner.invoke(app, [*args, "--save-trajectories", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "summary.json").read_text())["rows"]
    per_env = [r for r in rows if r["env_id"] != "all"]
    assert len(per_env) >= 10
    assert all(r["successes"] == r["episodes"] == 1 and r["errors"] == 0 for r in per_env)
    assert (out / "report.html").is_file()
