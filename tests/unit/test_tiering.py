"""Tiering: counts moved per tier, checksums, views across tiers, approximations, idempotence."""

from __future__ import annotations

import hashlib
import json
import math
import stat
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from scipy import stats as sps

from bench_pipeline.analysis import cell_stats_frame, update_cell_stats
from bench_pipeline.execution.rounds import SAMPLE_SCHEMA
from bench_pipeline.ops.tiering import (
    HIST_RELATIVE_ERROR,
    Moments,
    TierError,
    TierSettings,
    histogram_bin,
    histogram_quantile,
    merge_histograms,
    merge_moments,
    tier,
    verify_tiers,
    welch_test,
)
from bench_pipeline.store import Store

AS_OF = date(2025, 7, 20)
SETTINGS = TierSettings(hot_days=7, warm_days=90)


@dataclass
class History:
    runs: pl.DataFrame  # run_id, suite, started_at, status
    samples: int


def synthesize(
    store: Store,
    *,
    as_of: date = AS_OF,
    days: int = 200,
    suites: tuple[str, ...] = ("alpha",),
    tools: tuple[str, ...] = ("git", "jj"),
    operations: tuple[str, ...] = ("status", "log"),
    fixtures: tuple[str, ...] = ("small",),
    per_cell: int = 9,
    seed: int = 7,
) -> History:
    """One run per suite and day over ``days`` days before ``as_of`` (plus an interrupted and a running
    run), with warmups, a few failed samples, and cell_stats computed by the real statistics code."""
    rng = np.random.default_rng(seed)
    run_rows, sample_rows = [], []
    for day in range(days):
        started = datetime(as_of.year, as_of.month, as_of.day, 2, tzinfo=UTC) - timedelta(days=day + 1)
        for suite in suites:
            status = "succeeded"
            if day == 30:
                status = "interrupted"
            elif day == 150:
                status = "running"  # a run whose process died without being reaped: never moves
            elif day % 17 == 0:
                status = "failed"
            run_id = f"{started:%Y%m%dT%H%M%SZ}-{suite}-{day:04d}"
            run_rows.append({"run_id": run_id, "suite": suite, "started_at": started, "status": status})
            for ti, tool in enumerate(tools):
                for oi, op in enumerate(operations):
                    for fixture in fixtures:
                        centre = 1e6 * (1 + oi) * (1 + 0.3 * ti) * (1 + 0.002 * day)
                        for i in range(-1, per_cell):  # i = -1: the warmup
                            wall = int(centre * math.exp(rng.normal(0, 0.05)))
                            failed = i >= 0 and rng.random() < 0.04
                            sample_rows.append(
                                {
                                    "run_id": run_id,
                                    "suite": suite,
                                    "tool": tool,
                                    "operation": op,
                                    "fixture": fixture,
                                    "backend": "local",
                                    "round": max(i, 0),
                                    "iteration": i,
                                    "warmup": i < 0,
                                    "wall_ns": wall,
                                    "user_ns": int(wall * 0.6),
                                    "sys_ns": 0 if oi == 0 else int(wall * 0.1),
                                    "peak_rss_bytes": int(8e6 + rng.integers(0, 1 << 20)),
                                    "read_bytes": 0,
                                    "write_bytes": 4096,
                                    "ctx_switches": 3,
                                    "exit_code": 1 if failed else 0,
                                    "timed_out": False,
                                    "ok": not failed,
                                    "stdout_bytes": 10,
                                    "stderr_bytes": 5 if failed else 0,
                                    "stderr_tail": "boom" if failed else None,
                                    "created_at": started + timedelta(seconds=len(sample_rows) % 3600),
                                }
                            )
    runs = pl.DataFrame(run_rows)
    samples = pl.DataFrame(
        sample_rows, schema={k: v for k, v in SAMPLE_SCHEMA.items() if k in sample_rows[0]}
    )
    finished = runs.filter(pl.col("status").is_in(["succeeded", "failed"]))["run_id"]
    stats = cell_stats_frame(samples.filter(pl.col("run_id").is_in(finished.implode())))
    with store.connect() as con:
        con.register("new_runs", runs.to_arrow())
        con.execute(
            """INSERT INTO runs (run_id, suite, started_at, finished_at, status, trigger, backend, host,
                                 tool_versions, settings)
               SELECT run_id, suite, started_at, started_at + INTERVAL 1 HOUR, status, 'schedule', 'local',
                      '{}', '{}', '{}' FROM new_runs"""
        )
        con.register("new_samples", samples.to_arrow())
        con.execute("INSERT INTO samples BY NAME SELECT * FROM new_samples")
        con.register("new_stats", stats.to_arrow())
        con.execute("INSERT INTO cell_stats BY NAME SELECT * FROM new_stats")
    return History(runs, samples.height)


@pytest.fixture
def store(bench_home: Path) -> Store:
    return Store()


def _cells(store: Store) -> pl.DataFrame:
    return store.query(
        "SELECT run_id, tool, operation, fixture, metric, n, n_failed, median, mean, std, min, max, p5, p95, "
        "p99, ci_low, ci_high, warnings, tier FROM cell_stats_all ORDER BY run_id, tool, operation, fixture, metric"
    )


def _older(history: History, days: int, statuses=("succeeded", "failed", "interrupted")) -> list[str]:
    cutoff = datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC) - timedelta(days=days)
    return history.runs.filter((pl.col("started_at") < cutoff) & pl.col("status").is_in(list(statuses)))[
        "run_id"
    ].to_list()


def test_counts_checksums_and_views_across_tiers(store):
    history = synthesize(store)
    before_cells = _cells(store)
    before_samples = store.query("SELECT count(*) FROM samples_all").item()
    per_run = store.query("SELECT run_id, count(*) AS n FROM samples GROUP BY run_id")
    n_samples = dict(zip(per_run["run_id"], per_run["n"], strict=True))
    # cell × metric rows per run: 3 metrics per cell (interrupted runs have samples but no cell_stats)
    stats_per_run = store.query(
        "SELECT run_id, 3 * count(DISTINCT (tool, operation, fixture)) AS n FROM samples GROUP BY run_id"
    )
    n_stats = dict(zip(stats_per_run["run_id"], stats_per_run["n"], strict=True))

    result = tier(AS_OF, SETTINGS, store=store)

    warm_runs, cold_runs = _older(history, 7), _older(history, 90)
    assert result.warm["runs"] == len(warm_runs)  # the running run stays hot
    assert result.warm["samples"] == sum(n_samples[r] for r in warm_runs)
    assert result.warm["cells"] == sum(n_stats[r] for r in warm_runs)
    assert result.cold["runs"] == len(cold_runs)
    assert result.cold["cells"] == sum(n_stats[r] for r in cold_runs)
    assert result.raw == {"samples": 0, "files": 0}
    hot_left = store.query("SELECT count(*) FROM samples").item()
    assert hot_left == history.samples - result.warm["samples"]
    assert result.totals["warm"]["cells"] + result.totals["cold"]["cells"] == result.warm["cells"]

    # one warm file per month, one read-only cold archive per year, manifests with SHA-256
    files = store.query("SELECT * FROM tier_files ORDER BY path")
    warm = files.filter(pl.col("tier") == "warm")
    cold = files.filter(pl.col("tier") == "cold")
    assert warm["period"].n_unique() == warm.height and cold["period"].n_unique() == cold.height
    assert set(cold["period"]) == {"2025"}  # 90..200 days before 2025-07-20 is 2025-01..04
    for row in files.iter_rows(named=True):
        path = store.path.parent / row["path"]
        assert path.stat().st_size == row["bytes"]
        if row["tier"] == "cold":
            assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    manifest = json.loads((store.path.parent / "tiers/cold/manifest.json").read_text())
    assert manifest["rows"] == result.cold["cells"]
    for entry in manifest["files"]:
        data = (store.path.parent / "tiers/cold" / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert verify_tiers(store) == []
    assert not list((store.path.parent / "tiers").rglob("*.tmp"))

    # the views: same cells, same exact per-cell statistics, now labelled by tier
    after_cells = _cells(store)
    assert after_cells.height == before_cells.height
    key = ["run_id", "tool", "operation", "fixture", "metric"]
    joined = before_cells.join(after_cells, on=key, suffix="_after")
    assert joined.height == before_cells.height
    for col in ("n", "n_failed"):
        assert (joined[col] == joined[f"{col}_after"]).all(), col
    for col in ("median", "mean", "std", "min", "max", "p5", "p95", "p99", "ci_low", "ci_high"):
        a, b = joined[col].to_numpy(), joined[f"{col}_after"].to_numpy()
        assert np.allclose(a, b, rtol=1e-9, equal_nan=True), col
    assert (joined["warnings"] == joined["warnings_after"]).all()
    tiers = dict(after_cells.group_by("tier").len().iter_rows())
    visible = set(before_cells["run_id"])
    assert tiers["cold"] == sum(n_stats[r] for r in cold_runs if r in visible)
    assert tiers["hot"] == before_cells.filter(~pl.col("run_id").is_in(warm_runs)).height

    # samples_all: only hot samples remain (keep_raw is off)
    after_samples = store.query("SELECT count(*) FROM samples_all").item()
    hidden = store.query(
        "SELECT count(*) FROM samples s JOIN runs r USING (run_id) WHERE r.status NOT IN ('succeeded', 'failed')"
        " OR s.warmup"
    ).item()
    assert after_samples == hot_left - hidden
    assert before_samples > after_samples


def test_second_run_moves_nothing_and_changes_nothing(store):
    synthesize(store, days=120)
    tier(AS_OF, SETTINGS, store=store)
    files = store.query("SELECT path, sha256 FROM tier_files ORDER BY path")
    cells = _cells(store)
    again = tier(AS_OF, SETTINGS, store=store)
    assert again.warm == {"runs": 0, "samples": 0, "cells": 0, "files": 0}
    assert again.cold == {"runs": 0, "cells": 0, "files": 0}
    assert store.query("SELECT path, sha256 FROM tier_files ORDER BY path").equals(files)
    assert _cells(store).equals(cells)


def test_daily_moves_compact_into_one_file_per_month_and_year(store):
    history = synthesize(store, days=200, per_cell=5)
    before = _cells(store)
    total = {"warm": 0, "cold": 0}
    for back in (120, 60, 59, 20, 0):  # an irregular schedule ends where one call would
        r = tier(AS_OF - timedelta(days=back), SETTINGS, store=store)
        total["warm"] += r.warm["runs"]
        total["cold"] += r.cold["runs"]
    assert total["warm"] == len(_older(history, 7))
    assert total["cold"] == len(_older(history, 90))
    files = store.query("SELECT tier, period, count(*) AS n FROM tier_files GROUP BY ALL")
    assert (files["n"] == 1).all()
    assert not [p for p in (store.path.parent / "tiers").rglob("*.parquet") if p.name.startswith(".")]
    on_disk = {
        str(p.relative_to(store.path.parent)) for p in (store.path.parent / "tiers").rglob("*.parquet")
    }
    assert on_disk == set(store.query("SELECT path FROM tier_files")["path"])  # retired files are gone
    after = _cells(store)
    key = ["run_id", "tool", "operation", "fixture", "metric"]
    joined = before.join(after, on=key, suffix="_after")
    assert joined.height == before.height == after.height
    assert np.allclose(joined["median"].to_numpy(), joined["median_after"].to_numpy(), equal_nan=True)


def test_keep_raw_keeps_samples_all_exact(store):
    synthesize(store, suites=("alpha", "beta"), days=100)
    before = store.query("SELECT * EXCLUDE (tier) FROM samples_all ORDER BY ALL")
    result = tier(AS_OF, TierSettings(hot_days=7, warm_days=90, keep_raw_suites=["beta"]), store=store)
    moved_beta = store.query(
        "SELECT count(*) FROM tier_runs t JOIN runs USING (run_id) WHERE runs.suite = 'beta'"
    ).item()
    assert moved_beta > 0 and result.raw["samples"] > 0
    after = store.query("SELECT * EXCLUDE (tier) FROM samples_all ORDER BY ALL")
    beta_before = before.filter(pl.col("suite") == "beta")
    beta_after = after.filter(pl.col("suite") == "beta")
    assert beta_after.equals(beta_before)  # every raw sample of the kept suite, unchanged
    assert after.filter(pl.col("suite") == "alpha").height < before.filter(pl.col("suite") == "alpha").height
    tiers = store.query("SELECT tier, count(*) AS n FROM samples_all WHERE suite = 'beta' GROUP BY tier")
    assert set(tiers["tier"]) == {"hot", "raw"}
    assert store.query("SELECT count(*) FROM tier_raw_samples").item() == result.raw["samples"]


def test_kept_raw_runs_are_not_recomputed_and_late_samples_are_not_duplicated(store):
    settings = TierSettings(hot_days=7, warm_days=90, keep_raw_suites=["beta"])
    synthesize(store, suites=("beta",), days=40)
    tier(AS_OF, settings, store=store)
    cells = _cells(store)
    samples = store.query("SELECT * EXCLUDE (tier) FROM samples_all ORDER BY ALL")
    # what the cell_stats asset does next: the tiered runs still have (hidden) hot statistics
    assert update_cell_stats(store, "beta", "git") == {} and update_cell_stats(store, "beta", "jj") == {}
    assert _cells(store).equals(cells)
    assert tier(AS_OF, settings, store=store).warm["runs"] == 0

    # samples of a tiered run loaded again (a late landing file): shown twice until the next move,
    # which drops the duplicate cells instead of writing them again
    late = store.query("SELECT run_id FROM tier_runs ORDER BY run_id LIMIT 1").item()
    with store.connect() as con:
        con.execute("INSERT INTO samples SELECT * FROM tier_raw_samples WHERE run_id = ?", [late])
    assert store.query("SELECT count(*) FROM samples_all").item() > samples.height
    again = tier(AS_OF, settings, store=store)
    assert again.warm["runs"] == 1 and again.warm["cells"] == 0 and again.discarded > 0
    assert again.raw["samples"] == 0
    assert _cells(store).equals(cells)
    assert store.query("SELECT * EXCLUDE (tier) FROM samples_all ORDER BY ALL").equals(samples)


def test_pooled_median_from_histograms_within_documented_error(store):
    synthesize(store, days=60, per_cell=20)
    raw = store.query(
        "SELECT tool, operation, wall_ns FROM samples s JOIN runs r USING (run_id) "
        "WHERE ok AND NOT warmup AND r.status IN ('succeeded', 'failed') AND r.started_at < ?",
        [datetime(2025, 7, 13, tzinfo=UTC)],
    )
    tier(AS_OF, SETTINGS, store=store)
    warm = store.query(
        "SELECT tool, operation, n, mean, m2, hist_bins, hist_counts FROM cell_stats_all "
        "WHERE tier = 'warm' AND metric = 'wall'"
    )
    for (tool, op), group in warm.group_by(["tool", "operation"]):
        exact = raw.filter((pl.col("tool") == tool) & (pl.col("operation") == op))["wall_ns"].to_numpy()
        hist = merge_histograms(list(zip(group["hist_bins"], group["hist_counts"], strict=True)))
        for q in (0.05, 0.5, 0.95):
            approx = histogram_quantile(hist, q)
            assert abs(approx / np.quantile(exact, q) - 1) < HIST_RELATIVE_ERROR, (tool, op, q)
        pooled = merge_moments([Moments(*r) for r in group.select("n", "mean", "m2").iter_rows()])
        assert pooled.n == len(exact)
        assert math.isclose(pooled.mean, exact.mean(), rel_tol=1e-12)
        assert math.isclose(pooled.variance, exact.var(ddof=1), rel_tol=1e-9)


def test_welch_from_sufficient_statistics_matches_scipy_on_raw(store):
    synthesize(store, days=30, per_cell=15)
    raw = store.query(
        "SELECT run_id, wall_ns FROM samples WHERE tool = 'git' AND operation = 'log' AND ok AND NOT warmup"
    )
    tier(AS_OF, SETTINGS, store=store)
    cells = store.query(
        "SELECT run_id, n, mean, m2 FROM cell_stats_all WHERE tool = 'git' AND operation = 'log' "
        "AND metric = 'wall' AND tier = 'warm' ORDER BY run_id LIMIT 2"
    )
    a, b = (Moments(*r) for r in cells.select("n", "mean", "m2").iter_rows())
    xa = raw.filter(pl.col("run_id") == cells["run_id"][0])["wall_ns"].to_numpy().astype(float)
    xb = raw.filter(pl.col("run_id") == cells["run_id"][1])["wall_ns"].to_numpy().astype(float)
    ref = sps.ttest_ind(xb, xa, equal_var=False)
    got = welch_test(a, b)
    assert math.isclose(got.t, ref.statistic, rel_tol=1e-9)
    assert math.isclose(got.p_value, ref.pvalue, rel_tol=1e-7)


def test_histogram_helpers_edge_cases():
    assert math.isnan(histogram_quantile({}, 0.5))
    assert histogram_quantile({-1: 3}, 0.5) == 0.0  # values below 1 (e.g. 0 ns of system time)
    b = histogram_bin(1_000_000)
    assert 2 ** (b / 32) <= 1_000_000 < 2 ** ((b + 1) / 32)
    one = histogram_quantile({b: 1}, 0.5)
    assert abs(one / 1_000_000 - 1) < HIST_RELATIVE_ERROR
    assert merge_histograms([([1, 2], [3, 4]), ([2], [1]), (None, None)]) == {1: 3, 2: 5}
    m = merge_moments([Moments(0, math.nan, 0.0), Moments(1, 5.0, 0.0)])
    assert m == Moments(1, 5.0, 0.0)
    assert math.isnan(welch_test(Moments(1, 1.0, 0.0), Moments(5, 2.0, 1.0)).p_value)


def test_settings_precedence_and_errors(bench_home, monkeypatch):
    bench_home.mkdir(parents=True, exist_ok=True)
    (bench_home / "operations.yaml").write_text("tiering:\n  hot_days: 3\n  warm_days: 30\n")
    assert TierSettings.load().hot_days == 3
    monkeypatch.setenv("BENCH_PIPELINE_HOT_DAYS", "5")
    assert (TierSettings.load().hot_days, TierSettings.load().warm_days) == (5, 30)
    assert TierSettings.load(hot_days=1).hot_days == 1
    with pytest.raises(TierError, match="warm_days"):
        TierSettings.load(warm_days=2)
    (bench_home / "operations.yaml").write_text("tiering: [1, 2\n")
    with pytest.raises(TierError, match="YAML"):
        TierSettings.load()


def test_interrupted_move_is_cleaned_up_and_redone(store):
    synthesize(store, days=20)
    with store.connect() as con:
        con.execute(
            "INSERT INTO tier_moves (move_id, kind, as_of, state, started_at) "
            "VALUES ('20250101T000000Z-warm-deadbeef', 'warm', DATE '2025-01-01', 'written', now())"
        )
    stray = store.path.parent / "tiers/warm/2025-06/cells-20250101T000000Z-warm-deadbeef.parquet"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"half a file")
    result = tier(AS_OF, SETTINGS, store=store)
    assert result.recovered == ["20250101T000000Z-warm-deadbeef"]
    assert not stray.exists()
    state = store.query("SELECT state FROM tier_moves WHERE move_id LIKE '%deadbeef'").item()
    assert state == "abandoned"
    assert result.warm["runs"] > 0 and verify_tiers(store) == []


def test_cli_tier_json_and_errors(bench_home):
    from bench_pipeline.interfaces.cli import main

    store = Store()
    synthesize(store, days=15)
    runner = CliRunner()
    out = runner.invoke(main, ["tier", "--as-of", AS_OF.isoformat(), "--json", "--verify"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout.strip().splitlines()[-1])
    assert payload["as_of"] == "2025-07-20" and payload["verified"] is True
    # runs started 8..15 days before as_of move (the cutoff is as_of - 7 days, 00:00 UTC); 1..7 stay hot
    assert payload["warm"]["runs"] == 8
    assert set(payload) >= {"warm", "cold", "raw", "totals", "recovered"}
    warm_file = next((bench_home / "tiers/warm").rglob("*.parquet"))
    warm_file.write_bytes(warm_file.read_bytes()[:-10] + b"0123456789")  # damaged on disk
    damaged = runner.invoke(main, ["tier", "--as-of", AS_OF.isoformat(), "--verify"])
    assert damaged.exit_code == 2 and "checksum mismatch" in damaged.output
    assert "Traceback" not in damaged.output
    with Store().connect() as con:  # a new run of that month must merge the damaged file: refused
        con.execute("UPDATE runs SET started_at = started_at - INTERVAL 1 DAY")
    moved = runner.invoke(main, ["tier", "--as-of", AS_OF.isoformat()])
    assert moved.exit_code == 2 and "tier move failed" in moved.output and "Traceback" not in moved.output
    bad = runner.invoke(main, ["tier", "--as-of", "20-07-2025"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output and "Traceback" not in bad.output
    bad = runner.invoke(main, ["tier", "--hot-days", "30", "--warm-days", "10"])
    assert bad.exit_code == 2 and "warm_days" in bad.output


def test_extra_metrics_leave_hot_with_their_samples(store):
    """sample_metrics rows are raw values: a moved run loses them (its cell_stats rows, extra
    metrics included, go to warm); a kept-raw suite and hot runs keep them."""
    synthesize(store, suites=("alpha", "beta"), days=20)
    runs = store.query(
        "SELECT run_id, suite, started_at FROM runs WHERE status = 'succeeded' ORDER BY started_at"
    )
    old_alpha = runs.filter(pl.col("suite") == "alpha")["run_id"][0]  # 20 days old: moves
    old_beta = runs.filter(pl.col("suite") == "beta")["run_id"][0]
    hot_alpha = runs.filter(pl.col("suite") == "alpha")["run_id"][-1]  # yesterday: stays hot
    with store.connect() as con:
        for run_id in (old_alpha, old_beta, hot_alpha):
            con.execute(
                """INSERT INTO sample_metrics
                   SELECT run_id, suite, tool, operation, fixture, round, iteration, 'tokens', 1000.0 + iteration, NULL
                   FROM samples WHERE run_id = ? AND NOT warmup""",
                [run_id],
            )
            con.execute(
                """INSERT INTO cell_stats SELECT * REPLACE ('tokens' AS metric)
                   FROM cell_stats WHERE run_id = ? AND metric = 'wall'""",
                [run_id],
            )
    before = {
        r: store.query("SELECT count(*) FROM sample_metrics WHERE run_id = ?", [r]).item()
        for r in (old_alpha, old_beta, hot_alpha)
    }
    assert min(before.values()) > 0
    tier(AS_OF, TierSettings(hot_days=7, warm_days=90, keep_raw_suites=["beta"]), store=store)
    after = {
        r: store.query("SELECT count(*) FROM sample_metrics WHERE run_id = ?", [r]).item() for r in before
    }
    assert after == {old_alpha: 0, old_beta: before[old_beta], hot_alpha: before[hot_alpha]}
    tokens = store.query(
        "SELECT tier, count(*) AS n FROM cell_stats_all WHERE run_id = ? AND metric = 'tokens' GROUP BY tier",
        [old_alpha],
    )
    assert tokens["tier"].to_list() == ["warm"] and tokens["n"][0] > 0
