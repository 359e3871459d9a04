"""Episode records, summaries and the Wilson interval."""

from __future__ import annotations

import math

import pytest

from actions.schema import Wait
from agent_sdk.evaluate import evaluate, oracle_policy, summarize, wilson_interval


def test_wilson_interval_matches_known_values() -> None:
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(50, 50)
    assert hi == 1.0 and 0.92 < lo < 0.93


def test_oracle_scores_full_marks_and_a_idle_policy_none() -> None:
    ids = ["agent_sdk/ui-click-button-v0", "agent_sdk/ui-click-checkboxes-v0"]
    records = evaluate(ids, oracle_policy, episodes=5, seed=10, policy_name="oracle")
    assert [r.seed for r in records] == [10, 11, 12, 13, 14] * 2
    assert all(r.success and r.return_ == 1.0 and r.error is None for r in records)
    assert all(len(r.step_latency_s) == r.steps for r in records)
    summary = summarize(records)
    assert [s.env_id for s in summary] == ids
    assert all(s.success_rate == 1.0 and s.episodes == 5 for s in summary)

    idle = evaluate(ids[:1], lambda env, obs: Wait(seconds=0), episodes=3)
    assert not any(r.success for r in idle)
    assert all(r.steps == 3 for r in idle)  # the click-button step budget
    assert summarize(idle)[0].success_rate == 0.0


def test_records_serialise_with_the_design_field_names() -> None:
    (record,) = evaluate(["agent_sdk/ui-click-button-v0"], oracle_policy, episodes=1)
    d = record.to_json_dict()
    for key in ("env_id", "seed", "success", "steps", "return", "wall_s", "step_latency_s",
                "ttft_s", "error", "policy", "model", "config_hash"):  # fmt: skip
        assert key in d
    assert math.isfinite(d["wall_s"])
