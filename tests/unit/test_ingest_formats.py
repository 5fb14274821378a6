"""The whole ingestion corpus (tests/data/ingest, provenance in its README): every file is detected
as its format and nothing else, and the formats added for issue 19 store the values the tools
printed. Expected values are read from the files here with plain string handling and exact decimal
arithmetic, independently of the adapters, and checked against the tool's own summary where the
file has one (asv's result is the median of its samples, JMH's score the mean of its iterations,
BenchmarkDotNet's Median/Mean, the first and second iai-callgrind runs count the same instructions).
"""

from __future__ import annotations

import json
import re
import statistics
import xml.etree.ElementTree as ET
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest import FORMATS, Source, detect_format, parse_path
from bench_pipeline.resume import ingest_and_complete as ingest_files  # stored, analysed, finished
from bench_pipeline.store import Store

DATA = Path(__file__).resolve().parents[1] / "data" / "ingest"
ASV = "asv-results/demo-machine"
ASV_SAMPLES = f"{ASV}/77c1a282-existing-py_work_wt19_.venv_bin_python.json"
ASV_SUMMARY = f"{ASV}/c2f74a60-existing-py_work_wt19_.venv_bin_python.json"

#: every result file of the corpus and its format
CORPUS: dict[str, str] = {
    "hyperfine.json": "hyperfine",
    "hyperfine-params.json": "hyperfine",
    "hyperfine-memory.json": "hyperfine",
    "criterion": "criterion",
    "criterion/fib/recursive/5/new/estimates.json": "criterion",
    "cargo-criterion.jsonl": "cargo-criterion",
    "pytest-benchmark.json": "pytest-benchmark",
    "pytest-benchmark-summary.json": "pytest-benchmark",
    "gbench.json": "gbench",
    "gbench-aggregates.json": "gbench",
    "gotest.txt": "gotest",
    "gotest.jsonl": "gotest",
    "bmf.json": "bmf",
    "bundle-batch.json": "bundle",
    "bundle-run.json": "bundle",
    "jmh.json": "jmh",
    "benchmarkdotnet.json": "benchmarkdotnet",
    "catch2.txt": "catch2",
    "catch2.xml": "catch2",
    "benchmarkjs.txt": "benchmarkjs",
    "vitest.json": "vitest",
    ASV_SAMPLES: "asv",
    ASV_SUMMARY: "asv",
    "ruby-benchmark-bm.txt": "ruby-benchmark",
    "ruby-benchmark-bmbm.txt": "ruby-benchmark",
    "dart-benchmark.txt": "dart-benchmark",
    "rust-libtest.txt": "libtest",
    "rust-libtest-panic.txt": "libtest",
    "criterion-text.txt": "criterion-text",
    "criterion-text-panic.txt": "criterion-text",
    "iai-callgrind.txt": "iai-callgrind",
    "iai-callgrind-first-run.txt": "iai-callgrind",
    "iai-cachegrind.txt": "iai-callgrind",
    "native-export.json": "native",
}
#: files beside the results that are not result files: refused, never mistaken for a format
NOT_RESULTS = [
    "README.md",
    "asv-results/benchmarks.json",
    f"{ASV}/machine.json",
    "producers/ruby_benchmark.rb",
    "producers/catch2_benchmarks.cpp",
    "producers/benchmarkjs_suite.js",
    "producers/asv-project/asv.conf.json",
]


def ns(value: Decimal | str, factor: int | Decimal = 1) -> int:
    return int((Decimal(value) * factor).to_integral_value(rounding=ROUND_HALF_EVEN))


def text(name: str) -> str:
    return (DATA / name).read_text()


def load(name: str) -> object:
    return json.loads(text(name), parse_float=Decimal)


@pytest.fixture
def store(bench_home: Path) -> Store:
    return Store()


def walls(store: Store, run_id: str, operation: str) -> list[int]:
    return store.query(
        "SELECT wall_ns FROM samples_all WHERE run_id = ? AND operation = ? ORDER BY iteration",
        [run_id, operation],
    )["wall_ns"].to_list()


def metric(store: Store, run_id: str, key: str, operation: str) -> list[float]:
    return store.query(
        "SELECT value FROM sample_metrics_all WHERE run_id = ? AND key = ? AND operation = ? ORDER BY iteration",
        [run_id, key, operation],
    )["value"].to_list()


def origin(store: Store, run_id: str, operation: str) -> dict:
    return store.query(
        "SELECT kind, statistic, n_source, summary FROM ingest_cells WHERE run_id = ? AND operation = ?",
        [run_id, operation],
    ).row(0, named=True)


# ---------------------------------------------------------------------------------------------- detection
def test_the_corpus_covers_every_format_and_its_provenance_is_written() -> None:
    assert set(CORPUS.values()) == set(FORMATS)
    readme = text("README.md")
    for name in CORPUS:
        top = name.split("/")[0]
        assert f"`{top}" in readme or f"`{name}`" in readme, f"{name} is not described in README.md"


@pytest.mark.parametrize(("name", "fmt"), sorted(CORPUS.items()))
def test_every_file_is_detected_as_its_format_and_ingests(name: str, fmt: str, store: Store) -> None:
    """Auto-detection over the whole corpus: each file is its format (adapters are tried in order,
    so an earlier false match would show here), and ingesting it with auto-detection works."""
    assert detect_format(Source(DATA / name)) == fmt
    matches = [other for other in FORMATS if other != fmt and _detects(other, DATA / name)]
    assert matches == [], f"{name} also looks like {matches}"
    result = ingest_files([DATA / name])
    assert result.formats == [fmt]


def _detects(fmt: str, path: Path) -> bool:
    from bench_pipeline.ingest.adapters import ADAPTERS

    return bool(ADAPTERS[fmt].detect(Source(path)))


@pytest.mark.parametrize("name", NOT_RESULTS)
def test_files_that_are_not_results_are_refused(name: str) -> None:
    with pytest.raises(IngestError, match="not recognised"):
        detect_format(Source(DATA / name))


def test_every_sample_of_a_cell_has_the_same_metrics_in_the_new_formats() -> None:
    for name, fmt in CORPUS.items():
        if fmt in ("bundle", "native"):
            continue
        for run in parse_path(DATA / name).runs:
            keys: dict[str, set[frozenset[str]]] = {}
            for s in run.samples:
                if s.ok is not False:
                    keys.setdefault(s.operation, set()).add(frozenset(m.key for m in s.metrics))
            assert all(len(v) == 1 for v in keys.values()), name


# ---------------------------------------------------------------------------------------------- Rust
def test_libtest_keeps_each_printed_median_and_the_results_around_a_panic(store: Store) -> None:
    for name in ("rust-libtest.txt", "rust-libtest-panic.txt"):
        result = ingest_files([DATA / name])
        printed = {
            m[1]: m[2].replace(",", "")
            for m in re.finditer(r"^test (\S+)\s+\.\.\. bench:\s+([\d,.]+) ns/iter", text(name), re.M)
        }
        assert len(printed) == (5 if name == "rust-libtest.txt" else 4)
        for op, value in printed.items():
            assert walls(store, result.run_id, op) == [ns(value)]
            assert metric(store, result.run_id, "wall_ns_exact", op) == [float(value)]
            assert origin(store, result.run_id, op)["statistic"] == "median"
    failed = store.query(
        "SELECT status, n_failed FROM run_cells WHERE run_id = ? AND operation = 'panics_when_asked'",
        [result.run_id],
    ).row(0)
    assert failed == ("failed", 1)
    assert walls(store, result.run_id, "fib_25") == [ns("174757.26")]  # thousands separator


CRIT_UNITS = {"ps": Decimal("0.001"), "ns": 1, "µs": 1000, "ms": 10**6, "s": 10**9}


def test_criterion_text_units_ps_to_s_names_with_spaces_and_a_panic(store: Store) -> None:
    result = ingest_files([DATA / "criterion-text.txt"])
    printed = re.findall(
        r"^(\S.*?)\s+time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", text("criterion-text.txt"), re.M
    )
    assert len(printed) == 7 and {u for _, _, u in printed} == {"ps", "ns", "µs", "ms", "s"}
    for op, value, unit in printed:
        exact = Decimal(value) * CRIT_UNITS[unit]
        assert walls(store, result.run_id, op) == [ns(exact)]
        assert metric(store, result.run_id, "wall_ns_exact", op) == [float(exact)]
    assert walls(store, result.run_id, "fixed 1.5 s") == [1_500_000_000]
    assert walls(store, result.run_id, "fixed 2.5 ms") == [2_500_000]
    assert origin(store, result.run_id, "add two")["kind"] == "summary"
    cell = store.query(
        "SELECT base_operation, params FROM run_cells WHERE run_id = ? AND operation = 'sum to/100'",
        [result.run_id],
    ).row(0)
    assert cell == ("sum to", '{"value": "100"}')
    panic = ingest_files([DATA / "criterion-text-panic.txt"])
    assert panic.operations == 8 and any("panicked in 'panics'" in w for w in panic.warnings)
    status = store.query(
        "SELECT operation, status FROM run_cells WHERE run_id = ? AND status = 'failed'", [panic.run_id]
    ).rows()
    assert status == [("panics", "failed")]


def test_iai_callgrind_and_iai_store_counts_as_metrics(store: Store) -> None:
    result = ingest_files([DATA / "iai-callgrind.txt"])
    assert result.samples == 0 and result.operations == 3  # instruction counts have no wall time
    op = "iai_callgrind::demo_group::bench_fibonacci long:20"
    assert metric(store, result.run_id, "instructions", op) == [221505.0]
    assert metric(store, result.run_id, "estimated_cycles", op) == [315912.0]
    assert metric(store, result.run_id, "total_read_write", op) == [315844.0]
    units = store.query("SELECT DISTINCT unit FROM sample_metrics_all WHERE run_id = ?", [result.run_id])[
        "unit"
    ].to_list()
    assert units == ["count"]
    # valgrind counts are deterministic: the first run (no baseline: N/A) counted the same
    first = parse_path(DATA / "iai-callgrind-first-run.txt").runs[0].samples
    second = parse_path(DATA / "iai-callgrind.txt").runs[0].samples
    assert [[(m.key, m.value) for m in s.metrics] for s in first] == [
        [(m.key, m.value) for m in s.metrics] for s in second
    ]
    iai = ingest_files([DATA / "iai-cachegrind.txt"])
    assert metric(store, iai.run_id, "instructions", "iai_fibonacci_10") == [1792.0]
    assert metric(store, iai.run_id, "l2_accesses", "iai_sum_to_1000") == []  # 2^64 - 1: an underflow
    assert any("underflow" in w for w in iai.warnings)


# ---------------------------------------------------------------------------------------------- C++, JS, Ruby, Dart
def test_catch2_text_and_xml_store_the_printed_means(store: Store) -> None:
    result = ingest_files([DATA / "catch2.txt"])
    rows = re.findall(r"^(\S.*?)\s+(\d+)\s+(\d+)\s+\S+ \S+\s*\n\s+(\S+) (\S+)", text("catch2.txt"), re.M)
    assert [r[0] for r in rows] == ["Fibonacci 10", "Fibonacci 25", "fill and sum 10000", "add two"]
    units = {"ns": 1, "us": 1000, "ms": 10**6, "s": 10**9}
    for name, samples, iterations, mean, unit in rows:
        assert walls(store, result.run_id, name) == [ns(mean, units[unit])]
        assert metric(store, result.run_id, "iterations", name) == [float(iterations)]
        cell = origin(store, result.run_id, name)
        assert (cell["kind"], cell["statistic"], cell["n_source"]) == ("summary", "mean", int(samples))
    xml = ingest_files([DATA / "catch2.xml"])
    for element in ET.parse(DATA / "catch2.xml").getroot().iter("BenchmarkResults"):
        mean = element.find("mean")
        assert mean is not None
        assert walls(store, xml.run_id, element.get("name", "")) == [ns(mean.get("value", ""))]
        summary = json.loads(origin(store, xml.run_id, element.get("name", ""))["summary"])
        assert summary["mean_ci_ns"] == [float(mean.get("lowerBound", "")), float(mean.get("upperBound", ""))]
    category = store.query(
        "SELECT category FROM run_cells WHERE run_id = ? AND operation = 'add two'", [xml.run_id]
    ).item()
    assert category == "Vectors"


def test_benchmarkjs_mean_time_is_the_reciprocal_of_ops_per_second(store: Store) -> None:
    result = ingest_files([DATA / "benchmarkjs.txt"])
    lines = re.findall(
        r"^(.+?) x ([\d,]+) ops/sec ±([\d.]+)% \((\d+) runs sampled\)", text("benchmarkjs.txt"), re.M
    )
    assert len(lines) == 4
    for name, hz, rme, runs in lines:
        hz_ = Decimal(hz.replace(",", ""))
        assert walls(store, result.run_id, name) == [ns(Decimal(1) / hz_, 10**9)]
        assert metric(store, result.run_id, "ops_per_s", name) == [float(hz_)]
        cell = origin(store, result.run_id, name)
        assert cell["n_source"] == int(runs) and json.loads(cell["summary"])["rme_percent"] == float(rme)


def test_ruby_benchmark_lines_are_runs_and_bmbm_rehearsal_is_dropped(store: Store) -> None:
    for name in ("ruby-benchmark-bm.txt", "ruby-benchmark-bmbm.txt"):
        result = ingest_files([DATA / name])
        body = text(name).split("total:")[-1]  # bmbm: after the rehearsal
        rows = re.findall(r"^(.+?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+) \(\s*([\d.]+)\)$", body, re.M)
        assert len(rows) == 4
        df = store.query(
            "SELECT operation, wall_ns, user_ns, sys_ns FROM samples_all WHERE run_id = ? ORDER BY round",
            [result.run_id],
        )
        assert df.rows() == [
            (label.strip().rstrip(":"), ns(real, 10**9), ns(user, 10**9), ns(system, 10**9))
            for label, user, system, _total, real in rows
        ]
        assert origin(store, result.run_id, "for loop")["kind"] == "raw"


def test_dart_benchmark_harness_scores_are_microseconds(store: Store) -> None:
    result = ingest_files([DATA / "dart-benchmark.txt"])
    assert result.operations == 3  # the other lines are not results
    assert walls(store, result.run_id, "Template") == [91]  # 0.0912345 us
    assert metric(store, result.run_id, "wall_ns_exact", "Template") == [91.2345]
    assert walls(store, result.run_id, "ListFill") == [1_523_750]
    assert origin(store, result.run_id, "MapLookup")["statistic"] == "mean"


# ---------------------------------------------------------------------------------------------- JSON formats
def test_jmh_iterations_are_samples_and_throughput_is_inverted(store: Store) -> None:
    result = ingest_files([DATA / "jmh.json"])
    doc = load("jmh.json")
    assert isinstance(doc, list)
    avgt = doc[0]
    op = avgt["benchmark"]
    raw = [v for fork in avgt["primaryMetric"]["rawData"] for v in fork]
    assert walls(store, result.run_id, op) == [ns(v) for v in raw]
    exact = metric(store, result.run_id, "wall_ns_exact", op)
    assert statistics.fmean(exact) == pytest.approx(float(avgt["primaryMetric"]["score"]), rel=1e-12)
    assert metric(store, result.run_id, "gc.alloc.rate.norm", op) == [24.0] * 10
    assert metric(store, result.run_id, "fork", op) == [0.0] * 5 + [1.0] * 5
    thrpt = doc[1]
    op = "org.example.bench.ParserBench.throughput[size=10]"
    raw = [v for fork in thrpt["primaryMetric"]["rawData"] for v in fork]
    assert walls(store, result.run_id, op) == [ns(Decimal(1) / v, 10**9) for v in raw]
    ops = metric(store, result.run_id, "ops_per_s", op)
    assert statistics.fmean(ops) == pytest.approx(float(thrpt["primaryMetric"]["score"]), rel=1e-12)
    cell = store.query(
        "SELECT base_operation, params FROM run_cells WHERE run_id = ? AND operation = ?", [result.run_id, op]
    ).row(0)
    assert cell == ("org.example.bench.ParserBench.throughput", '{"size": "10"}')
    assert walls(store, result.run_id, "org.example.bench.StartupBench.coldStart") == [
        1_532_000,
        1_498_000,
        1_611_000,
    ]
    assert json.loads(store.run(result.run_id)["tool_versions"]) == {"jmh": "1.37", "jdk": "17.0.11"}


def test_benchmarkdotnet_original_values_are_samples(store: Store) -> None:
    result = ingest_files([DATA / "benchmarkdotnet.json"])
    doc = load("benchmarkdotnet.json")
    assert isinstance(doc, dict)
    for bench in doc["Benchmarks"][:3]:
        op, stats = bench["FullName"], bench["Statistics"]
        assert walls(store, result.run_id, op) == [ns(v) for v in stats["OriginalValues"]]
        exact = metric(store, result.run_id, "wall_ns_exact", op)
        assert statistics.median(exact) == pytest.approx(float(stats["Median"]), rel=1e-12)
        assert statistics.fmean(exact) == pytest.approx(float(stats["Mean"]), rel=1e-12)
        allocated = metric(store, result.run_id, "bytes_allocated_per_op", op)
        assert set(allocated) == {float(bench["Memory"]["BytesAllocatedPerOperation"])}
    broken = store.query(
        "SELECT status FROM run_cells WHERE run_id = ? AND operation = 'Demo.Benchmarks.StringBench.Broken'",
        [result.run_id],
    ).item()
    assert broken == "failed"
    assert json.loads(store.run(result.run_id)["tool_versions"]) == {"benchmarkdotnet": "0.13.12"}


def test_vitest_samples_in_ms_or_the_median_as_summary(store: Store) -> None:
    result = ingest_files([DATA / "vitest.json"])
    doc = load("vitest.json")
    assert isinstance(doc, dict)
    small = doc["files"][0]["groups"][0]["benchmarks"][0]
    op = "bench/parse.bench.ts > parse > small input"
    assert walls(store, result.run_id, op) == [ns(v, 10**6) for v in small["samples"]]
    assert statistics.median(metric(store, result.run_id, "wall_ns_exact", op)) == pytest.approx(
        float(small["median"]) * 1e6
    )
    sort = doc["files"][1]["groups"][0]["benchmarks"][0]
    op = "bench/sort.bench.ts > sort > Array#sort 10k"
    assert walls(store, result.run_id, op) == [ns(sort["median"], 10**6)]
    cell = origin(store, result.run_id, op)
    assert (cell["kind"], cell["statistic"], cell["n_source"]) == ("summary", "median", 25)


def test_asv_samples_kinds_parameters_and_failures(store: Store) -> None:
    result = ingest_files([DATA / ASV_SAMPLES])
    doc = load(ASV_SAMPLES)
    assert isinstance(doc, dict)
    columns = doc["result_columns"]
    build = dict(zip(columns, doc["results"]["benchmarks.TimeParams.time_build"], strict=False))
    ops = ["(10, 'list')", "(10, 'tuple')", "(1000, 'list')", "(1000, 'tuple')"]
    for i, params in enumerate(ops):
        op = f"benchmarks.TimeParams.time_build{params}"
        assert walls(store, result.run_id, op) == [ns(v, 10**9) for v in build["samples"][i]]
        # asv's own result (what `asv run` printed, e.g. 576±400ns) is the median of the samples
        exact = metric(store, result.run_id, "wall_ns_exact", op)
        assert statistics.median(exact) == pytest.approx(float(build["result"][i]) * 1e9, rel=1e-12)
        assert set(metric(store, result.run_id, "iterations", op)) == {float(build["stats_number"][i])}
    params = store.query(
        "SELECT params FROM run_cells WHERE run_id = ? AND operation = ?",
        [result.run_id, "benchmarks.TimeParams.time_build(1000, 'tuple')"],
    ).item()
    assert json.loads(params) == {"n": "1000", "container": "'tuple'"}
    assert metric(store, result.run_id, "mem_bytes", "benchmarks.mem_list") == [16440.0]
    assert metric(store, result.run_id, "peakmem_bytes", "benchmarks.peakmem_bytearray") == [47968256.0]
    assert metric(store, result.run_id, "track", "benchmarks.track_answer") == [42.0]
    unit = store.query(
        "SELECT unit FROM sample_metrics_all WHERE run_id = ? AND key = 'track'", [result.run_id]
    ).item()
    assert unit == "answers"  # from benchmarks.json
    failed = store.query(
        "SELECT status FROM run_cells WHERE run_id = ? AND operation = 'benchmarks.time_fails'",
        [result.run_id],
    ).item()
    assert failed == "failed"
    run = store.run(result.run_id)
    assert run["git_commit"] == doc["commit_hash"]
    assert run["started_at"].timestamp() == doc["date"] / 1000
    summary = ingest_files([DATA / ASV_SUMMARY])
    cell = origin(store, summary.run_id, "benchmarks.TimeSuite.time_keys")
    assert (cell["kind"], cell["statistic"]) == ("summary", "median")
    assert any("--record-samples" in w for w in summary.warnings)
