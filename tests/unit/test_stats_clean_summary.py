"""Cleaning flags and per-cell summaries on small frames with hand-checked values."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps

from bench_pipeline.stats import (
    FLAG_COLUMNS,
    SAMPLE_COLUMNS,
    STAT_COLUMNS,
    StatsInputError,
    cell_stats,
    clean_samples,
)


def samples(
    wall: list[float],
    *,
    tool: str = "git",
    operation: str = "status",
    exit_code: list[int] | None = None,
    warmup: list[bool] | None = None,
    rss: list[int | None] | None = None,
    rounds: list[int] | None = None,
) -> pl.DataFrame:
    n = len(wall)
    return pl.DataFrame(
        {
            "run_id": ["r1"] * n,
            "suite": ["vcs"] * n,
            "tool": [tool] * n,
            "operation": [operation] * n,
            "fixture": ["small"] * n,
            "round": rounds if rounds is not None else list(range(n)),
            "iteration": [0] * n,
            "wall_ns": [int(v) for v in wall],
            "user_ns": [int(v) // 2 for v in wall],
            "sys_ns": [int(v) // 4 for v in wall],
            "peak_rss_bytes": pl.Series(rss if rss is not None else [4096] * n, dtype=pl.Int64),
            "exit_code": exit_code if exit_code is not None else [0] * n,
            "timed_out": [False] * n,
            "warmup": warmup if warmup is not None else [False] * n,
        },
        schema_overrides={"round": pl.Int64, "iteration": pl.Int64, "exit_code": pl.Int64},
    )


# ------------------------------------------------------------------------------------------ clean


def test_outlier_flags_on_a_known_vector():
    # median 100, |x - 100| = 0,1,1,0,2,2,0,400 -> MAD = 1; M = 0.6745 * dev / 1
    df = samples([100, 101, 99, 100, 102, 98, 100, 500])
    out = clean_samples(df)
    assert out["modified_z"].to_list() == pytest.approx([0, 0.6745, 0.6745, 0, 1.349, 1.349, 0, 269.8])
    assert out["outlier"].to_list() == [False] * 7 + [True]
    assert out.height == df.height and out.columns == [*df.columns, *FLAG_COLUMNS]


def test_threshold_is_strictly_above_3_5():
    # median 100000, MAD 1000: the threshold 3.5 lies between 105189 (z = 3.49998) and 105190 (3.5006)
    base = [99_000, 100_000, 101_000, 99_000, 100_000, 101_000, 100_000]
    below = clean_samples(samples([*base, 105_189]))
    above = clean_samples(samples([*base, 105_190]))
    assert below["modified_z"][-1] == pytest.approx(0.6745 * 5.189)
    assert below["outlier"][-1] is False and above["outlier"][-1] is True


def test_mad_zero_falls_back_to_mean_absolute_deviation():
    # median 5, MAD 0; MeanAD = 95/8 -> sigma = 1.2533 * 11.875; z(100) = 95 / 14.883 = 6.38
    out = clean_samples(samples([5, 5, 5, 5, 5, 5, 5, 100]))
    assert out["outlier"].to_list() == [False] * 7 + [True]
    assert out["modified_z"][-1] == pytest.approx(95 / (1.2533141373155001 * 95 / 8))
    # MAD 0, small deviations: z(6) = 1 / (1.2533 * 0.4) = 1.99 -> no outlier
    out = clean_samples(samples([5, 5, 5, 6, 6]))
    assert not out["outlier"].any()
    # all identical: scale 0, nothing flagged, z = 0
    out = clean_samples(samples([7] * 6))
    assert not out["outlier"].any() and out["modified_z"].to_list() == [0.0] * 6


def test_tukey_fences():
    # 1..10 and 30: Q1 = 3.5, Q3 = 8.5, IQR = 5 -> mild above 16, extreme above 23.5
    out = clean_samples(samples([*range(1, 11), 17]))
    assert out["tukey_mild"].to_list() == [False] * 10 + [True]
    assert out["tukey_extreme"].to_list() == [False] * 11
    # Q1 = 3.5, Q3 = 8.5 again with 30 -> extreme
    out = clean_samples(samples([*range(1, 11), 30]))
    assert out["tukey_mild"][-1] and out["tukey_extreme"][-1]


def test_slow_first_run():
    wall = [130, 100, 101, 99, 100, 102, 98]  # MAD 1: 130 > 100 + 3 * 1.4826
    out = clean_samples(samples(wall))
    assert out["slow_first"].to_list() == [True] + [False] * 6
    # the first run is judged by (round, iteration), not by row order
    out = clean_samples(samples(wall, rounds=[5, 0, 1, 2, 3, 4, 6]))
    assert not out["slow_first"].any()
    # noisy cell: 3 sigma is wide, but 1.5 x median still catches it
    noisy = [160, 60, 140, 80, 120, 100, 100, 90, 110]
    assert clean_samples(samples(noisy))["slow_first"][0]
    # fewer than 3 included samples: no judgement
    assert not clean_samples(samples([500, 100]))["slow_first"].any()


def test_failed_and_warmup_rows_are_kept_but_not_judged():
    df = samples([900, 100, 101, 99, 100, 5000], exit_code=[0, 0, 0, 0, 0, 1], warmup=[True] + [False] * 5)
    out = clean_samples(df)
    assert out.height == 6
    assert out["failed"].to_list() == [False] * 5 + [True]
    assert out["included"].to_list() == [False, True, True, True, True, False]
    assert not out["outlier"][0] and not out["outlier"][5]  # 900 and 5000 are not judged
    assert out["modified_z"][0] is None and out["modified_z"][5] is None
    assert out["slow_first"].to_list() == [False] * 6  # first *timed* run is 100


def test_timed_out_counts_as_failed():
    df = samples([100, 100, 100]).with_columns(pl.Series("timed_out", [False, True, False]))
    assert clean_samples(df)["failed"].to_list() == [False, True, False]


def test_empty_frame_keeps_schema():
    empty = samples([]).clear()
    out = clean_samples(empty)
    assert out.height == 0
    assert out.columns == [*empty.columns, *FLAG_COLUMNS]
    assert set(SAMPLE_COLUMNS) <= set(out.columns)
    assert out.schema["outlier"] == pl.Boolean and out.schema["modified_z"] == pl.Float64


def test_missing_column_is_a_clear_error():
    with pytest.raises(StatsInputError, match="wall_ns"):
        clean_samples(samples([1, 2, 3]).drop("wall_ns"))


# ---------------------------------------------------------------------------------------- summary


def test_cell_stats_values_match_numpy_and_scipy():
    rng = np.random.default_rng(7)
    wall = np.round(rng.lognormal(np.log(1e6), 0.05, 41)).astype(int)
    out = cell_stats(samples(wall.tolist()), metrics="wall")
    assert out.columns == ["suite", "tool", "operation", "fixture", "run_id", "metric", *STAT_COLUMNS]
    row = out.row(0, named=True)
    x = wall.astype(float)
    assert row["n"] == 41 and row["n_failed"] == 0
    assert row["median"] == pytest.approx(np.median(x))
    assert row["mean"] == pytest.approx(x.mean())
    assert row["trimmed_mean"] == pytest.approx(sps.trim_mean(x, 0.1))
    assert row["std"] == pytest.approx(x.std(ddof=1))
    assert row["mad"] == pytest.approx(np.median(np.abs(x - np.median(x))))
    assert row["iqr"] == pytest.approx(np.quantile(x, 0.75) - np.quantile(x, 0.25))
    for col, q in (("p5", 0.05), ("p95", 0.95), ("p99", 0.99)):
        assert row[col] == pytest.approx(np.quantile(x, q))
    assert (row["min"], row["max"]) == (x.min(), x.max())
    assert row["cv"] == pytest.approx(x.std(ddof=1) / x.mean())
    assert row["first_run_ratio"] == pytest.approx(x[0] / np.median(x))
    # n = 41: l = 14 -> [X(14), X(28)]
    xs = np.sort(x)
    assert (row["ci_low"], row["ci_high"]) == (xs[13], xs[27])
    assert row["ci_coverage"] == pytest.approx(1 - 2 * sps.binom.cdf(13, 41, 0.5))


def test_cell_stats_metrics_and_failures():
    df = pl.concat(
        [
            samples([100, 110, 120, 130], exit_code=[0, 0, 0, 1], rss=[4096, None, 8192, 4096]),
            samples([50, 60], tool="jj", exit_code=[2, 2]),
        ]
    )
    out = cell_stats(df)
    git = {r["metric"]: r for r in out.filter(pl.col("tool") == "git").iter_rows(named=True)}
    assert git["wall"]["n"] == 3 and git["wall"]["n_failed"] == 1
    assert git["cpu"]["median"] == 110 // 2 + 110 // 4
    assert git["rss"]["n"] == 2 and git["rss"]["median"] == 6144  # null rss ignored
    jj = out.filter(pl.col("tool") == "jj")
    assert jj.height == 3 and jj["n"].to_list() == [0, 0, 0]  # the cell is explicit, not a gap
    assert jj["median"].null_count() == 3
    assert all(w == ["no_samples", "failed_samples"] for w in jj["warnings"].to_list())


def test_cell_stats_ci_needs_six_samples():
    out = cell_stats(samples([10, 11, 12, 13, 14]), metrics="wall")
    assert out["ci_low"][0] is None and out["ci_coverage"][0] is None
    assert "few_samples" in out["warnings"][0]
    out = cell_stats(samples([10, 11, 12, 13, 14, 15]), metrics="wall")
    assert (out["ci_low"][0], out["ci_high"][0]) == (10, 15)  # l = 1 at n = 6
    assert out["ci_coverage"][0] == pytest.approx(1 - 2 / 64)


def test_cell_stats_warnings():
    quiet = cell_stats(samples([100, 101, 99, 100, 102, 98, 100, 101]), metrics="wall")
    assert quiet["warnings"].to_list() == [[]]
    noisy = cell_stats(samples([300, 101, 99, 100, 102, 98, 100, 160, 170, 30]), metrics="wall")
    w = noisy["warnings"].to_list()[0]
    assert {
        "high_cv",
        "max_far_from_median",
        "min_far_from_median",
        "many_outliers",
        "slow_first_run",
    } <= set(w)


def test_cell_stats_empty_and_errors():
    out = cell_stats(samples([]).clear())
    assert out.height == 0
    assert out.columns == ["suite", "tool", "operation", "fixture", "run_id", "metric", *STAT_COLUMNS]
    assert out.schema["warnings"] == pl.List(pl.String)
    with pytest.raises(StatsInputError, match="unknown metric"):
        cell_stats(samples([1, 2]), metrics="latency")
