"""Ingestion as a store operation: one transaction, idempotent, runs joined on purpose only, and
ingested runs going through the same statistics, comparisons and reports as local runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from bench_pipeline import analysis, paths
from bench_pipeline.errors import IngestError, StoreError
from bench_pipeline.ingest import ingest_files as stored_only_
from bench_pipeline.ingest.load import INGEST_DIR
from bench_pipeline.report.render import render_run
from bench_pipeline.resume import complete_runs
from bench_pipeline.resume import ingest_and_complete as ingest_files  # stored, analysed, finished
from bench_pipeline.store import Store

DATA = Path(__file__).resolve().parents[1] / "data" / "ingest"


@pytest.fixture
def store(bench_home: Path) -> Store:
    return Store()


def stored_only(path: Path, **options: str) -> None:
    """Ingestion's storing step alone: the run stays pending until it is completed."""
    stored_only_([path], **options)


def count(store: Store, sql: str, params: list | None = None) -> int:
    return int(store.query(sql, params).item(0, 0))


def landing_files() -> list[Path]:
    root = paths.landing_dir()
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_same_file_twice_is_stored_once(store: Store) -> None:
    first = ingest_files([DATA / "hyperfine.json"])
    second = ingest_files([DATA / "hyperfine.json"])
    assert second.run_id == first.run_id and second.samples == 0 and second.created == []
    assert any("already ingested" in w for w in second.warnings)
    assert count(store, "SELECT count(*) FROM samples") == 10
    assert count(store, "SELECT count(*) FROM runs") == 1


def test_files_with_one_run_id_join_one_run(store: Store) -> None:
    together = ingest_files([DATA / "gotest.txt", DATA / "bmf.json"], run_id="joined", suite="mixed")
    assert together.run_ids == ["joined"] and together.formats == ["bmf", "gotest"]
    later = ingest_files([DATA / "hyperfine.json"], run_id="joined", suite="mixed")
    assert later.created == [] and later.samples == 10
    assert count(store, "SELECT count(*) FROM runs") == 1
    tools = store.query("SELECT DISTINCT tool FROM samples_all WHERE run_id = 'joined' ORDER BY 1")[
        "tool"
    ].to_list()
    assert tools == ["bmf", "gotest", "hyperfine"]
    rounds = store.query("SELECT round FROM samples WHERE run_id = 'joined'")["round"]
    assert rounds.n_unique() == rounds.len()  # no two sources share a round: never paired by accident
    sources = store.query(
        "SELECT source, format FROM ingest_sources WHERE run_id = 'joined' ORDER BY 1"
    ).rows()
    assert sources == [("bmf.json", "bmf"), ("gotest.txt", "gotest"), ("hyperfine.json", "hyperfine")]


def test_joining_refuses_duplicate_cells_other_suites_and_local_runs(store: Store) -> None:
    ingest_files([DATA / "hyperfine.json"], run_id="r1", suite="s")
    with pytest.raises(IngestError, match="already has results"):
        ingest_files([DATA / "hyperfine-params.json"], run_id="r1", suite="s")  # "sleep 0.01" again
    with pytest.raises(IngestError, match="belongs to suite"):
        ingest_files([DATA / "bmf.json"], run_id="r1", suite="other")
    store.create_run(
        "local-run",
        "s",
        trigger="manual",
        backend="local",
        host={},
        settings={},
        tools=[],
        sizes=[],
        quick=False,
        suite_sha256="x",
    )
    with pytest.raises(IngestError, match="was not ingested"):
        ingest_files([DATA / "bmf.json"], run_id="local-run", suite="s")
    assert count(store, "SELECT count(*) FROM samples") == 10


def test_a_bad_file_among_good_ones_stores_nothing(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"results": [{"command": "x", "times": [0.1, "fast"]}]}')
    with pytest.raises(IngestError) as err:
        ingest_files([DATA / "hyperfine.json", bad])
    assert "bad.json" in err.value.render() and "times[1]" in err.value.render()
    assert not Path(store.path).exists() or count(store, "SELECT count(*) FROM runs") == 0
    assert landing_files() == []


def test_a_failed_load_leaves_no_run_and_no_landing_files(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Store, landing_dir: Path | None = None, **_: object) -> None:
        assert landing_dir is not None and any(landing_dir.rglob("runs+*.parquet"))  # the run row travels too
        raise StoreError("disk full", fix="free space")

    # a context, not monkeypatch.undo(): undo would also drop bench_home's BENCH_PIPELINE_HOME
    with monkeypatch.context() as patch, pytest.raises(StoreError):
        patch.setattr(Store, "load_landing", broken)
        ingest_files([DATA / "hyperfine.json"])
    assert count(store, "SELECT count(*) FROM runs") == 0
    assert count(store, "SELECT count(*) FROM samples") == 0
    assert landing_files() == []


def test_landing_files_stay_out_of_the_local_load_path(store: Store) -> None:
    ingest_files([DATA / "hyperfine.json"])
    files = landing_files()
    assert files and all(INGEST_DIR in f.parts for f in files)
    assert store.load_landing().files == []  # the samples asset's load finds nothing to do twice


def test_ingested_runs_go_through_statistics_comparisons_and_reports(store: Store) -> None:
    for tool in ("fast", "slow"):
        ingest_files([DATA / "hyperfine.json"], run_id="cmp", suite="shell", tool=tool)
    # ingestion completes the run: its statistics and comparisons are there, nothing is missing
    assert analysis.update_cell_stats(store, "shell", "fast") == {}
    assert store.run("cmp")["status"] == "succeeded"
    stats = store.query("SELECT * FROM cell_stats_all WHERE run_id = 'cmp' AND metric = 'wall'")
    assert stats.height == 4 and set(stats["n"]) == {5}
    median = store.query(
        "SELECT median(wall_ns) FROM samples_all WHERE run_id = 'cmp' AND tool = 'fast' AND operation = 'true'"
    ).item(0, 0)
    fast_true = stats.filter((pl.col("tool") == "fast") & (pl.col("operation") == "true"))
    assert fast_true["median"][0] == pytest.approx(median)
    assert count(store, "SELECT count(*) FROM comparisons WHERE run_id = 'cmp'") > 0
    verdicts = store.query(
        "SELECT DISTINCT verdict FROM comparisons WHERE run_id = 'cmp' AND metric = 'wall'"
    )
    assert set(verdicts["verdict"]) <= {"equivalent", "inconclusive"}
    report, written = render_run(store, "shell", "cmp", ["md", "json"])
    assert report.samples == 20 and "true" in written["md"].read_text()


def test_joining_a_run_drops_its_stale_statistics(store: Store) -> None:
    ingest_files([DATA / "hyperfine.json"], run_id="grow", suite="s", tool="t")
    assert count(store, "SELECT count(*) FROM cell_stats WHERE run_id = 'grow'") > 0
    stored_only(DATA / "bmf.json", run_id="grow", suite="s", tool="t")
    # the join dropped the stale statistics and made the run pending again, in the load's transaction
    assert count(store, "SELECT count(*) FROM cell_stats WHERE run_id = 'grow'") == 0
    assert store.run("grow")["status"] == "running"
    complete_runs(store)
    assert store.run("grow")["status"] == "succeeded"
    ops = store.query("SELECT DISTINCT operation FROM cell_stats WHERE run_id = 'grow' ORDER BY 1")
    # "binary" has no latency, only a size metric: analysed too (metrics-only samples)
    assert ops["operation"].to_list() == ["binary", "parse/large", "parse/small", "sleep 0.01", "true"]


def test_summary_rows_get_statistics_of_one(store: Store) -> None:
    result = ingest_files([DATA / "pytest-benchmark-summary.json"], suite="py", tool="pb")
    analysis.update_cell_stats(store, "py", "pb")
    stats = store.query(
        "SELECT n, median FROM cell_stats_all WHERE run_id = ? AND metric = 'wall'", [result.run_id]
    )
    assert set(stats["n"]) == {1}
    run = json.loads(store.run(result.run_id)["settings"])
    assert run["ingest"]["formats"] == ["pytest-benchmark"]


def test_extra_metrics_are_analysed_like_any_other_metric(store: Store, tmp_path: Path) -> None:
    """tokens / score / retries of two agents in one run: statistics for each extra metric, ratios
    for the positive ones (retries are all 0: statistics, no ratio), direction-neutral findings."""
    files = []
    for tool, tokens, score in (("agent-a", 1000, 0.80), ("agent-b", 1300, 0.60)):
        samples = [
            {
                "operation": "fix-bug",
                "wall_ns": 2_000_000_000 + 1_000_000 * i,
                "metrics": {"tokens": tokens + 5 * i, "score": round(score + 0.002 * i, 3), "retries": 0},
            }
            for i in range(12)
        ]
        path = tmp_path / f"{tool}.json"
        path.write_text(json.dumps({"run_id": "x", "suite": "agents", "tool": tool, "samples": samples}))
        files.append(path)
    ingest_files(files, run_id="x")
    analysis.analyse_runs(store, ["x"])
    stats = store.query("SELECT tool, metric, n, median FROM cell_stats WHERE run_id = 'x'")
    medians = {(r["tool"], r["metric"]): r["median"] for r in stats.iter_rows(named=True)}
    assert medians[("agent-a", "tokens")] == pytest.approx(1027.5)  # 1000 + 5 × 5.5
    assert medians[("agent-b", "score")] == pytest.approx(0.611)
    assert medians[("agent-a", "retries")] == 0
    compared = store.query("SELECT metric, ratio, verdict FROM comparisons WHERE run_id = 'x'")
    ratios = {r["metric"]: r for r in compared.iter_rows(named=True)}
    assert set(ratios) == {"wall", "cpu", "rss", "tokens", "score"}  # no ratio of zeros
    assert (
        ratios["tokens"]["ratio"] == pytest.approx(1327.5 / 1027.5)
        and ratios["tokens"]["verdict"] == "slower"
    )
    assert ratios["score"]["ratio"] == pytest.approx(0.611 / 0.811)
    _, written = render_run(store, "agents", "x", ["md", "json"])
    md = written["md"].read_text()
    assert "agent-b has 1.29× the tokens of agent-a at `fix-bug`" in md
    assert "agent-b has 0.75× the score of agent-a" in md
    report = json.loads(written["json"].read_text())
    assert set(report["operations"][0]["tools"]["agent-a"]["metrics"]) >= {"tokens", "score", "retries"}


def test_extra_metrics_have_a_history(store: Store, tmp_path: Path) -> None:
    """Twelve nightly runs of one agent whose token use steps up by 20 % from the seventh: the history
    of `tokens` finds the change point (analyse_history takes any metric key)."""
    from bench_pipeline.history import analyse_history

    for night in range(12):
        level = 1000 * (1.2 if night >= 6 else 1.0) * (1 + 0.004 * (night % 3))
        samples = [
            {"operation": "fix-bug", "wall_ns": 10**9 + i, "metrics": {"tokens": level + i}} for i in range(8)
        ]
        path = tmp_path / f"n{night}.json"
        path.write_text(
            json.dumps({"run_id": f"n{night:02d}", "suite": "agents", "tool": "agent-a", "samples": samples})
        )
        ingest_files([path], started_at=datetime(2026, 1, night + 1, 3, tzinfo=UTC))
    analysis.analyse_runs(store, [f"n{n:02d}" for n in range(12)])
    (cell,) = analyse_history(store, "agents", metric="tokens")
    assert cell.points == 12 and cell.metric == "tokens"
    (change,) = cell.change_points
    assert change.run_id == "n06" and change.ratio == pytest.approx(1.2, rel=0.02)
    # the nightly history asset's recorder takes them too (performance_trends)
    from bench_pipeline.patterns.record import record_history

    record = record_history(store, "agents")
    assert set(record.cells) == {"wall", "cpu", "rss", "tokens"}
    trends = store.query("SELECT metric, last_change_run_id FROM performance_trends WHERE metric = 'tokens'")
    assert trends.rows() == [("tokens", "n06")]
