"""Bugs found ingesting real files (issue 19): each test failed before its fix.

1. ``wall_ns_exact`` was kept only for fractional nanoseconds, so a cell's exact statistics used
   only some of its samples (go ``-count 3`` 150.0 / 150.3 / 149.8 ns/op: median 150.05, not 150.0).
2. pytest-benchmark files whose ``stats.data`` held a non-number were refused whole.
3. ``stats.data`` was never checked against ``stats.rounds`` (4 values for 38,523 rounds stored as
   4 raw samples).
5. A Google Benchmark ``date`` without a timezone was stored as UTC without a warning.

And the statistics side of instruction counts: two constant samples need no bootstrap, their
ratio's CI is the exact ratio.
"""

from __future__ import annotations

import copy
import json
import statistics
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from bench_pipeline import stats
from bench_pipeline.ingest import parse_path
from bench_pipeline.resume import ingest_and_complete as ingest_files  # stored, analysed, finished
from bench_pipeline.store import Store

DATA = Path(__file__).resolve().parents[1] / "data" / "ingest"

GO_COUNT_3 = """goos: linux
goarch: amd64
pkg: example.com/demo
BenchmarkParse-2   	 8000000	       150.0 ns/op
BenchmarkParse-2   	 8000000	       150.3 ns/op
BenchmarkParse-2   	 8000000	       149.8 ns/op
BenchmarkBig-2     	    1000	   1203456 ns/op
BenchmarkBig-2     	    1000	   1203457.5 ns/op
PASS
"""


@pytest.fixture
def store(bench_home: Path) -> Store:
    return Store()


def exact_values(store: Store, run_id: str, operation: str) -> list[float]:
    return store.query(
        "SELECT value FROM sample_metrics_all WHERE run_id = ? AND operation = ? AND key = 'wall_ns_exact' "
        "ORDER BY iteration",
        [run_id, operation],
    )["value"].to_list()


# ---------------------------------------------------------------------------------------------- bug 1
def test_every_sample_keeps_its_exact_time_whole_nanoseconds_too(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "go.txt"
    path.write_text(GO_COUNT_3)
    result = ingest_files([path])
    exact = exact_values(store, result.run_id, "BenchmarkParse")
    assert exact == [150.0, 150.3, 149.8]  # 150.0 was missing: "150.0" has no fractional part
    assert statistics.median(exact) == 150.0  # not 150.05
    assert exact_values(store, result.run_id, "BenchmarkBig") == [1203456.0, 1203457.5]


def test_every_sample_of_a_cell_has_the_same_metric_keys() -> None:
    """Across the corpus of tool outputs: the successful samples of a cell carry one set of keys.
    (Bundles and native files store what their writer sent: a harness may score some runs only.)"""
    for path in sorted(DATA.iterdir()):
        if path.name == "README.md" or path.is_dir():  # directories: criterion, asv, producers' sources
            continue
        parsed = parse_path(path)
        if parsed.format in ("bundle", "native"):
            continue
        for run in parsed.runs:
            keys: dict[tuple[str | None, str, str], set[frozenset[str]]] = {}
            for s in run.samples:
                if s.ok is False or s.exit_code != 0:
                    continue
                keys.setdefault((s.tool, s.operation, s.fixture), set()).add(
                    frozenset(m.key for m in s.metrics)
                )
            uneven = {cell: sets for cell, sets in keys.items() if len(sets) > 1}
            assert not uneven, f"{path.name}: {uneven}"


# ---------------------------------------------------------------------------------------------- bugs 2, 3
def pytest_benchmark_doc() -> dict:
    return json.loads((DATA / "pytest-benchmark.json").read_text())


def dump(doc: dict, path: Path) -> Path:
    path.write_text(json.dumps(doc))  # floats are written as their shortest repr: the same decimals
    return path


def ns(seconds: float) -> int:
    return int((Decimal(repr(seconds)) * 10**9).to_integral_value())


def origin(store: Store, run_id: str, operation: str) -> tuple[str, str | None, int]:
    return store.query(
        "SELECT kind, statistic, n_source FROM ingest_cells WHERE run_id = ? AND operation = ?",
        [run_id, operation],
    ).row(0)


def walls(store: Store, run_id: str, operation: str) -> list[int]:
    return store.query(
        "SELECT wall_ns FROM samples_all WHERE run_id = ? AND operation = ? ORDER BY iteration",
        [run_id, operation],
    )["wall_ns"].to_list()


def test_pytest_benchmark_non_number_in_data_is_skipped_not_fatal(store: Store, tmp_path: Path) -> None:
    doc = pytest_benchmark_doc()
    first, second = doc["benchmarks"][0], doc["benchmarks"][1]
    # a note after complete data: the note is skipped, the rounds are all there → raw
    first["stats"]["data"] = [*first["stats"]["data"], "values in seconds"]
    # a note in place of a value: incomplete → the tool's median, as a summary row
    broken = copy.deepcopy(second["stats"]["data"])
    broken[2] = "n/a"
    second["stats"]["data"] = broken
    result = ingest_files([dump(doc, tmp_path / "pb.json")])  # was: refused whole
    original = pytest_benchmark_doc()["benchmarks"]
    assert walls(store, result.run_id, first["fullname"]) == [ns(x) for x in original[0]["stats"]["data"]]
    assert origin(store, result.run_id, first["fullname"])[0] == "raw"
    assert origin(store, result.run_id, second["fullname"])[:2] == ("summary", "median")
    assert walls(store, result.run_id, second["fullname"]) == [ns(second["stats"]["median"])]
    text = "\n".join(result.warnings)
    assert "[6] 'values in seconds'" in text and "[2] 'n/a'" in text and "skipped" in text
    assert "5 value(s) for 6 rounds" in text
    # the third benchmark is untouched
    third = original[2]
    assert len(walls(store, result.run_id, third["fullname"])) == len(third["stats"]["data"])


def test_pytest_benchmark_data_shorter_than_rounds_falls_back_to_the_summary(
    store: Store, tmp_path: Path
) -> None:
    doc = pytest_benchmark_doc()
    bench = doc["benchmarks"][0]
    bench["stats"]["rounds"] = 38523  # 4 values for 38,523 rounds, as in the file that showed it
    bench["stats"]["data"] = bench["stats"]["data"][:4]
    result = ingest_files([dump(doc, tmp_path / "pb.json")])
    assert origin(store, result.run_id, bench["fullname"]) == ("summary", "median", 38523)
    assert walls(store, result.run_id, bench["fullname"]) == [ns(bench["stats"]["median"])]
    assert any("4 value(s) for 38523 rounds" in w for w in result.warnings)


# ---------------------------------------------------------------------------------------------- bug 5
def test_gbench_date_without_timezone_is_utc_with_a_warning(store: Store, tmp_path: Path) -> None:
    doc = json.loads((DATA / "gbench.json").read_text())
    doc["context"]["date"] = "2024-03-05 14:15:16"  # what Google Benchmark before 1.5.1 writes
    path = tmp_path / "gb.json"
    path.write_text(json.dumps(doc))
    result = ingest_files([path])
    assert any("no timezone" in w and "2024-03-05 14:15:16" in w for w in result.warnings)
    assert store.run(result.run_id)["started_at"] == datetime(2024, 3, 5, 14, 15, 16, tzinfo=UTC)
    with_offset = ingest_files([DATA / "gbench.json"])
    assert not any("timezone" in w for w in with_offset.warnings)


# ---------------------------------------------------------------------------------------------- statistics
def frame(values: dict[str, list[float]], key: str = "instructions") -> pl.DataFrame:
    rows = []
    for tool, xs in values.items():
        for i, x in enumerate(xs):
            rows.append(
                {
                    "suite": "s",
                    "run_id": "r",
                    "tool": tool,
                    "operation": "op",
                    "fixture": "default",
                    "round": i,
                    "iteration": 0,
                    "warmup": False,
                    "wall_ns": 1000 + i,
                    "user_ns": None,
                    "sys_ns": None,
                    "peak_rss_bytes": None,
                    "exit_code": 0,
                    "timed_out": False,
                    stats.extra_column(key): x,
                }
            )
    return pl.DataFrame(rows)


def test_constant_samples_get_the_exact_ratio_without_a_bootstrap() -> None:
    df = frame({"a": [48_000_123.0] * 12, "b": [52_800_135.3] * 12})
    row = stats.compare_tools(df, metric="instructions").row(0, named=True)
    ratio = 52_800_135.3 / 48_000_123.0
    assert row["ratio"] == ratio and row["ci_low"] == ratio and row["ci_high"] == ratio
    assert row["n_boot"] == 0 and row["paired"] is False  # was: a 2000-replicate round-block bootstrap
    same = stats.compare_tools(frame({"a": [1735.0] * 5, "b": [1735.0] * 5}), metric="instructions")
    assert same.select("ci_low", "ci_high", "n_boot", "verdict").row(0) == (1.0, 1.0, 0, "equivalent")
    # one differing value is enough to need the bootstrap again
    varied = frame({"a": [1735.0] * 11 + [1736.0], "b": [1800.0] * 12})
    row = stats.compare_tools(varied, metric="instructions").row(0, named=True)
    assert row["n_boot"] == stats.DEFAULT_N_BOOT
    assert np.isfinite(row["ci_low"]) and row["ci_low"] <= row["ratio"] <= row["ci_high"]
