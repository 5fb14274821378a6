"""Ingestion of output produced here and now by the real tools, checked value by value.

hyperfine (``-N --runs 5 --export-json``), pytest-benchmark (a tiny benchmark file run in a
subprocess with ``--benchmark-json``), Google Benchmark (its PyPI bindings, ``--benchmark_format=json
--benchmark_repetitions=3``), ``go test -bench`` (text and ``-json``; Go installed from the
distribution), criterion and cargo-criterion (the crate in tests/data/criterion-crate, built with
cargo; slow). A test skips when its tool is not installed. Expected nanoseconds are computed from
the tool's own file with exact decimal arithmetic.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import polars as pl
import pytest

from bench_pipeline import analysis
from bench_pipeline.resume import ingest_and_complete as ingest_files  # stored, analysed, finished
from bench_pipeline.store import Store

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CRATE = ROOT / "tests" / "data" / "criterion-crate"


def ns(value: Decimal | int, factor: int | Decimal = 10**9) -> int:
    return int((Decimal(value) * factor).to_integral_value(rounding=ROUND_HALF_EVEN))


def load(path: Path) -> object:
    return json.loads(path.read_text(), parse_float=Decimal)


def walls(store: Store, run_id: str, operation: str) -> list[int]:
    return store.query(
        "SELECT wall_ns FROM samples_all WHERE run_id = ? AND operation = ? ORDER BY iteration",
        [run_id, operation],
    )["wall_ns"].to_list()


def run(
    cmd: list[str], *, cwd: Path, env: dict | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        cmd, cwd=cwd, env=env or os.environ, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"{cmd[0]} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def test_hyperfine(bench_home: Path, tmp_path: Path) -> None:
    if shutil.which("hyperfine") is None:
        pytest.skip("hyperfine is not installed")
    out = tmp_path / "hyperfine.json"
    run(["hyperfine", "-N", "--runs", "5", "--export-json", str(out), "sleep 0.002", "true"], cwd=tmp_path)
    proc = run(
        [
            sys.executable,
            "-m",
            "bench_pipeline",
            "ingest",
            str(out),
            "--suite",
            "shell",
            "--tool",
            "sh",
            "--json",
        ],
        cwd=ROOT,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["samples"] == 10 and result["operations"] == 2
    store = Store()
    for r in load(out)["results"]:
        assert walls(store, result["run_id"], r["command"]) == [ns(t) for t in r["times"]]
        if "memory_usage_byte" in r:  # hyperfine >= 1.19
            rss = store.query(
                "SELECT peak_rss_bytes FROM samples_all WHERE run_id = ? AND operation = ? ORDER BY iteration",
                [result["run_id"], r["command"]],
            )["peak_rss_bytes"].to_list()
            assert rss == r["memory_usage_byte"]
    # `ingest` analysed the run already (2 operations × 3 metrics); nothing is left to compute
    stats = store.query("SELECT count(*) AS n FROM cell_stats WHERE run_id = ?", [result["run_id"]]).item()
    assert stats == 6
    assert analysis.update_cell_stats(store, "shell", "sh") == {}


PYTEST_BENCH = """
import pytest

def work(n):
    return sum(range(n))

@pytest.mark.parametrize("n", [10, 500])
def test_sum(benchmark, n):
    benchmark.pedantic(work, args=(n,), rounds=7, iterations=20, warmup_rounds=1)

def test_plain(benchmark):
    benchmark(work, 50)
"""


def test_pytest_benchmark(bench_home: Path, tmp_path: Path) -> None:
    pytest.importorskip("pytest_benchmark")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_tiny.py").write_text(PYTEST_BENCH)
    out = tmp_path / "pb.json"
    run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_tiny.py",
            f"--benchmark-json={out}",
            "--benchmark-save-data",
            "--benchmark-max-time=0.05",
        ],
        cwd=tmp_path,
        # not an xdist worker's child: pytest-benchmark turns itself off when it sees PYTEST_XDIST_WORKER
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")},
    )
    result = ingest_files([out], suite="py")
    store = Store()
    doc = load(out)
    assert result.operations == 3
    for b in doc["benchmarks"]:
        data = b["stats"].get("data")
        if data:  # per-round values: raw samples
            assert walls(store, result.run_id, b["fullname"]) == [ns(x) for x in data]
        else:
            assert walls(store, result.run_id, b["fullname"]) == [ns(b["stats"]["median"])]
    assert store.run(result.run_id)["started_at"].isoformat()[:19] == doc["datetime"][:19]


GBENCH = """
import google_benchmark as benchmark

@benchmark.register
def small(state):
    while state:
        sum(range(64))

@benchmark.register
@benchmark.option.arg(16)
@benchmark.option.arg(256)
@benchmark.option.unit(benchmark.kMicrosecond)
def sized(state):
    n = state.range(0)
    while state:
        sum(range(n))
    state.counters["n"] = n

if __name__ == "__main__":
    benchmark.main()
"""


def test_google_benchmark(bench_home: Path, tmp_path: Path) -> None:
    pytest.importorskip("google_benchmark")
    script = tmp_path / "gb.py"
    script.write_text(GBENCH)
    proc = run(
        [
            sys.executable,
            str(script),
            "--benchmark_format=json",
            "--benchmark_repetitions=3",
            "--benchmark_min_time=0.01s",
        ],
        cwd=tmp_path,
    )
    out = tmp_path / "gbench.json"
    out.write_text(proc.stdout)
    result = ingest_files([out], suite="gb")
    store = Store()
    doc = load(out)
    units = {"ns": 1, "us": 1000, "ms": 10**6, "s": 10**9}
    names = {b["run_name"] for b in doc["benchmarks"]}
    assert names == {"small", "sized/16", "sized/256"} and result.operations == 3
    for name in names:
        reps = [b for b in doc["benchmarks"] if b["run_name"] == name and b["run_type"] == "iteration"]
        assert len(reps) == 3
        assert walls(store, result.run_id, name) == [ns(b["real_time"], units[b["time_unit"]]) for b in reps]
    cells = store.query(
        "SELECT base_operation, params FROM run_cells WHERE run_id = ? AND operation = 'sized/16'",
        [result.run_id],
    )
    assert cells.row(0) == ("sized", '{"args": "16"}')


GO_TEST = """package demo

import (
	"fmt"
	"testing"
)

func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

func BenchmarkFib(b *testing.B) {
	for i := 0; i < b.N; i++ {
		fib(12)
	}
}

func BenchmarkAlloc(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = make([]byte, 128)
	}
}

func BenchmarkSizes(b *testing.B) {
	for _, n := range []int{4, 10} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for i := 0; i < b.N; i++ {
				fib(n)
			}
		})
	}
}
"""


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_go_test_bench(bench_home: Path, tmp_path: Path, as_json: bool) -> None:
    go = shutil.which("go")
    if go is None:
        pytest.skip("no Go toolchain (apt-get install golang)")
    (tmp_path / "go.mod").write_text("module example.com/demo\n\ngo 1.19\n")
    (tmp_path / "demo_test.go").write_text(GO_TEST)
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local", "GOCACHE": str(tmp_path / "gocache")}
    cmd = [go, "test", "-run", "^$", "-bench", ".", "-benchmem", "-count", "3", "-benchtime", "300x", "."]
    if as_json:
        cmd.insert(2, "-json")
    proc = run(cmd, cwd=tmp_path, env=env)
    out = tmp_path / ("bench.jsonl" if as_json else "bench.txt")
    out.write_text(proc.stdout)
    result = ingest_files([out], suite="go")
    assert result.formats == ["gotest"] and result.operations == 4 and result.samples == 12
    store = Store()
    text = (
        proc.stdout
        if not as_json
        else "".join(json.loads(line).get("Output", "") for line in proc.stdout.splitlines() if line.strip())
    )
    lines = [line.split() for line in text.splitlines() if line.startswith("BenchmarkFib-")]
    assert len(lines) == 3
    assert walls(store, result.run_id, "BenchmarkFib") == [ns(parts[2], 1) for parts in lines]
    allocs = store.query(
        "SELECT value, unit FROM sample_metrics_all WHERE run_id = ? AND operation = 'BenchmarkAlloc' AND key = 'bytes_per_op'",
        [result.run_id],
    )
    assert allocs.height == 3 and set(allocs["unit"]) == {"bytes"}


@pytest.fixture(scope="session")
def cargo_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the criterion crate is built (BENCH_PIPELINE_CARGO_CACHE keeps it between sessions)."""
    shared = os.environ.get("BENCH_PIPELINE_CARGO_CACHE")
    return Path(shared) if shared else tmp_path_factory.mktemp("cargo")


def _cargo_env(cache: Path, criterion_home: Path) -> dict:
    return {**os.environ, "CARGO_TARGET_DIR": str(cache / "target"), "CRITERION_HOME": str(criterion_home)}


@pytest.mark.slow
def test_criterion(bench_home: Path, tmp_path: Path, cargo_cache: Path) -> None:
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not installed")
    home = tmp_path / "criterion"
    run(
        [cargo, "bench", "--locked", "--manifest-path", str(CRATE / "Cargo.toml")],
        cwd=tmp_path,
        env=_cargo_env(cargo_cache, home),
        timeout=1800,
    )
    result = ingest_files([home], suite="rust")
    store = Store()
    ids = set(
        store.query("SELECT DISTINCT operation FROM samples_all WHERE run_id = ?", [result.run_id])[
            "operation"
        ]
    )
    assert ids == {"fib 10", "fib/recursive/5", "fib/recursive/12"}
    for op in ids:
        sample = load(home / op / "new" / "sample.json")
        expected = [ns(t / i, 1) for i, t in zip(sample["iters"], sample["times"], strict=True)]
        assert walls(store, result.run_id, op) == expected
        totals = store.query(
            "SELECT value FROM sample_metrics_all WHERE run_id = ? AND operation = ? AND key = 'sample_ns' ORDER BY iteration",
            [result.run_id, op],
        )["value"].to_list()
        assert totals == [float(t) for t in sample["times"]]


@pytest.mark.slow
def test_cargo_criterion(bench_home: Path, tmp_path: Path, cargo_cache: Path) -> None:
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not installed")
    tool = shutil.which("cargo-criterion") or str(cargo_cache / "bin" / "cargo-criterion")
    if not Path(tool).exists():
        run(
            [cargo, "install", "cargo-criterion", "--locked", "--root", str(cargo_cache)],
            cwd=tmp_path,
            timeout=1800,
        )
    env = _cargo_env(cargo_cache, tmp_path / "criterion")
    env["PATH"] = f"{Path(tool).parent}{os.pathsep}{env['PATH']}"
    proc = run([cargo, "criterion", "--message-format=json"], cwd=CRATE, env=env, timeout=1800)
    out = tmp_path / "cc.jsonl"
    out.write_text(proc.stdout)
    result = ingest_files([out], suite="rust", tool="cc")
    store = Store()
    complete = [
        m
        for m in (json.loads(line, parse_float=Decimal) for line in proc.stdout.splitlines() if line.strip())
        if m.get("reason") == "benchmark-complete"
    ]
    assert {m["id"] for m in complete} == {"fib 10", "fib/recursive/5", "fib/recursive/12"}
    for m in complete:
        expected = [ns(v / i, 1) for i, v in zip(m["iteration_count"], m["measured_values"], strict=True)]
        assert walls(store, result.run_id, m["id"]) == expected
    df = store.query("SELECT * FROM run_cells WHERE run_id = ?", [result.run_id])
    assert df.height == 3 and df.filter(pl.col("status") != "measured").is_empty()
