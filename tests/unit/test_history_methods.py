"""History methods against definitions and reference values: E-divisive's Q̂, PELT's optimum, the
confirmation rules, Theil–Sen / Mann–Kendall against scipy, the gate's prediction interval, the
adaptive run count, and analyse_cell on a frame."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps

from bench_pipeline.execution.adaptive import min_runs_for
from bench_pipeline.history import (
    analyse_cell,
    detect_changes,
    e_divisive,
    pelt_l1,
    report_history,
    same_run_gate,
    trend,
)
from bench_pipeline.history.changepoints import _l1_costs, _q_hat, confirm

SIGMA = 0.03


def q_hat_by_definition(y: np.ndarray, tau: int) -> float:
    x, z = y[:tau], y[tau:]
    p, q = len(x), len(z)
    between = sum(abs(a - b) for a in x for b in z)
    within_x = sum(abs(a - b) for a, b in itertools.combinations(x, 2))
    within_z = sum(abs(a - b) for a, b in itertools.combinations(z, 2))
    e = 2 * between / (p * q) - within_x / math.comb(p, 2) - within_z / math.comb(q, 2)
    return p * q / (p + q) * e


def test_q_hat_matches_its_definition():
    y = np.random.default_rng(1).normal(size=11)
    got = _q_hat(y[None, :])[0]
    expected = [q_hat_by_definition(y, tau) for tau in range(2, 10)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def best_partition_by_enumeration(y: np.ndarray, beta: float, scale: float, min_size: int = 2) -> list[int]:
    n = len(y)
    best, best_cuts = math.inf, []
    for k in range(n):
        for cuts in itertools.combinations(range(min_size, n - min_size + 1), k):
            bounds = [0, *cuts, n]
            if any(b - a < min_size for a, b in itertools.pairwise(bounds)):
                continue
            cost = sum(np.abs(y[a:b] - np.median(y[a:b])).sum() for a, b in itertools.pairwise(bounds))
            total = cost / scale + beta * k
            if total < best - 1e-12:
                best, best_cuts = total, list(cuts)
    return best_cuts


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pelt_finds_the_optimal_partition(seed):
    rng = np.random.default_rng(seed)
    y = rng.normal(0, 1, 11) + np.repeat([0.0, 3.0, 1.0], [4, 4, 3])
    scale = 1.0 * math.sqrt(2 / math.pi)
    assert pelt_l1(y, penalty=2.0, scale=1.0) == best_partition_by_enumeration(y, 2.0, scale)


def test_l1_costs():
    y = np.array([3.0, 1.0, 4.0, 1.0, 5.0])
    c = _l1_costs(y)
    assert c[0, 5] == pytest.approx(np.abs(y - 3).sum())
    assert c[1, 4] == pytest.approx(3.0) and c[2, 3] == 0.0


def test_e_divisive_finds_a_clear_step_and_nothing_in_constant_or_short_series():
    y = np.r_[np.zeros(15), np.ones(15)] + np.random.default_rng(3).normal(0, 0.05, 30)
    ((cut, p),) = e_divisive(y)
    assert cut == 15 and p <= 0.01
    assert e_divisive(np.zeros(30)) == []
    assert e_divisive(np.array([0.0, 1.0, 0.0, 1.0])) == []
    assert e_divisive(y, seed=5) == e_divisive(y, seed=5)  # reproducible


def noise(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, SIGMA, n)


def test_a_step_is_reported_with_its_levels():
    y = noise(40, 4)
    y[25:] += math.log(1.20)
    (c,) = detect_changes(y).changes
    assert c.index == 25 and c.ratio == pytest.approx(1.20, rel=0.03)
    assert c.after / c.before == pytest.approx(c.ratio)


def test_a_spike_that_reverts_is_not_a_change():
    for seed in range(10):
        y = noise(40, seed)
        y[20] += math.log(1.5)
        assert detect_changes(y).changes == []
        y[21] += math.log(1.5)  # two slow runs, then back: still not a new level
        assert detect_changes(y).changes == []


def test_the_new_level_must_persist_two_runs():
    y = noise(40, 5)
    y[-1] += math.log(1.3)
    assert detect_changes(y).changes == []  # one run at the new level: wait for the next one
    y[-2] += math.log(1.3)
    assert [c.index for c in detect_changes(y).changes] == [38]


def test_a_change_below_delta_is_not_an_alert():
    y = np.random.default_rng(6).normal(0, 0.002, 40)
    y[20:] += math.log(1.02)
    assert detect_changes(y, delta=0.03).changes == []
    assert [c.index for c in detect_changes(y, delta=0.01).changes] == [20]


def test_confirm_drops_the_spurious_recovery_after_a_spike():
    y = np.zeros(30)
    y[15] = math.log(1.3)
    # proposals around a spike: its start (fails persistence) and the "recovery" (fails δ once merged)
    assert confirm(y, [15, 17]) == []


def test_degenerate_inputs():
    assert detect_changes(np.array([])).changes == []
    assert detect_changes(np.array([0.0, 0.1, 0.2])).changes == []
    assert detect_changes(np.array([0.0, np.nan] * 10)).changes == []


# ------------------------------------------------------------------------------ trend
def test_trend_matches_scipy():
    rng = np.random.default_rng(7)
    y = 0.004 * np.arange(30) + rng.normal(0, SIGMA, 30)
    fit = trend(y)
    slope, intercept, low, high = sps.theilslopes(y, np.arange(30))
    tau, p = sps.kendalltau(np.arange(30), y)
    assert fit.slope_per_run == pytest.approx(math.expm1(slope))
    assert fit.slope_low == pytest.approx(math.expm1(low)) and fit.slope_high == pytest.approx(
        math.expm1(high)
    )
    assert fit.tau == pytest.approx(tau) and fit.p_value == pytest.approx(p) and fit.significant
    assert fit.forecast == pytest.approx(math.exp(intercept + slope * 30))
    assert fit.forecast_low < fit.forecast < fit.forecast_high


def test_trend_of_an_exact_line_and_of_a_constant():
    y = np.log(1.01) * np.arange(10)
    fit = trend(y)
    assert fit.slope_per_run == pytest.approx(0.01) and fit.p_value < 1e-5
    assert fit.forecast == pytest.approx(1.01**10)
    flat = trend(np.zeros(10))
    assert flat.slope_per_run == 0.0 and flat.p_value == 1.0 and flat.forecast == 1.0
    assert trend(np.zeros(3)).slope_per_run is None


def test_forecast_interval_covers_the_next_run():
    rng = np.random.default_rng(8)
    hits = 0
    for _ in range(400):
        y = 0.002 * np.arange(31) + rng.normal(0, SIGMA, 31)
        fit = trend(y[:30])
        hits += fit.forecast_low <= math.exp(y[30]) <= fit.forecast_high
    assert 0.91 <= hits / 400 <= 0.99


# ------------------------------------------------------------------------------ gate
def test_gate_prediction_interval_by_hand():
    ref = np.log([100, 102, 98, 101, 99, 100, 103, 97, 100, 100])
    y = np.r_[ref, math.log(110)]
    g = same_run_gate(y, window=10, alpha=0.01)
    m, s = ref.mean(), ref.std(ddof=1)
    half = sps.t.ppf(0.995, 9) * s * math.sqrt(1 + 1 / 10)
    assert g.low == pytest.approx(math.exp(m - half)) and g.high == pytest.approx(math.exp(m + half))
    assert g.outside and g.alert and g.direction == "higher" and g.reference_points == 10
    assert g.ratio == pytest.approx(110 / math.exp(m))
    assert not same_run_gate(np.r_[ref, math.log(101)]).outside
    assert same_run_gate(np.log([1.0, 2.0, 3.0])).reference_points == 2  # too short to judge


def test_gate_uses_the_current_regime():
    y = np.r_[np.zeros(10), np.full(6, math.log(1.2))] + noise(16, 9) / 10
    y = np.r_[y, math.log(1.2)]
    assert not same_run_gate(y, regime_start=10).outside
    assert same_run_gate(y, regime_start=0).reference_points == 10


def test_min_runs_formula():
    assert min_runs_for(0.01, 0.02, 30) == 3  # (2.4566 · 0.5)² = 1.5 → clamped to 3
    assert min_runs_for(0.02, 0.02, 30) == 7  # 6.03
    assert min_runs_for(0.03, 0.02, 30) == 14  # 13.6
    assert min_runs_for(0.05, 0.02, 30) == 30  # 37.7 → max_runs
    assert min_runs_for(float("nan"), 0.02, 30) == 30


# ------------------------------------------------------------------------------ analyse_cell
def cell_frame(y: np.ndarray) -> pl.DataFrame:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    med = np.exp(y) * 1e7
    return pl.DataFrame(
        {
            "tool": "git", "operation": "status", "fixture": "small", "metric": "wall",
            "run_id": [f"r{i:02d}" for i in range(len(y))],
            "started_at": [t0 + timedelta(days=i) for i in range(len(y))],
            "median": med, "ci_low": med * 0.99, "ci_high": med * 1.01, "n": 10, "cv": 0.01, "mad": 0.0,
            "git_tag": None, "host": "h",
        }
    )  # fmt: skip


def test_analyse_cell_and_report_shape():
    y = noise(30, 10)
    y[18:] += math.log(1.12)
    cell = analyse_cell(cell_frame(y), suite="s")
    (cp,) = cell.change_points
    assert cp.run_id == "r18" and cp.index == 18 and cp.direction == "regression"
    assert cell.trend.since_run_id == "r18" and cell.trend.points == 12
    assert cell.gate.run_id == "r29" and cell.points == 30
    assert cell.latest_median == pytest.approx(math.exp(y[-1]) * 1e7)
    (row,) = report_history([cell])
    assert set(row["points"][0]) == {"run_id", "started_at", "median", "ci_low", "ci_high"}
    assert row["change_points"][0]["ratio"] == cp.ratio
    try:
        from bench_pipeline.report.model import HistorySeries
    except ImportError:
        return
    HistorySeries.model_validate(row)  # the report's model accepts it as is
