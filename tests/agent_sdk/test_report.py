"""Eval reports: summary files, a self-contained HTML page, and how it looks in Chromium."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from needs import need
from PIL import Image

from agent_sdk.evaluate import EvalConfig, evaluate
from agent_sdk.report import Run, draw_action, load_run, render_report, write_report, write_summary

ENVS = ("agent_sdk/ui-click-button-v0", "agent_sdk/ui-drag-slider-v0")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("run")
    evaluate(EvalConfig(env_ids=ENVS, episodes=3, save_trajectories=2, suite="ui"), out)
    return load_run(out)


def test_summary_files_hold_a_row_per_env_and_all(run: Run) -> None:
    json_path, csv_path = write_summary(run)
    doc = json.loads(json_path.read_text())
    assert doc["config_hash"] == run.config_hash and doc["config"]["env_ids"] == list(ENVS)
    assert [r["env_id"] for r in doc["rows"]] == [*ENVS, "all"]
    with csv_path.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["env_id"] for r in rows] == [*ENVS, "all"]
    assert rows[-1]["episodes"] == "6" and float(rows[-1]["success_rate"]) == 1.0
    assert {"ci_low", "ci_high", "errors", "step_p50_s", "step_p90_s", "ttft_p50_s"} <= set(rows[0])


def test_the_page_is_self_contained(run: Run) -> None:
    page = render_report(run)
    assert '<table class="summary">' in page
    assert all(f"<td>{e}</td>" in page for e in ENVS) and "<td>all</td>" in page
    assert page.count("data:image/png;base64,") == 2  # success and latency charts
    assert page.count("data:image/jpeg;base64,") >= 2 * 2 * 2  # steps and final frames
    assert "drag(" in page and "click(" in page
    assert not re.search(r"""(src|href)=["']?(https?:|//)|<script|<link""", page)


def test_the_page_says_when_matplotlib_is_missing(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    page = render_report(run)
    assert "Charts need matplotlib" in page and "data:image/png" not in page


def test_actions_are_drawn_where_they_point() -> None:
    blank = Image.new("RGB", (200, 100), "white")
    click = np.asarray(draw_action(blank, {"type": "click", "x": 0.25, "y": 0.5}))
    red = np.argwhere((click[..., 0] > 200) & (click[..., 1] < 80))
    assert red.size and abs(red[:, 1].mean() - 50) < 3 and abs(red[:, 0].mean() - 50) < 3
    drag = {"type": "drag", "x": 0.1, "y": 0.5, "to_x": 0.9, "to_y": 0.5}
    arrow = np.asarray(draw_action(blank, drag))
    xs = np.argwhere((arrow[..., 0] > 200) & (arrow[..., 1] < 80))[:, 1]
    assert xs.min() < 30 and xs.max() > 170
    typed = np.asarray(draw_action(blank, {"type": "type_text", "text": "hi"}))
    assert (typed == 255).all()


@pytest.mark.browser
def test_the_report_renders_in_headless_chromium(run: Run, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    need(None if chromium else "no chromium (Debian: apt-get install chromium)")
    page = write_report(run)
    shot = tmp_path / "report.png"
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
         "--window-size=1280,2000", page.resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert pixels.shape == (2000, 1280)
    assert pixels.std() > 20  # text, table, charts and screenshots, not a blank page
    assert (pixels[:1000] < 128).mean() > 0.01  # ink in the top half: title, table, charts
