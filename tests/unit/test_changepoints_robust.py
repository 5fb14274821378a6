"""The change-point detector on what real histories do: invalid values, drift, autocorrelation,
seasonality, long series; and its PELT against ruptures and against enumeration."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from bench_pipeline.history import analyse_cell, detect_changes
from bench_pipeline.history.changepoints import ar1_cost, pelt_ar1, pelt_l2
from bench_pipeline.history.noise import clip_outliers, noise_model

SIGMA = 0.03


def ar1(rng: np.random.Generator, n: int, phi: float, sd: float = SIGMA) -> np.ndarray:
    e = np.empty(n)
    u = rng.normal(0, sd * math.sqrt(1 - phi * phi), n)
    e[0] = rng.normal(0, sd)
    for t in range(1, n):
        e[t] = phi * e[t - 1] + u[t]
    return e


def frame(medians: np.ndarray) -> pl.DataFrame:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    return pl.DataFrame(
        {
            "tool": "git", "operation": "status", "fixture": "small", "metric": "wall",
            "run_id": [f"r{i:03d}" for i in range(len(medians))],
            "started_at": [t0 + timedelta(days=i) for i in range(len(medians))],
            "median": medians, "ci_low": medians, "ci_high": medians, "n": 10, "cv": 0.01, "mad": 0.0,
            "git_tag": None, "host": "h",
        }
    )  # fmt: skip


# ------------------------------------------------------------------------------ invalid values
def test_nan_and_inf_are_skipped_and_said_so():
    y = np.random.default_rng(1).normal(0, SIGMA, 40)
    y[25:] += math.log(1.2)
    y[[5, 30]] = np.nan
    y[12] = -np.inf  # log(0)
    d = detect_changes(y)
    assert d.status == "ok" and d.excluded == [5, 12, 30]
    assert d.reason is not None and "3 non-finite value(s) skipped" in d.reason
    assert [c.index for c in d.changes] == [25]  # indices refer to the input, gaps included
    assert d.changes[0].ratio == pytest.approx(1.2, rel=0.03)


def test_a_series_that_cannot_be_analysed_says_why():
    short = detect_changes(np.array([0.0, np.nan, 0.1, np.nan, 0.2]))
    assert short.status == "too-short" and short.changes == []
    assert "3 usable point(s), at least 5 needed" in short.reason and short.excluded == [1, 3]
    flat = detect_changes(np.zeros(20))
    assert flat.status == "constant" and "constant" in flat.reason
    assert detect_changes(np.array([])).status == "too-short"


def test_non_positive_medians_are_excluded_runs_with_a_reason():
    rng = np.random.default_rng(2)
    med = 1e7 * np.exp(rng.normal(0, SIGMA, 40))
    med[22:] *= 1.15
    med[[3, 17]] = [0.0, -5.0]
    med[9] = np.nan
    cell = analyse_cell(frame(med), suite="s")
    assert cell.excluded_runs == ["r003", "r009", "r017"]
    assert cell.status == "ok" and "3 run(s) skipped: median missing, infinite or ≤ 0" in cell.reason
    assert [cp.run_id for cp in cell.change_points] == ["r022"]
    assert cell.trend.points == 18 and cell.gate.reference_points > 0
    cell.model_dump_json()  # the CLI's JSON still serialises


def test_a_cell_without_usable_runs_says_so():
    cell = analyse_cell(frame(np.array([0.0, -1.0, np.nan, 0.0])), suite="s")
    assert cell.status == "no-valid-runs" and cell.change_points == [] and len(cell.excluded_runs) == 4
    assert "at least 5 needed" in cell.reason
    short = analyse_cell(frame(np.array([1.0, 1.1, 1.0])), suite="s")
    assert short.status == "too-short" and short.reason and short.change_points == []


def test_an_invalid_newest_run_is_not_gated():
    med = np.exp(np.random.default_rng(3).normal(0, SIGMA, 20))
    med[-1] = 0.0
    cell = analyse_cell(frame(med), suite="s")
    assert cell.gate.run_id == "r019" and cell.gate.reference_points == 0 and not cell.gate.outside


# ------------------------------------------------------------------------------ drift
@pytest.mark.parametrize("seed", range(10))
def test_a_steady_drift_is_a_trend_not_steps(seed):
    """+1 %/run over 30 runs at CV 1 %: a significant trend of ≈ 1 %/run, no change point."""
    rng = np.random.default_rng(seed)
    med = 1e7 * 1.01 ** np.arange(30) * np.exp(rng.normal(0, 0.01, 30))
    cell = analyse_cell(frame(med), suite="s")
    assert cell.change_points == []
    assert cell.trend.significant and cell.trend.slope_per_run == pytest.approx(0.01, abs=0.002)
    assert cell.noise is not None and cell.noise.slope_per_run == pytest.approx(0.01, abs=0.002)


def test_an_exact_drift_is_a_trend_not_steps():
    cell = analyse_cell(frame(1e7 * 1.01 ** np.arange(30)), suite="s")
    assert cell.change_points == [] and cell.trend.significant
    assert cell.trend.slope_per_run == pytest.approx(0.01)


def test_a_step_on_top_of_a_drift_is_found():
    rng = np.random.default_rng(4)
    y = 0.004 * np.arange(120) + rng.normal(0, SIGMA, 120)
    y[70:] += math.log(1.15)
    d = detect_changes(y)
    assert [c.index for c in d.changes] == [70] and d.trend_model
    assert d.changes[0].ratio == pytest.approx(1.15, rel=0.03)  # the shift, not the drift


# ------------------------------------------------------------------------------ error control
def alarm_rate(series: list[np.ndarray]) -> float:
    return sum(bool(detect_changes(y).changes) for y in series) / len(series)


def test_autocorrelated_noise_does_not_make_a_staircase():
    rng = np.random.default_rng(5)
    assert alarm_rate([ar1(rng, 150, 0.7) for _ in range(40)]) <= 0.10
    assert alarm_rate([ar1(rng, 60, 0.5) for _ in range(40)]) <= 0.10


def test_seasonality_does_not_make_a_staircase():
    rng = np.random.default_rng(6)
    t = np.arange(200)
    series = [
        2 * SIGMA * np.sin(2 * np.pi * t / period + rng.uniform(0, 6)) + rng.normal(0, SIGMA, 200)
        for period in (7, 30, 60)
        for _ in range(10)
    ]
    assert alarm_rate(series) <= 0.10


def test_steps_in_autocorrelated_noise_are_found():
    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(20):
        y = ar1(rng, 150, 0.5)
        y[90:] += math.log(1.25)
        hits += [c.index for c in detect_changes(y).changes if abs(c.index - 90) <= 5] != []
    assert hits >= 18


def test_the_whole_history_is_used():
    """A step 900 runs back in a 1,000-run history (the old 200-run window could not see it)."""
    rng = np.random.default_rng(8)
    med = 1e7 * np.exp(rng.normal(0, SIGMA, 1000))
    med[100:] *= 1.2
    cell = analyse_cell(frame(med), suite="s")
    assert [cp.index for cp in cell.change_points] == [100]


# ------------------------------------------------------------------------------ noise model
def test_noise_model_recovers_ar1_parameters_despite_a_step():
    rng = np.random.default_rng(9)
    y = ar1(rng, 2000, 0.6)
    y[1000:] += 0.2
    m = noise_model(y)
    assert m.phi == pytest.approx(0.6, abs=0.06) and m.sigma == pytest.approx(SIGMA, rel=0.1)
    assert m.long_run_sigma == pytest.approx(SIGMA * 2, rel=0.15)  # √((1 + φ)/(1 − φ)) = 2


def test_clipping_pulls_a_spike_back_and_leaves_a_step():
    y = np.r_[np.zeros(20), np.ones(20)] + np.random.default_rng(10).normal(0, 0.01, 40)
    y[10] = 5.0
    c = clip_outliers(y)
    assert c[10] < 0.1 and np.allclose(c[[5, 30]], y[[5, 30]])
    assert np.median(c[20:]) == pytest.approx(1.0, abs=0.01)


# ------------------------------------------------------------------------------ PELT
@pytest.mark.parametrize("penalty", [1.0, 4.0, 20.0])
def test_pelt_l2_matches_ruptures(penalty):
    ruptures = pytest.importorskip("ruptures")
    rng = np.random.default_rng(11)
    x = rng.normal(0, 1, 300) + np.repeat([0.0, 1.5, -0.5, 0.7], [80, 70, 90, 60])
    expected = ruptures.Pelt(model="l2", min_size=2, jump=1).fit(x).predict(pen=penalty)[:-1]
    assert pelt_l2(x, penalty) == expected


def best_by_enumeration(y: np.ndarray, penalty: float, phi: float, min_size: int = 2) -> list[int]:
    n = len(y)
    best, best_cuts = math.inf, []
    for k in range(4):
        for cuts in itertools.combinations(range(min_size, n - min_size + 1), k):
            bounds = [0, *cuts, n]
            if any(b - a < min_size for a, b in itertools.pairwise(bounds)):
                continue
            total = sum(ar1_cost(y, a, b, phi) for a, b in itertools.pairwise(bounds)) + penalty * k
            if total < best - 1e-12:
                best, best_cuts = total, list(cuts)
    return best_cuts


@pytest.mark.parametrize("phi", [0.0, 0.4, 0.8])
@pytest.mark.parametrize("seed", [0, 1])
def test_pelt_ar1_finds_the_optimal_partition(phi, seed):
    rng = np.random.default_rng(seed)
    y = rng.normal(0, 1, 12) + np.repeat([0.0, 3.0, 1.0], [4, 5, 3])
    assert pelt_ar1(y, 3.0, phi=phi) == best_by_enumeration(y, 3.0, phi)


def test_ar1_cost_by_definition():
    y = np.array([0.3, -0.2, 1.1, 0.4, 0.0])
    phi = 0.5
    mus = np.linspace(-1, 1, 20001)
    r = y[None, :] - mus[:, None]
    direct = (1 - phi**2) * r[:, 0] ** 2 + ((r[:, 1:] - phi * r[:, :-1]) ** 2).sum(axis=1)
    assert ar1_cost(y, 0, 5, phi) == pytest.approx(direct.min(), rel=1e-6)
    assert ar1_cost(y, 0, 5, 0.0) == pytest.approx(((y - y.mean()) ** 2).sum())


# ------------------------------------------------------------------------------ trend under AR(1)
def test_mann_kendall_is_corrected_for_autocorrelation():
    from bench_pipeline.history.trend import hamed_rao_factor, trend

    assert hamed_rao_factor(30, 0.0) == 1.0 and hamed_rao_factor(30, 0.7) > hamed_rao_factor(30, 0.3) > 1
    rng = np.random.default_rng(12)
    series = [ar1(rng, 60, 0.7) for _ in range(200)]
    plain = sum(trend(y).significant for y in series) / 200
    corrected = sum(trend(y, phi=0.7).significant for y in series) / 200
    assert plain > 0.25 and corrected <= 0.10  # α = 0.05: the plain test cries wolf on wandering noise
    y = 0.01 * np.arange(60) + ar1(rng, 60, 0.7)
    assert trend(y, phi=0.7).significant  # a real +1 %/run drift still is one


def test_values_far_outside_log_medians_do_not_crash():
    """Raw nanoseconds instead of logs: levels saturate at inf, the change is still located."""
    rng = np.random.default_rng(13)
    y = 1e9 + 1e8 * np.r_[np.zeros(50), np.ones(50)] + rng.normal(0, 1e6, 100)
    assert 50 in [c.index for c in detect_changes(y).changes]
