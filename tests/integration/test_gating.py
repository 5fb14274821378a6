"""The regression gate against a real DuckDB file: a baseline regression counts only when the
cell's history agrees (bench_pipeline.history.gate); too little history falls back to the baseline."""

from __future__ import annotations

import pytest

from bench_pipeline import checks
from bench_pipeline.history import gate as gating
from bench_pipeline.store import Store
from tests.integration import test_history_store as hist

pytestmark = pytest.mark.integration
LEVEL = 5e6  # ns


def _store(tmp_path, monkeypatch, factors: list[float]) -> tuple[Store, list[str]]:
    """One run per factor: git/status at LEVEL × factor (run-level noise 1 %, 8 samples, CV 1 %)."""
    monkeypatch.setattr(hist, "true_median", lambda tool, op, fixture, run: LEVEL * factors[run])
    store = Store(tmp_path / "bench.duckdb")
    ids = hist.add_runs(store, list(range(len(factors))), tools=("git",))
    return store, ids


def test_a_lucky_fast_baseline_is_not_a_confirmed_regression(tmp_path, monkeypatch):
    store, ids = _store(tmp_path, monkeypatch, [1.0] * 9 + [0.92, 1.0])
    outcome = checks.regression_gate(store, "s", ids[-1])
    assert outcome.details["baseline"] == ids[-2]
    assert outcome.passed, outcome.cells
    assert outcome.details["confirmed"] == 0 and outcome.details["unconfirmed"] == 1
    assert outcome.cells[0].startswith("not confirmed by history: git/status (small) ×1.0")


def test_a_step_against_the_recent_level_is_confirmed(tmp_path, monkeypatch):
    store, ids = _store(tmp_path, monkeypatch, [1.0] * 10 + [1.08])
    outcome = checks.regression_gate(store, "s", ids[-1])
    assert not outcome.passed
    assert outcome.details["confirmed"] == 1
    levels = gating.history_levels(store, "s", ids[-1]).row(0, named=True)
    assert levels["history_runs"] == 10
    assert levels["history_ratio"] == pytest.approx(1.08, abs=0.02)
    assert "vs the level of its last 10 runs" in outcome.cells[0]


def test_a_slow_baseline_hides_nothing_from_history(tmp_path, monkeypatch):
    """A slowish baseline (+6 %) under a slower candidate (+10 %): against the baseline the ratio is
    only ≈ 1.04 (its CI reaches below 1 + δ, so no regression verdict), but against the cell's
    recent level the candidate is outside the prediction interval: a non-blocking history alert."""
    store, ids = _store(tmp_path, monkeypatch, [1.0] * 9 + [1.06, 1.10])
    outcome = checks.regression_gate(store, "s", ids[-1])
    assert outcome.passed and outcome.details["history_alerts"] == 1
    assert outcome.cells[0].startswith("history alert (not blocking): git/status (small)")


def test_with_too_little_history_the_baseline_alone_decides(tmp_path, monkeypatch):
    store, ids = _store(tmp_path, monkeypatch, [1.0, 1.0, 1.10])
    outcome = checks.regression_gate(store, "s", ids[-1])
    assert not outcome.passed and outcome.details["confirmed"] == 1
    assert "too little history to confirm" in outcome.cells[0]
    # an earlier run as the candidate: history stops at it
    assert gating.history_levels(store, "s", ids[1]).row(0, named=True)["history_runs"] == 1
