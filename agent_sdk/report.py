"""Reports of an eval run: ``summary.json``, ``summary.csv`` and one self-contained HTML page.

Usage::

    agent-sdk report runs/fastvlm        # (re)writes runs/fastvlm/report.html and the summaries

    from agent_sdk.report import load_run, write_report
    run = load_run("runs/fastvlm")        # config + episode records of an `agent-sdk eval` folder
    print(write_report(run))              # runs/fastvlm/report.html

The page is one file (inline CSS, images as base64 PNG/JPEG, no scripts, nothing fetched): the
summary table, success rates with their 95 % intervals, step latency (and time to first token)
per env, and a viewer of every saved trajectory, each step's screenshot with the click point or
drag arrow drawn on it, the model's text, the action and its timings. The charts need
matplotlib (``pip install matplotlib``); without it the page says so and shows the rest.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from agent_sdk.errors import ConfigError
from agent_sdk.evaluate import (
    JPEG_QUALITY,
    EpisodeRecord,
    TaskSummary,
    read_episodes,
    summarize,
    trajectory_dir,
)

MARK = (230, 25, 75)  # the colour of click points and drag arrows
HALO = (255, 255, 255)


@dataclass(frozen=True)
class Run:
    """An eval run folder as read back: its config and its episode records."""

    path: Path
    config: dict[str, Any]
    config_hash: str
    records: list[EpisodeRecord]

    @property
    def env_ids(self) -> list[str]:
        return list(self.config.get("env_ids", []))

    @property
    def title(self) -> str:
        """What ran on what: ``vlm (fastvlm-0.5b) on the ui suite``, ``oracle on 2 envs``."""
        c, n = self.config, len(self.env_ids)
        model = f" ({Path(c['model']).name})" if c.get("model") else ""
        where = f"the {c['suite']} suite" if c.get("suite") else f"{n} env{'s' * (n != 1)}"
        return f"{c.get('policy', '?')}{model} on {where}"

    def summary(self) -> list[TaskSummary]:
        return summarize(self.records, self.env_ids)


def load_run(out: str | Path) -> Run:
    """Read ``out/config.json`` and ``out/episodes.jsonl``."""
    path = Path(out)
    config_path = path / "config.json"
    if not config_path.is_file():
        raise ConfigError(
            f"{path} is not an eval run folder (no config.json): see `agent-sdk eval`"
        )
    try:
        saved = json.loads(config_path.read_text())
        config, config_hash = saved["config"], saved["config_hash"]
    except (ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"{config_path} is not an eval config ({err!r})") from err
    return Run(path, config, config_hash, read_episodes(path / "episodes.jsonl"))


def write_summary(run: Run) -> tuple[Path, Path]:
    """``summary.json`` (config and rows) and ``summary.csv`` (rows) in the run folder."""
    rows = run.summary()
    json_path, csv_path = run.path / "summary.json", run.path / "summary.csv"
    doc = {"config_hash": run.config_hash, "config": run.config,
           "rows": [asdict(r) for r in rows]}  # fmt: skip
    json_path.write_text(json.dumps(doc, indent=2) + "\n")
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[f.name for f in fields(TaskSummary)])
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
    return json_path, csv_path


def write_report(run: Run) -> Path:
    """Write ``report.html`` into the run folder; returns its path."""
    path = run.path / "report.html"
    path.write_text(render_report(run), encoding="utf-8")
    return path


def render_report(run: Run) -> str:
    """The whole page as one string."""
    rows = run.summary()
    return PAGE.format(
        title=_e(f"Evaluation: {run.title}"),
        meta=_meta(run),
        table=summary_table(rows),
        charts=_charts(run, rows),
        trajectories="\n".join(_env_trajectories(run, env_id) for env_id in run.env_ids),
    )


# -- parts of the page ----------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value))


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


def _meta(run: Run) -> str:
    c = run.config
    model = c.get("model") and f"{Path(c['model']).name} ({(c.get('model_hash') or '')[:12]})"
    items = [("policy", c.get("policy")), ("model", model), ("episodes", len(run.records)),
             ("seeds from", c.get("seed")), ("max steps", c.get("max_steps") or "env's own"),
             ("env kwargs", json.dumps(c.get("env_kwargs") or {})),
             ("config hash", run.config_hash)]  # fmt: skip
    return "".join(f"<span><b>{_e(k)}</b> {_e(v)}</span>" for k, v in items if v is not None)


def summary_table(rows: Sequence[TaskSummary]) -> str:
    """The summary as an HTML table (the last row, "all", in bold)."""
    head = ("env id", "episodes", "success", "95% CI", "errors", "failures", "mean steps",
            "step p50", "step p90", "TTFT p50")  # fmt: skip
    body = []
    for r in rows:
        bar = f"background:linear-gradient(90deg,#cfe3cf {r.success_rate:.0%},transparent 0)"
        cells = (f"<td>{_e(r.env_id)}</td><td>{r.episodes}</td>"
                 f'<td style="{bar}">{r.success_rate:.1%}</td>'
                 f"<td>{r.ci_low:.2f}–{r.ci_high:.2f}</td><td>{r.errors}</td><td>{r.failures}</td>"
                 f"<td>{r.mean_steps:.1f}</td><td>{_ms(r.step_p50_s)}</td>"
                 f"<td>{_ms(r.step_p90_s)}</td><td>{_ms(r.ttft_p50_s)}</td>")  # fmt: skip
        body.append(f'<tr class="{"all" if r.env_id == "all" else ""}">{cells}</tr>')
    header = "".join(f"<th>{h}</th>" for h in head)
    return f'<table class="summary"><tr>{header}</tr>{"".join(body)}</table>'


def _img(data: bytes, mime: str, alt: str) -> str:
    b64 = base64.b64encode(data).decode()
    return f'<img src="data:{mime};base64,{b64}" alt="{_e(alt)}">'


def _charts(run: Run, rows: Sequence[TaskSummary]) -> str:
    try:
        success, latency = success_chart(rows), latency_chart(run.records, run.env_ids)
    except ImportError:
        return '<p class="note">Charts need matplotlib: pip install matplotlib</p>'
    return _img(success, "image/png", "success rate") + _img(latency, "image/png", "latency")


def _label(env_id: str) -> str:
    return env_id.rsplit("/", 1)[-1]


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def success_chart(rows: Sequence[TaskSummary]) -> bytes:
    """Horizontal bars of each env's success rate with its 95 % Wilson interval (PNG)."""
    from matplotlib.figure import Figure

    rows = [r for r in rows if r.env_id != "all"]
    fig = Figure(figsize=(5.6, 0.32 * len(rows) + 1.1), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    rates = [r.success_rate for r in rows]
    errors = [
        [p - r.ci_low for p, r in zip(rates, rows, strict=True)],
        [r.ci_high - p for p, r in zip(rates, rows, strict=True)],
    ]
    ax.barh(range(len(rows)), rates, xerr=errors, color="#4c72b0", ecolor="#333", capsize=2)
    ax.set_yticks(range(len(rows)), [_label(r.env_id) for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("success rate (95% Wilson interval)")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def latency_chart(records: Sequence[EpisodeRecord], env_ids: Sequence[str]) -> bytes:
    """Box plots of step latency per env, and of time to first token when a model ran (PNG)."""
    from matplotlib.figure import Figure

    env_ids = [e for e in env_ids if any(r.env_id == e and r.steps for r in records)]
    series = {"step latency (ms)": "step_latency_s", "time to first token (ms)": "ttft_s"}
    series = {k: v for k, v in series.items() if any(getattr(r, v) for r in records)}
    fig = Figure(figsize=(5.6 * max(1, len(series)) * 0.8, 0.32 * len(env_ids) + 1.1), dpi=110,
                 layout="constrained")  # fmt: skip
    for i, (title, attr) in enumerate(series.items()):
        ax = fig.add_subplot(1, len(series), i + 1)
        data = [[1000 * t for r in records if r.env_id == e for t in getattr(r, attr)] or [0.0]
                for e in env_ids]  # fmt: skip
        ax.boxplot(data, orientation="horizontal", widths=0.6, showfliers=False)
        ax.set_yticks(range(1, len(env_ids) + 1), [_label(e) for e in env_ids] if i == 0 else [])
        ax.tick_params(axis="y", labelsize=8)
        ax.invert_yaxis()
        ax.set_xlim(left=0)
        ax.set_xlabel(title)
        ax.grid(axis="x", alpha=0.3)
    return _png(fig)


# -- trajectories ---------------------------------------------------------------------------------
def draw_action(image: Image.Image, action: dict[str, Any] | None) -> Image.Image:
    """A copy of ``image`` with the action drawn: a ring at a pointer action's point, an arrow
    for a drag (and for a scroll, its direction)."""
    out = image.convert("RGB")
    if not action or "x" not in action:
        return out
    w, h = out.size
    draw = ImageDraw.Draw(out)
    start = (action["x"] * w, action["y"] * h)
    r = max(6.0, min(w, h) / 30)
    if action["type"] == "drag":
        _arrow(draw, start, (action["to_x"] * w, action["to_y"] * h), r)
    elif action["type"] == "scroll":
        dx, dy = action.get("dx", 0), action.get("dy", 0)
        norm = max(1.0, (dx * dx + dy * dy) ** 0.5)
        _arrow(draw, start, (start[0] + 4 * r * dx / norm, start[1] + 4 * r * dy / norm), r)
    for width, colour in ((5, HALO), (2, MARK)):
        draw.ellipse((start[0] - r, start[1] - r, start[0] + r, start[1] + r),
                     outline=colour, width=width)  # fmt: skip
    return out


def _arrow(
    draw: ImageDraw.ImageDraw, a: tuple[float, float], b: tuple[float, float], r: float
) -> None:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = max(1e-6, (dx * dx + dy * dy) ** 0.5)
    ux, uy = dx / length, dy / length
    head = [b, (b[0] - r * (1.6 * ux - 0.8 * uy), b[1] - r * (1.6 * uy + 0.8 * ux)),
            (b[0] - r * (1.6 * ux + 0.8 * uy), b[1] - r * (1.6 * uy - 0.8 * ux))]  # fmt: skip
    for width, colour in ((5, HALO), (2, MARK)):
        draw.line([a, b], fill=colour, width=width)
    draw.polygon(head, fill=MARK, outline=HALO)


def _screenshot(folder: Path, name: str | None, action: dict[str, Any] | None) -> str:
    if name is None or not (folder / name).is_file():
        return '<div class="noimg">no screenshot</div>'
    with Image.open(folder / name) as image:
        drawn = draw_action(image, action)
    buf = io.BytesIO()
    drawn.save(buf, "JPEG", quality=JPEG_QUALITY)
    return _img(buf.getvalue(), "image/jpeg", name)


def _step_card(folder: Path, step: dict[str, Any]) -> str:
    t = step.get("timings") or {}
    times = [f"step {_ms(step.get('wall_s'))}"] + [
        f"{label} {_ms(t[key])}" for key, label in
        (("ttft_s", "ttft"), ("policy_s", "policy"), ("act_s", "env")) if key in t
    ]  # fmt: skip
    result = step.get("result")
    lines = [
        f"<b>step {step['step']}</b> <code>{_e(step.get('action_text') or 'no action')}</code>"
    ]
    if step.get("plan"):
        lines.append(f"<div>plan: <q>{_e(step['plan'])}</q></div>")
    if step.get("model_text") is not None:
        lines.append(f'<div class="model">model: <q>{_e(step["model_text"])}</q></div>')
    lines.append(f'<div class="t">{" · ".join(times)}</div>')
    if result:
        lines.append(
            f'<div class="t">reward {result["reward"]:g}, success {result["success"]}</div>'
        )
    for error in (step.get("error"), result and result.get("error")):
        if error:
            lines.append(f'<div class="err">{_e(error)}</div>')
    picture = _screenshot(folder, step.get("image"), step.get("action"))
    return f'<figure class="step">{picture}<figcaption>{"".join(lines)}</figcaption></figure>'


def _episode(folder: Path, traj: dict[str, Any], open_: bool) -> str:
    ok = traj.get("success")
    verdict = '<span class="ok">success</span>' if ok else '<span class="bad">failure</span>'
    steps = traj.get("steps", [])
    summary = f"seed {traj['seed']}: {verdict} after {len(steps)} steps ({_e(traj.get('end'))})"
    cards = [_step_card(folder, s) for s in steps]
    end = f"<b>end</b>: {_e(traj.get('end'))}"
    if traj.get("error"):
        end += f'<div class="err">{_e(traj["error"])}</div>'
    cards.append(f'<figure class="step">{_screenshot(folder, traj.get("final_image"), None)}'
                 f"<figcaption>{end}</figcaption></figure>")  # fmt: skip
    return (f'<details{" open" if open_ else ""}><summary>{summary}</summary>'
            f'<p class="instr">{_e(traj.get("instruction") or "")}</p>'
            f'<div class="steps">{"".join(cards)}</div></details>')  # fmt: skip


def _env_trajectories(run: Run, env_id: str) -> str:
    seeds = sorted(r.seed for r in run.records if r.env_id == env_id)
    folders = [trajectory_dir(run.path, env_id, s) for s in seeds]
    folders = [f for f in folders if (f / "trajectory.json").is_file()]
    if not folders:
        return ""
    episodes = [_episode(f, json.loads((f / "trajectory.json").read_text()), i == 0)
                for i, f in enumerate(folders)]  # fmt: skip
    return f"<section><h3>{_e(env_id)}</h3>{''.join(episodes)}</section>"


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 14px/1.4 system-ui, -apple-system, "DejaVu Sans", sans-serif; margin: 24px;
       color: #222; background: #fafafa; }}
h1 {{ font-size: 22px; margin: 0 0 6px; }}
h2 {{ font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; }}
h3 {{ font-size: 15px; margin: 18px 0 6px; font-family: monospace; }}
.meta span {{ display: inline-block; margin: 0 14px 4px 0; color: #555; }}
table.summary {{ border-collapse: collapse; background: #fff; }}
.summary th, .summary td {{ border: 1px solid #ddd; padding: 4px 10px; text-align: right; }}
.summary td:first-child, .summary th:first-child {{ text-align: left; font-family: monospace; }}
.summary th {{ background: #f0f0f0; }}
.summary tr.all td {{ font-weight: bold; border-top: 2px solid #999; }}
.charts img {{ margin: 0 16px 8px 0; border: 1px solid #ddd; background: #fff;
              vertical-align: top; }}
details {{ margin: 6px 0; background: #fff; border: 1px solid #ddd; padding: 6px 10px; }}
summary {{ cursor: pointer; }}
.steps {{ display: flex; flex-wrap: wrap; gap: 10px; margin-top: 6px; }}
figure.step {{ margin: 0; width: 330px; border: 1px solid #e4e4e4; padding: 4px;
               background: #fcfcfc; }}
figure.step img {{ width: 100%; display: block; }}
figcaption {{ font-size: 12px; margin-top: 4px; word-wrap: break-word; }}
.model q {{ font-family: monospace; }}
.t {{ color: #666; }}
.err {{ color: #b00020; }}
.ok {{ color: #1b7f1b; font-weight: bold; }}
.bad {{ color: #b00020; font-weight: bold; }}
.instr {{ margin: 4px 0; font-style: italic; }}
.noimg {{ height: 60px; color: #999; text-align: center; line-height: 60px; }}
.note {{ color: #666; }}
</style></head>
<body>
<h1>{title}</h1>
<div class="meta">{meta}</div>
<h2>Summary</h2>
{table}
<h2>Charts</h2>
<div class="charts">{charts}</div>
<h2>Trajectories</h2>
{trajectories}
</body></html>
"""
