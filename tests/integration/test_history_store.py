"""History, patterns and the learning store against a real DuckDB file: analyse_history, similarity,
quality, adaptive run counts, idempotent learning tables, the ``history --json`` contract and the
Dagster assets."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from bench_pipeline.analysis import SAMPLES_SQL, cell_stats_frame, update_comparisons
from bench_pipeline.errors import RunNotFound
from bench_pipeline.execution.adaptive import min_runs_for, suggested_min_runs
from bench_pipeline.execution.rounds import CELL_SCHEMA, SAMPLE_SCHEMA
from bench_pipeline.history import analyse_history
from bench_pipeline.patterns import error_clusters, scaling_fits
from bench_pipeline.patterns.quality import run_quality
from bench_pipeline.patterns.record import record_history, record_patterns, stored_history
from bench_pipeline.patterns.similarity import similar_runs
from bench_pipeline.store import Store
from tests.conftest import ROOT

pytestmark = pytest.mark.integration
T0 = datetime(2025, 1, 1, 3, 0, tzinfo=UTC)
N_RUNS = 20
STEP_AT = 12  # git/status gets 15 % slower from this run on


def true_median(tool: str, operation: str, fixture: str, run: int) -> float:
    """ns; git status steps up at STEP_AT; log scales linearly with commits; jj's status is slower."""
    commits = {"small": 500, "medium": 5_000, "large": 50_000}[fixture]
    base = {
        "status": 5e6 * (1.15 if tool == "git" and run >= STEP_AT else 1.0) * (1.6 if tool == "jj" else 1.0),
        "log-graph": 2e6 + 2_000 * commits,
        "snapshot": 4e6,
    }
    if operation.startswith("log-n"):
        n = int(operation.split("=")[1].rstrip("]"))
        return 1e6 + 5_000 * n
    return base[operation]


def add_run(store: Store, run: int, **kwargs) -> str:
    return add_runs(store, [run], **kwargs)[0]


def add_runs(
    store: Store,
    runs: list[int],
    *,
    suite: str = "s",
    tools: tuple[str, ...] = ("git", "jj"),
    cells: list[tuple[str, str]] | None = None,
    quick: bool = False,
    host: str = "h1",
    cv: float = 0.01,
    failures: list[dict] | None = None,
    seed: int = 0,
) -> list[str]:
    """Finished runs with 8 samples per cell (run-level noise 1 %), run_cells and cell_stats, written
    in one connection (opening DuckDB is the slow part)."""
    cells = cells or [("status", "small")]
    run_rows, samples, planned = [], [], []
    for run in runs:
        rng = np.random.default_rng(seed * 1000 + run)
        run_id = f"r{run:03d}"
        run_rows.append(
            {"run_id": run_id, "suite": suite, "started_at": T0 + timedelta(days=run),
             "finished_at": T0 + timedelta(days=run, hours=1), "status": "succeeded", "trigger": "manual",
             "backend": "local", "host": json.dumps({"fingerprint": host}), "tool_versions": "{}",
             "quick": quick, "tools": json.dumps(list(tools))}
        )  # fmt: skip
        for tool in tools:
            for operation, fixture in cells:
                level = true_median(tool, operation, fixture, run) * math.exp(rng.normal(0, 0.01))
                walls = level * np.exp(rng.normal(0, cv, 8))
                for i, wall in enumerate(walls):
                    samples.append(_sample(run_id, suite, tool, operation, fixture, i, int(wall)))
                base, params = operation, None
                if "[" in operation:
                    base = operation.split("[")[0]
                    key, value = operation.split("[")[1].rstrip("]").split("=")
                    params = json.dumps({key: int(value)})
                category = {"snapshot": "change", "status": "inspect"}.get(operation, "history")
                planned.append(
                    {"run_id": run_id, "suite": suite, "tool": tool, "operation": operation, "fixture": fixture,
                     "category": category, "status": "measured", "reason": None, "n_ok": 8, "n_failed": 0,
                     "stop": "converged", "base_operation": base, "params": params, "valid": None,
                     "equivalence": None, "similarity": None}
                )  # fmt: skip
        for i, f in enumerate(failures or []):
            samples.append(
                _sample(run_id, suite, f.get("tool", "git"), f.get("operation", "status"), "small", 100 + i, 10**6)
                | {"ok": False, "exit_code": f.get("exit_code", 128), "timed_out": f.get("timed_out", False),
                   "stderr_tail": f.get("stderr"), "oom_killed": f.get("oom", False)}
            )  # fmt: skip
    ids = [r["run_id"] for r in run_rows]
    with store.connect() as con:
        con.register("new_runs", pl.DataFrame(run_rows).to_arrow())
        con.execute("INSERT INTO runs BY NAME SELECT * FROM new_runs")
        con.register("new_samples", pl.DataFrame(samples, schema=SAMPLE_SCHEMA).to_arrow())
        con.execute("INSERT INTO samples BY NAME SELECT * FROM new_samples")
        con.register("new_cells", pl.DataFrame(planned, schema=CELL_SCHEMA).to_arrow())
        con.execute("INSERT INTO run_cells BY NAME SELECT * FROM new_cells")
        finished = con.sql(SAMPLES_SQL.replace("run_id = ?", "list_contains(?, run_id)"), params=[ids]).pl()
        con.register("new_stats", cell_stats_frame(finished).to_arrow())
        con.execute("INSERT INTO cell_stats BY NAME SELECT * FROM new_stats")
    return ids


def _sample(run_id, suite, tool, operation, fixture, i, wall) -> dict:
    return {
        "run_id": run_id, "suite": suite, "tool": tool, "operation": operation, "fixture": fixture,
        "backend": "local", "round": i, "iteration": i, "warmup": False, "wall_ns": wall,
        "user_ns": wall // 2, "sys_ns": wall // 10, "peak_rss_bytes": 1 << 24, "read_bytes": 0,
        "write_bytes": 0, "ctx_switches": 1, "exit_code": 0, "timed_out": False, "ok": True,
        "stdout_bytes": 10, "stderr_bytes": 0, "stderr_tail": None, "created_at": T0, "oom_killed": None,
    }  # fmt: skip


@pytest.fixture(scope="module")
def history_store(tmp_path_factory) -> Store:
    store = Store(tmp_path_factory.mktemp("history") / "bench.duckdb")
    add_runs(store, list(range(N_RUNS)), cells=[("status", "small"), ("snapshot", "small")])
    return store


# ------------------------------------------------------------------------------ analyse_history
def test_analyse_history_finds_the_planted_step(history_store):
    cells = {c.cell: c for c in analyse_history(history_store, "s")}
    assert set(cells) == {f"{t}/{o} (small)" for t in ("git", "jj") for o in ("status", "snapshot")}
    git, jj = cells["git/status (small)"], cells["jj/status (small)"]
    assert git.points == jj.points == N_RUNS
    assert [p.run_id for p in git.series] == [f"r{i:03d}" for i in range(N_RUNS)]
    (cp,) = git.change_points
    assert abs(cp.index - STEP_AT) <= 1 and cp.direction == "regression"
    assert cp.ratio == pytest.approx(1.15, rel=0.03)
    assert cp.after_median / cp.before_median == pytest.approx(cp.ratio)
    assert jj.change_points == [] == cells["git/snapshot (small)"].change_points
    assert not jj.gate.alert and jj.gate.reference_points == 10
    assert git.trend.since_run_id == cp.run_id and git.trend.points == N_RUNS - cp.index


def test_history_filters_tool_metric_quick_and_host(tmp_path, history_store):
    assert {c.tool for c in analyse_history(history_store, "s", tool="jj")} == {"jj"}
    cpu = analyse_history(history_store, "s", metric="cpu")
    assert {c.metric for c in cpu} == {"cpu"}
    store = Store(tmp_path / "bench.duckdb")
    add_runs(store, list(range(6)), tools=("git",))
    add_run(store, 6, tools=("git",), quick=True)
    assert analyse_history(store, "s")[0].points == 6
    assert analyse_history(store, "s", include_quick=True)[0].points == 7
    add_run(store, 7, tools=("git",), host="h2")  # the newest run is on another machine
    assert analyse_history(store, "s")[0].points == 1
    assert analyse_history(store, "s", host=None)[0].points == 7
    assert analyse_history(store, "nope") == []


# ------------------------------------------------------------------------------ learning store
def test_similar_runs_is_the_cosine_of_centred_log_medians(history_store):
    newest = f"r{N_RUNS - 1:03d}"
    got = similar_runs(history_store, newest, limit=N_RUNS)
    assert got.height == N_RUNS - 1 and (got["shared_cells"] == 4).all()
    frame = history_store.query(
        "SELECT run_id, ln(median) AS x FROM cell_stats_all WHERE metric = 'wall' ORDER BY run_id, tool, operation"
    )
    x = frame["x"].to_numpy().reshape(N_RUNS, 4)
    d = x - x.mean(axis=0)
    me = d[-1]
    expected = {
        f"r{i:03d}": float(d[i] @ me / (np.linalg.norm(d[i]) * np.linalg.norm(me))) for i in range(N_RUNS - 1)
    }
    for row in got.iter_rows(named=True):
        assert row["cosine"] == pytest.approx(expected[row["run_id"]], abs=1e-9)
    # after the step git is slow relative to its mean: the most similar runs are post-step runs
    assert all(int(r[1:]) >= STEP_AT for r in got["run_id"].head(3))


def test_run_quality_components(history_store):
    q = run_quality(history_store, "r005")
    assert q.completeness == 1.0
    assert 0.8 < q.noise <= 1.0  # CV ≈ 1 % against a 10 % scale
    assert 0.0 <= q.significance <= 1.0  # no comparisons here: share of cells that met the CI target
    assert q.quality == pytest.approx((q.noise + q.completeness + q.significance) / 3)


def test_suggested_min_runs_follows_the_cv(tmp_path):
    store = Store(tmp_path / "bench.duckdb")
    add_runs(store, list(range(5)), tools=("git",), cv=0.01, seed=1)
    add_runs(store, list(range(100, 105)), tools=("jj",), cv=0.04, seed=2)
    got = suggested_min_runs(store, "s", target_ci=0.02, max_runs=20)
    assert set(got) == {("git", "status", "small"), ("jj", "status", "small")}
    assert got[("git", "status", "small")] <= 4 < got[("jj", "status", "small")]
    assert min_runs_for(0.01, 0.02, 20) == 3 and min_runs_for(0.02, 0.02, 20) == 7
    assert min_runs_for(0.03, 0.02, 20) == 14 and min_runs_for(0.05, 0.02, 20) == 20
    assert suggested_min_runs(store, "s", min_history=6) == {}


def test_learning_tables_are_written_once_per_run(history_store):
    for _ in range(2):  # idempotent
        hist = record_history(history_store, "s")
        pats = record_patterns(history_store, "s")
    assert hist.run_id == pats.run_id == f"r{N_RUNS - 1:03d}"
    trends = history_store.query("SELECT * FROM performance_trends ORDER BY metric, tool")
    assert trends.height == 4 * 3  # four cells × wall, cpu, rss
    git_wall = trends.filter(
        (pl.col("tool") == "git") & (pl.col("metric") == "wall") & (pl.col("operation") == "status")
    ).row(0, named=True)
    assert git_wall["last_change_run_id"] == f"r{STEP_AT:03d}"
    assert json.loads(git_wall["change_points"])[0]["ratio"] == pytest.approx(1.15, rel=0.03)
    quality = history_store.query("SELECT * FROM run_quality")
    assert quality.height == 1 and 0 < quality["quality"][0] <= 1
    recs = history_store.query("SELECT kind, title, evidence FROM recommendations")
    assert recs.height == len(pats.recommendations)
    assert {"hot-path", "config"} <= set(recs["kind"].to_list())
    snapshot = json.loads(recs.filter(pl.col("kind") == "config")["evidence"][0])
    assert snapshot["share"] == pytest.approx(4 / 8, rel=0.05)  # jj: 4 ms snapshot vs 8 ms status
    assert "**" in hist.markdown() and "quality" in pats.markdown()
    stored = {(h["tool"], h["operation"]): h for h in stored_history(history_store, "s", hist.run_id)}
    assert len(stored) == 4 and len(stored[("git", "status")]["points"]) == N_RUNS
    assert stored[("git", "status")]["change_points"][0]["run_id"] == f"r{STEP_AT:03d}"
    assert stored_history(history_store, "s", "r003") == []  # the history was not recorded at r003
    try:
        from bench_pipeline.report.model import HistorySeries
    except ImportError:
        return
    for row in stored.values():
        HistorySeries.model_validate(row)


# ------------------------------------------------------------------------------ patterns from the store
def test_scaling_from_fixture_tiers_and_parameters(tmp_path):
    store = Store(tmp_path / "bench.duckdb")
    cells = [("log-graph", size) for size in ("small", "medium", "large")]
    cells += [(f"log-n[n={n}]", "small") for n in (10, 100, 1000, 10000)]
    add_run(store, 0, tools=("git",), cells=cells)
    fits = {(f.operation, f.basis): f for f in scaling_fits(store, "s")}
    graph = fits[("log-graph", "commits")]
    assert graph.growth == "linear" and [p.fixture for p in graph.sizes] == ["small", "medium", "large"]
    logn = fits[("log-n", "n")]
    assert logn.growth == "linear" and logn.fixture == "small" and len(logn.sizes) == 4
    assert logn.r_squared > 0.99


def test_error_clusters_normalise_stderr(tmp_path):
    store = Store(tmp_path / "bench.duckdb")
    add_run(
        store, 0, tools=("git",),
        failures=[{"stderr": "fatal: bad object 3f2a9c1d0e"}, {"stderr": "fatal: bad object 9b0e77d12a"},
                  {"timed_out": True, "exit_code": -9}, {"oom": True, "exit_code": 137, "operation": "status"}],
    )  # fmt: skip
    clusters = {c.signature: c for c in error_clusters(store, "s")}
    assert clusters["fatal: bad object <hex>"].count == 2
    assert clusters["timeout"].kind == "timeout" and clusters["oom-killed"].kind == "oom"


def test_bottlenecks_from_comparisons(tmp_path):
    from bench_pipeline.patterns.recommend import bottlenecks

    store = Store(tmp_path / "bench.duckdb")
    run_id = add_run(store, 0, cells=[("status", "small")])
    update_comparisons(store, "s", 0.03)
    (rec,) = bottlenecks(store, run_id)
    assert rec.tool == "jj" and rec.operation == "status" and rec.score == pytest.approx(1.6, rel=0.05)
    assert rec.evidence["against"][0]["other"] == "git"


# ------------------------------------------------------------------------------ CLI contract
def test_history_json_contract(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from bench_pipeline.interfaces.cli import main

    home = tmp_path / "home"
    store = Store(home / "bench.duckdb")
    add_runs(store, list(range(8)), tools=("git",))
    env = {**os.environ, "BENCH_PIPELINE_HOME": str(home)}
    cli = [sys.executable, "-m", "bench_pipeline", "history", "--suite", "s"]
    proc = subprocess.run([*cli, "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    (cell,) = out["cells"]
    assert set(cell) >= {"operation", "fixture", "tool", "metric", "points", "change_points", "trend"}
    assert cell["points"] == 8 and cell["metric"] == "wall" and cell["change_points"] == []
    assert set(cell["trend"]) >= {"slope_per_run", "p_value"}
    # human output and errors, in-process (the CLI's start-up is the slow part of a subprocess)
    monkeypatch.setenv("BENCH_PIPELINE_HOME", str(home))
    human = CliRunner().invoke(main, ["history", "--suite", "s"])
    assert human.exit_code == 0 and "history of suite s (wall): 1 cells over 8 runs" in human.output
    missing = CliRunner().invoke(main, ["history", "--suite", "nope"])
    assert missing.exit_code == 2 and "no succeeded runs" in missing.output
    assert not isinstance(missing.exception, RunNotFound)  # handled: a message, not a traceback


# ------------------------------------------------------------------------------ Dagster assets
def test_history_and_patterns_assets(tmp_path, monkeypatch):
    from dagster import DagsterInstance, materialize

    from assets.history import history, patterns
    from assets.partitions import sync_partitions
    from resources import StoreResource

    monkeypatch.setenv("BENCH_PIPELINE_HOME", str(tmp_path / "home"))
    db = tmp_path / "bench.duckdb"
    store = Store(db)
    add_runs(store, list(range(6)), suite="vcs", cells=[("status", "small"), ("snapshot", "small")])
    instance = DagsterInstance.ephemeral()
    sync_partitions(instance)  # suites are dynamic partitions (what the CLI and the partitions sensor do)
    result = materialize(
        [history, patterns],
        partition_key="vcs",
        resources={"store": StoreResource(database=str(db))},
        instance=instance,
    )
    assert result.success
    meta = {
        e.asset_key.path[-1]: e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert meta["history"]["cells"].value == 2 * 2 * 3
    assert "preview" in meta["patterns"] and 0 < meta["patterns"]["quality"].value <= 1
    assert store.query("SELECT count(*) FROM performance_trends").item() == 12
    assert Path(db).exists()
