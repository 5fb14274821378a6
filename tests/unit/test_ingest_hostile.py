"""Hostile and broken input to ``bench-pipeline ingest``: a specific error each, nothing stored,
non-zero exit, no traceback. Names that are stored (operations) are stored verbatim and never become
paths; names that key storage (run id, suite, tool) must be plain names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bench_pipeline import paths
from bench_pipeline.interfaces.cli import main
from bench_pipeline.store import Store

DATA = Path(__file__).resolve().parents[1] / "data" / "ingest"
ROOT = Path(__file__).resolve().parents[2]


def ingest(*args: str) -> Result:
    return CliRunner().invoke(main, ["ingest", *args], catch_exceptions=True)


def assert_refused(result: Result, *fragments: str) -> None:
    """Exit non-zero through the CLI's error path (SystemExit), with the message, nothing stored."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # not an uncaught exception
    text = result.output
    assert "Traceback" not in text
    for fragment in fragments:
        assert fragment in text, text
    assert_nothing_stored()


def assert_nothing_stored() -> None:
    db = paths.db_path()
    if db.exists():
        store = Store(db)
        assert store.query("SELECT count(*) FROM runs").item(0, 0) == 0
        assert store.query("SELECT count(*) FROM samples").item(0, 0) == 0
    landing = paths.landing_dir()
    assert not landing.exists() or not [p for p in landing.rglob("*") if p.is_file()]


def hyperfine(tmp_path: Path, text: str, name: str = "hf.json") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_truncated_json(bench_home: Path, tmp_path: Path) -> None:
    text = (DATA / "hyperfine.json").read_text()
    path = hyperfine(tmp_path, text[: len(text) // 2])
    assert_refused(ingest(str(path)), "hf.json", "truncated")


def test_truncated_json_lines(bench_home: Path, tmp_path: Path) -> None:
    lines = (DATA / "cargo-criterion.jsonl").read_text().splitlines()
    path = hyperfine(tmp_path, "\n".join(lines[:2]) + "\n" + lines[2][:80], "cc.jsonl")
    assert_refused(ingest(str(path), "--format", "cargo-criterion"), "cc.jsonl:3", "truncated")


@pytest.mark.parametrize(
    ("times", "message"),
    [
        ('["abc"]', "results[0].times[0]: expected a number"),
        ("[true]", "expected a number"),
        ("[NaN]", "NaN is not allowed"),
        ("[Infinity]", "Infinity is not allowed"),
        ("[-0.5]", "must not be negative"),
        ('"0.1"', "results[0].times"),
        ("[1e400]", "too large"),
    ],
)
def test_wrong_values_in_hyperfine(bench_home: Path, tmp_path: Path, times: str, message: str) -> None:
    path = hyperfine(tmp_path, '{"results": [{"command": "x", "times": ' + times + "}]}")
    assert_refused(ingest(str(path), "--format", "hyperfine"), message)


def test_wrong_types_name_the_field(bench_home: Path, tmp_path: Path) -> None:
    bad = json.loads((DATA / "pytest-benchmark.json").read_text())
    bad["benchmarks"][1]["stats"]["rounds"] = "many"
    path = hyperfine(tmp_path, json.dumps(bad), "pb.json")
    assert_refused(ingest(str(path)), "pb.json", "benchmarks[1].stats.rounds")


def test_negative_and_nan_elsewhere(bench_home: Path, tmp_path: Path) -> None:
    go = hyperfine(tmp_path, "BenchmarkX-8   100   -5 ns/op\n", "go.txt")
    assert_refused(ingest(str(go)), "go.txt", "negative")
    bmf = hyperfine(tmp_path, '{"b": {"latency": {"value": -1}}}', "bmf.json")
    assert_refused(ingest(str(bmf)), "bmf.json", "negative")
    bundle = hyperfine(
        tmp_path, '{"suite": "s", "tool": "t", "samples": [{"operation": "o", "wall_ns": NaN}]}', "b.json"
    )
    assert_refused(ingest(str(bundle)), "b.json", "NaN")
    score = hyperfine(
        tmp_path,
        '{"suite": "s", "tool": "t", "samples": [{"operation": "o", "wall_ns": 1, "score": 1.5}]}',
        "s.json",
    )
    assert_refused(ingest(str(score)), "samples[0].score", "between 0 and 1")


def test_a_one_gigabyte_file_is_refused_from_its_size(bench_home: Path, tmp_path: Path) -> None:
    big = tmp_path / "huge.json"
    with open(big, "wb") as f:
        f.write(b'{"results": [')
        f.truncate(1 << 30)  # sparse: no disk used, nothing to read
    started = time.monotonic()
    result = ingest(str(big))
    assert time.monotonic() - started < 5
    assert_refused(result, "huge.json", "over the ingestion limit")


def test_unknown_and_empty_files(bench_home: Path, tmp_path: Path) -> None:
    text = hyperfine(tmp_path, "hello, this is not a benchmark\n", "notes.txt")
    assert_refused(ingest(str(text)), "notes.txt", "unknown format", "--format")
    empty = hyperfine(tmp_path, "", "empty.json")
    assert_refused(ingest(str(empty)), "empty.json", "empty file")
    other_json = hyperfine(tmp_path, '{"hello": [1, 2, 3]}', "other.json")
    assert_refused(ingest(str(other_json)), "other.json", "unknown format")
    missing = tmp_path / "nope.json"
    assert_refused(ingest(str(missing)), "nope.json", "no such file")
    assert_refused(ingest(str(DATA / "bmf.json"), "--format", "gotest"), "bmf.json")


def test_traversal_in_run_id_suite_and_tool_is_refused(bench_home: Path, tmp_path: Path) -> None:
    for flag in ("--run-id", "--suite", "--tool"):
        assert_refused(
            ingest(str(DATA / "hyperfine.json"), flag, "../../etc/passwd"), flag, "not a valid name"
        )
    bundle = hyperfine(
        tmp_path,
        '{"run_id": "../../etc/passwd", "suite": "s", "tool": "t", "samples": [{"operation": "o", "wall_ns": 1}]}',
        "b.json",
    )
    assert_refused(ingest(str(bundle)), "b.json", "run_id")
    slash_tool = hyperfine(
        tmp_path, '{"suite": "s", "tool": "a/b", "samples": [{"operation": "o", "wall_ns": 1}]}', "t.json"
    )
    assert_refused(ingest(str(slash_tool)), "t.json", "tool")


def test_sql_metacharacters_in_suite_are_refused(bench_home: Path) -> None:
    assert_refused(ingest(str(DATA / "hyperfine.json"), "--suite", "'; DROP TABLE runs; --"), "--suite")


def test_control_characters_in_names_are_refused(bench_home: Path, tmp_path: Path) -> None:
    path = hyperfine(tmp_path, '{"results": [{"command": "a\\u0000b", "times": [0.1]}]}')
    assert_refused(ingest(str(path)), "results[0].command", "control characters")


@pytest.mark.parametrize("name", ["../../etc/passwd", "'; DROP TABLE runs; --", "a/../../b", "..", "C:\\x"])
def test_hostile_benchmark_names_are_stored_verbatim_and_never_paths(
    bench_home: Path, tmp_path: Path, name: str
) -> None:
    doc = {"results": [{"command": name, "times": [0.25, 0.5]}]}
    path = hyperfine(tmp_path, json.dumps(doc))
    result = ingest(str(path), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert set(out) >= {"run_id", "samples", "operations", "warnings"} and out["samples"] == 2
    store = Store()
    stored = store.query("SELECT DISTINCT operation FROM samples_all")["operation"].to_list()
    assert stored == [name]
    assert store.query("SELECT count(*) FROM runs").item(0, 0) == 1  # the table is still there
    landing = paths.landing_dir()
    for f in landing.rglob("*"):  # every landing file sits at <landing>/.ingest/<id>/<run_id>/<file>
        assert f.resolve().is_relative_to(landing.resolve())
        assert name not in f.name
    assert not (tmp_path / "etc").exists() and not (bench_home.parent / "etc").exists()


def test_cli_error_in_a_real_process_has_no_traceback(bench_home: Path, tmp_path: Path) -> None:
    path = hyperfine(tmp_path, '{"results": [{"command": "x", "times": [NaN]}]}')
    proc = subprocess.run(
        [sys.executable, "-m", "bench_pipeline", "ingest", str(path), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "NaN is not allowed" in proc.stderr
    assert proc.stdout == ""


def test_bad_started_at(bench_home: Path) -> None:
    assert_refused(
        ingest(str(DATA / "hyperfine.json"), "--started-at", "yesterday"), "--started-at", "ISO 8601"
    )
