"""Each ingestion adapter on a file in its format: detection by content, what is kept, exact values.

Files in tests/data/ingest (see its README): hyperfine, criterion, cargo-criterion, pytest-benchmark,
Google Benchmark and go test files are real output of the tools captured on this machine;
``hyperfine-memory.json`` (hyperfine ≥ 1.19 fields), ``bmf.json`` and the bundles are written to the
published format / our schema. Expected nanoseconds are computed here from the file text with
exact decimal arithmetic, independently of the adapters.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import polars as pl
import pytest

from bench_pipeline.ingest import FORMATS, Source, detect_format, export_run
from bench_pipeline.resume import ingest_and_complete as ingest_files  # stored, analysed, finished
from bench_pipeline.store import Store

DATA = Path(__file__).resolve().parents[1] / "data" / "ingest"


def raw(name: str) -> object:
    return json.loads((DATA / name).read_text(), parse_float=Decimal)


def ns(value: Decimal | int | str, factor: int | Decimal = 10**9) -> int:
    return int((Decimal(value) * factor).to_integral_value(rounding=ROUND_HALF_EVEN))


@pytest.fixture
def store(bench_home: Path) -> Store:
    return Store()


def samples(store: Store, run_id: str) -> pl.DataFrame:
    return store.query(
        "SELECT * FROM samples_all WHERE run_id = ? ORDER BY tool, operation, fixture, iteration", [run_id]
    )


def metric(
    store: Store, run_id: str, key: str, operation: str | None = None
) -> list[tuple[float, str | None]]:
    df = store.query(
        "SELECT value, unit FROM sample_metrics_all WHERE run_id = ? AND key = ? "
        "AND (CAST(? AS VARCHAR) IS NULL OR operation = ?) ORDER BY tool, operation, fixture, iteration",
        [run_id, key, operation, operation],
    )
    return list(df.iter_rows())


def walls(df: pl.DataFrame, operation: str) -> list[int]:
    return df.filter(pl.col("operation") == operation)["wall_ns"].to_list()


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("hyperfine.json", "hyperfine"),
        ("hyperfine-params.json", "hyperfine"),
        ("hyperfine-memory.json", "hyperfine"),
        ("criterion", "criterion"),
        ("criterion/fib/recursive/5/new/estimates.json", "criterion"),
        ("cargo-criterion.jsonl", "cargo-criterion"),
        ("pytest-benchmark.json", "pytest-benchmark"),
        ("pytest-benchmark-summary.json", "pytest-benchmark"),
        ("gbench.json", "gbench"),
        ("gbench-aggregates.json", "gbench"),
        ("gotest.txt", "gotest"),
        ("gotest.jsonl", "gotest"),
        ("bmf.json", "bmf"),
        ("bundle-batch.json", "bundle"),
        ("bundle-run.json", "bundle"),
    ],
)
def test_format_is_detected_from_content(name: str, fmt: str) -> None:
    assert detect_format(Source(DATA / name)) == fmt
    assert fmt in FORMATS


def test_hyperfine_keeps_every_run_exactly(store: Store) -> None:
    result = ingest_files([DATA / "hyperfine.json"], suite="hf", tool="shell")
    df = samples(store, result.run_id)
    doc = raw("hyperfine.json")
    assert result.samples == 10 and result.operations == 2
    for r in doc["results"]:
        assert walls(df, r["command"]) == [ns(t) for t in r["times"]]
    assert set(df["backend"]) == {"external"} and df["ok"].all() and set(df["exit_code"]) == {0}
    cells = store.query("SELECT * FROM run_cells WHERE run_id = ?", [result.run_id])
    assert set(cells["status"]) == {"measured"} and set(cells["stop"]) == {"ingested"}
    origin = store.query(
        "SELECT * FROM ingest_cells WHERE run_id = ? AND operation = 'true'", [result.run_id]
    )
    summary = json.loads(origin["summary"][0])
    assert origin["kind"][0] == "raw" and origin["n_source"][0] == 5
    assert summary["user_mean_ns"] == pytest.approx(float(doc["results"][1]["user"]) * 1e9)


def test_hyperfine_memory_exit_codes_and_float_drift(store: Store) -> None:
    """hyperfine ≥ 1.19 fields (written to the published format): memory per run, null exit codes."""
    result = ingest_files([DATA / "hyperfine-memory.json"])
    df = samples(store, result.run_id)
    r = raw("hyperfine-memory.json")["results"][0]
    assert df["wall_ns"].to_list() == [ns(t) for t in r["times"]]
    assert df["wall_ns"][0] == 2_000_000_003 != int(float("2.000000003") * 1e9)  # no float drift
    assert df["wall_ns"][1] == 101_988_154  # 101 988 153.5 ns, half to even
    assert df["peak_rss_bytes"].to_list() == r["memory_usage_byte"]
    assert df["exit_code"].to_list() == [0, 0, 1, 0, -1]
    assert df["ok"].to_list() == [True, True, False, True, False]
    cell = store.query("SELECT n_ok, n_failed FROM run_cells WHERE run_id = ?", [result.run_id]).row(0)
    assert cell == (3, 2)


def test_hyperfine_parameters_become_cell_params(store: Store) -> None:
    result = ingest_files([DATA / "hyperfine-params.json"])
    cells = store.query(
        "SELECT operation, params FROM run_cells WHERE run_id = ? ORDER BY 1", [result.run_id]
    )
    assert [json.loads(p) for p in cells["params"]] == [{"n": "1"}, {"n": "2"}]


def test_criterion_directory_per_iteration_times_exact(store: Store) -> None:
    result = ingest_files([DATA / "criterion"])
    df = samples(store, result.run_id)
    assert set(df["operation"]) == {"fib 10", "fib/recursive/5", "fib/recursive/12"}
    for op in df["operation"].unique():
        sample = raw(f"criterion/{op}/new/sample.json")
        expected = [ns(t / i, 1) for i, t in zip(sample["iters"], sample["times"], strict=True)]
        assert walls(df, op) == expected
        assert [v for v, _ in metric(store, result.run_id, "sample_ns", op)] == [
            float(t) for t in sample["times"]
        ]
        assert [v for v, _ in metric(store, result.run_id, "iterations", op)] == [
            float(i) for i in sample["iters"]
        ]
        exact = [v for v, _ in metric(store, result.run_id, "wall_ns_exact", op)]
        assert exact == [float(t / i) for i, t in zip(sample["iters"], sample["times"], strict=True)]
    cells = store.query(
        "SELECT base_operation, params FROM run_cells WHERE run_id = ? AND operation = 'fib/recursive/5'",
        [result.run_id],
    )
    assert cells.row(0) == ("fib/recursive", '{"value": "5"}')
    origin = store.query(
        "SELECT summary FROM ingest_cells WHERE run_id = ? AND operation = 'fib 10'", [result.run_id]
    )
    est = raw("criterion/fib 10/new/estimates.json")
    assert json.loads(origin.item(0, 0))["median_ns"] == float(est["median"]["point_estimate"])


def test_criterion_estimates_only_is_a_marked_summary(store: Store, tmp_path: Path) -> None:
    only = tmp_path / "bench" / "new"
    only.mkdir(parents=True)
    (only / "estimates.json").write_bytes((DATA / "criterion/fib 10/new/estimates.json").read_bytes())
    result = ingest_files([tmp_path / "bench"])
    assert result.samples == 1 and any("summary" in w for w in result.warnings)
    cell = store.query(
        "SELECT c.stop, o.kind, o.statistic FROM run_cells c JOIN ingest_cells o USING (run_id, tool, operation, fixture) "
        "WHERE run_id = ?",
        [result.run_id],
    )
    assert cell.row(0) == ("summary", "summary", "median")
    median = raw("criterion/fib 10/new/estimates.json")["median"]["point_estimate"]
    assert samples(store, result.run_id)["wall_ns"].to_list() == [ns(median, 1)]


def test_cargo_criterion_json_lines(store: Store) -> None:
    result = ingest_files([DATA / "cargo-criterion.jsonl"])
    df = samples(store, result.run_id)
    messages = [
        json.loads(line, parse_float=Decimal)
        for line in (DATA / "cargo-criterion.jsonl").read_text().splitlines()
        if line.strip()
    ]
    complete = [m for m in messages if m["reason"] == "benchmark-complete"]
    assert result.operations == len(complete) == 3
    for m in complete:
        expected = [ns(v / i, 1) for i, v in zip(m["iteration_count"], m["measured_values"], strict=True)]
        assert walls(df, m["id"]) == expected


def test_pytest_benchmark_rounds_are_samples(store: Store) -> None:
    result = ingest_files([DATA / "pytest-benchmark.json"])
    df = samples(store, result.run_id)
    doc = raw("pytest-benchmark.json")
    for b in doc["benchmarks"]:
        assert walls(df, b["fullname"]) == [ns(x) for x in b["stats"]["data"]]
        iters = metric(store, result.run_id, "iterations", b["fullname"])
        assert {v for v, _ in iters} == {float(b["stats"]["iterations"])}
    run = store.run(result.run_id)
    assert str(run["started_at"].isoformat()).startswith(doc["datetime"][:19])
    assert run["git_commit"] == doc["commit_info"]["id"]
    assert json.loads(run["tool_versions"]) == {"pytest-benchmark": doc["version"]}
    cells = store.query(
        "SELECT operation, params, base_operation FROM run_cells WHERE run_id = ?", [result.run_id]
    )
    param = cells.filter(pl.col("operation").str.ends_with("test_sum[10]"))
    assert json.loads(param["params"][0]) == {"n": 10} and param["base_operation"][0].endswith("test_sum")


def test_pytest_benchmark_without_data_stores_marked_medians(store: Store) -> None:
    result = ingest_files([DATA / "pytest-benchmark-summary.json"])
    doc = raw("pytest-benchmark-summary.json")
    df = samples(store, result.run_id)
    for b in doc["benchmarks"]:
        assert walls(df, b["fullname"]) == [ns(b["stats"]["median"])]
    marks = store.query(
        "SELECT DISTINCT c.stop, o.kind, o.statistic FROM run_cells c JOIN ingest_cells o "
        "USING (run_id, tool, operation, fixture) WHERE run_id = ?",
        [result.run_id],
    )
    assert marks.rows() == [("summary", "summary", "median")]
    assert any("--benchmark-save-data" in w for w in result.warnings)


def test_gbench_repetitions_are_samples_and_aggregates_summaries(store: Store) -> None:
    result = ingest_files([DATA / "gbench.json"])
    df = samples(store, result.run_id)
    doc = raw("gbench.json")
    units = {"ns": 1, "us": 1000, "ms": 10**6, "s": 10**9}
    for name in {b["run_name"] for b in doc["benchmarks"]}:
        rows = [b for b in doc["benchmarks"] if b["run_name"] == name and b["run_type"] == "iteration"]
        assert walls(df, name) == [ns(b["real_time"], units[b["time_unit"]]) for b in rows]
        assert len(rows) == 3
    cpu = metric(store, result.run_id, "cpu_ns", "sum_small")
    assert len(cpu) == 3 and all(unit == "ns" for _, unit in cpu)
    items = metric(store, result.run_id, "items", "sum_n/8")
    assert [v for v, _ in items] == [8.0, 8.0, 8.0]
    summary = store.query(
        "SELECT summary FROM ingest_cells WHERE run_id = ? AND operation = 'sum_small'", [result.run_id]
    )
    assert "median_real_ns" in json.loads(summary.item(0, 0))
    assert json.loads(store.run(result.run_id)["host"])["context"]["num_cpus"] >= 1


def test_gbench_aggregates_only(store: Store) -> None:
    result = ingest_files([DATA / "gbench-aggregates.json"])
    doc = raw("gbench-aggregates.json")
    medians = {b["run_name"]: b for b in doc["benchmarks"] if b.get("aggregate_name") == "median"}
    df = samples(store, result.run_id)
    for name, b in medians.items():
        assert walls(df, name) == [ns(b["real_time"], {"ns": 1, "us": 1000}[b["time_unit"]])]
    kinds = store.query("SELECT DISTINCT kind, statistic FROM ingest_cells WHERE run_id = ?", [result.run_id])
    assert kinds.rows() == [("summary", "median")]


@pytest.mark.parametrize("name", ["gotest.txt", "gotest.jsonl"])
def test_go_test_bench_lines(store: Store, name: str) -> None:
    result = ingest_files([DATA / name], suite="go")
    df = samples(store, result.run_id)
    text = (DATA / "gotest.txt").read_text() if name.endswith(".txt") else ""
    if text:
        lines = [line.split() for line in text.splitlines() if line.startswith("Benchmark")]
        fib = [ns(parts[2], 1) for parts in lines if parts[0] == "BenchmarkFib10-2"]
        assert walls(df, "BenchmarkFib10") == fib and len(fib) == 3
        alloc = [Decimal(p[2]) for p in lines if p[0] == "BenchmarkAlloc-2"]
        assert walls(df, "BenchmarkAlloc") == [0, 1, 0]  # sub-nanosecond: rounded ...
        exact = [v for v, _ in metric(store, result.run_id, "wall_ns_exact", "BenchmarkAlloc")]
        assert exact == [float(a) for a in alloc]  # ... and kept exactly
        assert {u for _, u in metric(store, result.run_id, "bytes_per_op")} == {"bytes"}
        widgets = metric(store, result.run_id, "widgets/op", "BenchmarkSizes/n=16")
        assert [v for v, _ in widgets] == [16.0, 16.0, 16.0]
        assert {v for v, _ in metric(store, result.run_id, "procs")} == {2.0}
        host = json.loads(store.run(result.run_id)["host"])["go"]
        assert host["pkg"] == "example.com/benchdemo"
    else:
        assert store.run(result.run_id)["started_at"].year >= 2024
        assert set(df["operation"]) >= {"BenchmarkFib10", "BenchmarkSizes/n=4"}
    cells = store.query(
        "SELECT base_operation, params FROM run_cells WHERE run_id = ? AND operation = 'BenchmarkSizes/n=4'",
        [result.run_id],
    )
    assert cells.row(0) == ("BenchmarkSizes", '{"sub": "n=4"}')


def test_bmf_values_are_summaries_and_measures_metrics(store: Store) -> None:
    """BMF written to the published format (https://bencher.dev/docs/reference/bencher-metric-format/)."""
    result = ingest_files([DATA / "bmf.json"])
    df = samples(store, result.run_id)
    assert walls(df, "parse/small") == [ns("1234.5", 1)] == [1234]  # half to even
    assert walls(df, "parse/large") == [88_000_001]
    assert "binary" not in set(df["operation"])  # no latency: metrics only
    assert metric(store, result.run_id, "build_time_ns", "binary") == [(12_000_000_003.0, "ns")]
    assert metric(store, result.run_id, "file_size_bytes", "binary") == [(4194304.0, "bytes")]
    assert metric(store, result.run_id, "latency_upper", "parse/large") == [(89000000.75, "ns")]
    assert metric(store, result.run_id, "wall_ns_exact", "parse/small") == [(1234.5, "ns")]
    cells = store.query(
        "SELECT operation, status, n_ok, stop FROM run_cells WHERE run_id = ? ORDER BY 1", [result.run_id]
    )
    assert cells.rows() == [
        ("binary", "measured", 0, "summary"),
        ("parse/large", "measured", 1, "summary"),
        ("parse/small", "measured", 1, "summary"),
    ]


def test_bundle_batch_scores_telemetry_and_batch(store: Store) -> None:
    """A results bundle written to our schema (docs/api.md)."""
    result = ingest_files([DATA / "bundle-batch.json"])
    assert result.run_ids == ["agents-2024-05-01-claude", "agents-2024-05-01-codex"]
    assert result.batch_id == "nightly-2024-05-01"
    claude = samples(store, "agents-2024-05-01-claude")
    assert walls(claude, "update-deps") == [61_234_500_000, 58_000_000_001]
    assert walls(claude, "add-tests") == [45_000_500_000]  # duration_ms 45000.5
    assert set(claude["tool"]) == {"claude-code"} and set(claude["fixture"]) == {"L1", "L2"}
    run_id = "agents-2024-05-01-claude"
    assert metric(store, run_id, "score.expected-diff", "update-deps") == [(0.83, "ratio"), (0.9, "ratio")]
    assert metric(store, run_id, "passed.tests") == [(0.0, "bool")]
    assert metric(store, run_id, "score", "update-deps")[0][0] == pytest.approx((0.83 + 1) / 2)
    assert metric(store, run_id, "cost_usd", "update-deps") == [(0.4215, "USD"), (0.39, "USD")]
    assert metric(store, run_id, "peak_context") == [(180 * 1024.0, "bytes")]
    assert metric(store, run_id, "files_changed") == [(4.0, None)]
    codex = samples(store, "agents-2024-05-01-codex")
    assert codex.select("tool", "operation", "fixture", "wall_ns").rows() == [
        ("codex", "update-deps", "L1", 72 * 10**9)
    ]
    batch = store.query("SELECT * FROM batches WHERE batch_id = 'nightly-2024-05-01'").row(0, named=True)
    assert (
        batch["runs"] == 2
        and batch["succeeded"] == 2
        and json.loads(batch["metadata"])["harness"] == "agent-eval"
    )
    run = store.run(run_id)
    assert json.loads(run["tool_versions"]) == {"claude-code": "claude-sonnet-4"}
    assert run["trigger"] == "ingest" and run["backend"] == "external"


def test_bundle_single_run_keeps_sample_columns(store: Store) -> None:
    result = ingest_files([DATA / "bundle-run.json"])
    df = samples(store, "ci-1234")
    assert result.run_id == "ci-1234" and result.samples == 4
    startup = df.filter(pl.col("operation") == "startup")
    assert startup["wall_ns"].to_list() == [12_000_001, 11_999_999, 12_500_000]
    assert startup["user_ns"].to_list()[:2] == [9_000_000, 8_900_000]
    assert startup["ok"].to_list() == [True, True, False] and startup["exit_code"][2] == 3
    assert set(df.filter(pl.col("operation") == "index")["tool"]) == {"othertool"}
    run = store.run("ci-1234")
    assert run["started_at"].isoformat().startswith("2024-04-30T08:00:00")
    assert metric(store, "ci-1234", "instructions") == [(48000123.0, None), (1.5e9, "count")]


def test_native_export_round_trips_into_a_backfilled_run(store: Store, tmp_path: Path) -> None:
    first = ingest_files([DATA / "bundle-run.json"])
    exported = export_run(store, first.run_id)
    path = tmp_path / "export.json"
    path.write_text(json.dumps(exported))
    assert detect_format(Source(path)) == "native"
    from datetime import UTC, datetime

    again = ingest_files([path], run_id="backfill-1", started_at=datetime(2023, 1, 2, tzinfo=UTC))
    assert again.created == ["backfill-1"] and again.samples == first.samples
    cols = [
        "tool",
        "operation",
        "fixture",
        "round",
        "iteration",
        "wall_ns",
        "user_ns",
        "sys_ns",
        "peak_rss_bytes",
        "exit_code",
        "ok",
    ]
    assert (
        samples(store, "backfill-1").select(cols).rows() == samples(store, first.run_id).select(cols).rows()
    )
    assert metric(store, "backfill-1", "instructions") == metric(store, first.run_id, "instructions")
    run = store.run("backfill-1")
    assert run["started_at"].year == 2023 and run["suite"] == "cli-latency"
    created = samples(store, "backfill-1")["created_at"]
    assert all(c.year == 2023 for c in created)


def test_native_landing_parquet_and_directory(store: Store, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from bench_pipeline.execution.rounds import SAMPLE_SCHEMA
    from bench_pipeline.store.landing import write_landing

    rows = [
        {
            "run_id": "local-1",
            "suite": "vcs",
            "tool": "git",
            "operation": "status",
            "fixture": "small",
            "backend": "local",
            "round": r,
            "iteration": r - 1,
            "warmup": r == 0,
            "wall_ns": 1_000_000 + r,
            "user_ns": 10,
            "sys_ns": 5,
            "exit_code": 0,
            "timed_out": False,
            "ok": True,
            "created_at": datetime(2024, 1, 1, tzinfo=UTC),
        }
        for r in range(4)
    ]
    landing = tmp_path / "elsewhere"
    path = write_landing(
        pl.DataFrame(rows, schema=SAMPLE_SCHEMA),
        landing,
        run_id="local-1",
        kind="samples",
        suite="vcs",
        tool="git",
    )
    assert detect_format(Source(path)) == "native"
    assert detect_format(Source(path.parent)) == "native"
    result = ingest_files([path])
    assert result.run_id == "local-1" and result.samples == 3  # the warmup is not ingested
    assert any("warmup" in w for w in result.warnings)
    df = samples(store, "local-1")
    assert df["round"].to_list() == [1, 2, 3] and df["wall_ns"].to_list() == [1_000_001, 1_000_002, 1_000_003]
    assert store.run("local-1")["started_at"] == datetime(2024, 1, 1, tzinfo=UTC)
