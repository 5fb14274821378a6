"""The formats of issue 19 on output produced here and now by the real tools, value by value.

Ruby's Benchmark (Debian ``ruby``), Catch2 (Debian ``catch2`` + g++), Benchmark.js (Debian
``node-benchmark``), asv (PyPI, a dev dependency), Rust libtest and criterion's text output (the
crate in tests/data/rust-bench-crate; slow) and iai-callgrind (the same crate, when valgrind and
``iai-callgrind-runner`` 0.16.1 are installed). The programs are those of tests/data/ingest/producers.
A test skips when its tool is missing. Expected values come from the tool's own printed text.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest

from bench_pipeline.resume import ingest_and_complete as ingest_files  # stored, analysed, finished
from bench_pipeline.store import Store

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PRODUCERS = ROOT / "tests" / "data" / "ingest" / "producers"
CRATE = ROOT / "tests" / "data" / "rust-bench-crate"
UNITS = {"ps": Decimal("0.001"), "ns": 1, "us": 1000, "µs": 1000, "ms": 10**6, "s": 10**9}


def ns(value: Decimal | str, factor: int | Decimal = 1) -> int:
    return int((Decimal(value) * factor).to_integral_value(rounding=ROUND_HALF_EVEN))


def run(cmd: list[str], *, cwd: Path, env: dict | None = None, timeout: float = 600, ok: bool = True) -> str:
    proc = subprocess.run(
        cmd, cwd=cwd, env=env or os.environ, capture_output=True, text=True, timeout=timeout
    )
    if ok and proc.returncode != 0:
        raise AssertionError(
            f"{cmd[0]} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc.stdout


def walls(store: Store, run_id: str, operation: str) -> list[int]:
    return store.query(
        "SELECT wall_ns FROM samples_all WHERE run_id = ? AND operation = ? ORDER BY iteration",
        [run_id, operation],
    )["wall_ns"].to_list()


def test_ruby_benchmark(bench_home: Path, tmp_path: Path) -> None:
    ruby = shutil.which("ruby")
    if ruby is None:
        pytest.skip("ruby is not installed (apt-get install ruby)")
    out = tmp_path / "ruby.txt"
    out.write_text(run([ruby, str(PRODUCERS / "ruby_benchmark.rb"), "bm"], cwd=tmp_path))
    result = ingest_files([out])
    assert result.formats == ["ruby-benchmark"] and result.samples == 4
    store = Store()
    for label, user, system, real in re.findall(
        r"^(.+?)\s+([\d.]+)\s+([\d.]+)\s+[\d.]+ \(\s*([\d.]+)\)$", out.read_text(), re.M
    ):
        op = label.strip().rstrip(":")
        row = store.query(
            "SELECT wall_ns, user_ns, sys_ns FROM samples_all WHERE run_id = ? AND operation = ?",
            [result.run_id, op],
        ).row(0)
        assert row == (ns(real, 10**9), ns(user, 10**9), ns(system, 10**9))


def test_catch2(bench_home: Path, tmp_path: Path) -> None:
    gxx = shutil.which("g++")
    if gxx is None or not Path("/usr/include/catch2/catch.hpp").exists():
        pytest.skip("Catch2 v2 or g++ is not installed (apt-get install catch2 g++)")
    binary = tmp_path / "catch2_demo"
    run(
        [gxx, "-O2", "-std=c++17", str(PRODUCERS / "catch2_benchmarks.cpp"), "-o", str(binary)],
        cwd=tmp_path,
        timeout=900,
    )
    text_out, xml_out = tmp_path / "catch2.txt", tmp_path / "catch2.xml"
    text_out.write_text(run([str(binary), "--benchmark-samples", "5"], cwd=tmp_path))
    xml_out.write_text(run([str(binary), "--benchmark-samples", "5", "-r", "xml"], cwd=tmp_path))
    store = Store()
    result = ingest_files([text_out])
    assert result.formats == ["catch2"] and result.operations == 4
    for name, mean, unit in re.findall(
        r"^(\S.*?)\s+\d+\s+\d+\s+\S+ \S+\s*\n\s+(\S+) (\S+)", text_out.read_text(), re.M
    ):
        assert walls(store, result.run_id, name) == [ns(mean, UNITS[unit])]
    xml = ingest_files([xml_out])
    for name, mean in re.findall(
        r'<BenchmarkResults name="([^"]+)".*?<mean value="([^"]+)"', xml_out.read_text(), re.S
    ):
        assert walls(store, xml.run_id, name) == [ns(mean)]


BENCHMARKJS = """
const Benchmark = require("benchmark");
new Benchmark.Suite()
  .add("RegExp#test", () => /o/.test("Hello World!"), { maxTime: 0.3 })
  .add("fib(15)", () => { const f = (n) => (n < 2 ? n : f(n - 1) + f(n - 2)); return f(15); }, { maxTime: 0.3 })
  .on("cycle", (event) => console.log(String(event.target)))
  .run();
"""


def test_benchmarkjs(bench_home: Path, tmp_path: Path) -> None:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None or not Path("/usr/share/nodejs/benchmark").exists():
        pytest.skip("node or Benchmark.js is not installed (apt-get install node-benchmark)")
    (tmp_path / "suite.js").write_text(BENCHMARKJS)
    out = tmp_path / "bjs.txt"
    out.write_text(
        run([node, "suite.js"], cwd=tmp_path, env={**os.environ, "NODE_PATH": "/usr/share/nodejs"})
    )
    result = ingest_files([out])
    assert result.formats == ["benchmarkjs"] and result.operations == 2
    store = Store()
    for name, hz in re.findall(r"^(.+?) x ([\d,.]+) ops/sec", out.read_text(), re.M):
        assert walls(store, result.run_id, name) == [ns(Decimal(1) / Decimal(hz.replace(",", "")), 10**9)]


ASV_CONF = """{"version": 1, "project": "asvdemo", "project_url": "https://example.invalid", "repo": ".",
"branches": ["main"], "environment_type": "existing", "benchmark_dir": "benchmarks",
"results_dir": "results", "html_dir": "html"}"""


@pytest.mark.slow
def test_asv(bench_home: Path, tmp_path: Path) -> None:
    pytest.importorskip("asv")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    project = tmp_path / "project"
    shutil.copytree(PRODUCERS / "asv-project", project)
    git = ["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t"]
    run(["git", "init", "-q", "-b", "main"], cwd=project)
    run(["git", "add", "-A"], cwd=project)
    run([*git, "commit", "-qm", "demo"], cwd=project)
    asv = [sys.executable, "-m", "asv"]
    run([*asv, "machine", "--yes", "--machine", "ci-machine"], cwd=project)
    commit = run(["git", "rev-parse", "HEAD"], cwd=project).strip()
    run(
        [*asv, "run", "-E", f"existing:{sys.executable}", "--set-commit-hash", commit, "--record-samples",
         "--machine", "ci-machine", "--bench", "TimeSuite|mem_list"],
        cwd=project,
        timeout=900,
    )  # fmt: skip
    files = [p for p in (project / "results" / "ci-machine").glob("*.json") if p.name != "machine.json"]
    assert len(files) == 1
    result = ingest_files(files)
    assert result.formats == ["asv"]
    store = Store()
    doc = json.loads(files[0].read_text(), parse_float=Decimal)
    row = dict(zip(doc["result_columns"], doc["results"]["benchmarks.TimeSuite.time_keys"], strict=False))
    assert walls(store, result.run_id, "benchmarks.TimeSuite.time_keys") == [
        ns(v, 10**9) for v in row["samples"][0]
    ]
    mem = store.query(
        "SELECT value FROM sample_metrics_all WHERE run_id = ? AND key = 'mem_bytes'", [result.run_id]
    ).item()
    assert mem == float(doc["results"]["benchmarks.mem_list"][0][0])


@pytest.fixture(scope="session")
def rust_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shared = os.environ.get("BENCH_PIPELINE_CARGO_CACHE")
    return Path(shared) / "rust-bench-target" if shared else tmp_path_factory.mktemp("rust-bench")


def _cargo(cargo: str, bench: str, target: Path, tmp_path: Path, **env: str) -> str:
    environ = {
        **os.environ,
        "CARGO_TARGET_DIR": str(target),
        "RUSTC_BOOTSTRAP": "1",
        "RUST_BACKTRACE": "0",
        **env,
    }
    cmd = [cargo, "bench", "--locked", "--manifest-path", str(CRATE / "Cargo.toml"), "--bench", bench]
    proc = subprocess.run(cmd, cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=1800)
    if proc.returncode not in (0, 101):
        raise AssertionError(f"cargo bench failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


@pytest.mark.slow
def test_rust_libtest_and_criterion_text(bench_home: Path, tmp_path: Path, rust_target: Path) -> None:
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not installed")
    store = Store()
    libtest = tmp_path / "libtest.txt"
    libtest.write_text(_cargo(cargo, "libtest", rust_target, tmp_path, BENCH_PANIC="1"))
    result = ingest_files([libtest])
    assert result.formats == ["libtest"]
    printed = re.findall(r"^test (\S+)\s+\.\.\. bench:\s+([\d,.]+) ns/iter", libtest.read_text(), re.M)
    assert len(printed) == 4  # the fifth panicked
    for name, value in printed:
        assert walls(store, result.run_id, name) == [ns(value.replace(",", ""))]
    crit = tmp_path / "criterion.txt"
    crit.write_text(_cargo(cargo, "criterion_text", rust_target, tmp_path))
    result = ingest_files([crit])
    assert result.formats == ["criterion-text"]
    printed = re.findall(r"^(\S.*?)\s+time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", crit.read_text(), re.M)
    assert len(printed) == 7
    for name, value, unit in printed:
        assert walls(store, result.run_id, name) == [ns(value, UNITS[unit])]


@pytest.mark.slow
def test_iai_callgrind(bench_home: Path, tmp_path: Path, rust_target: Path) -> None:
    cargo = shutil.which("cargo")
    if cargo is None or shutil.which("valgrind") is None or shutil.which("iai-callgrind-runner") is None:
        pytest.skip("needs cargo, valgrind and `cargo install iai-callgrind-runner --version 0.16.1`")
    out = tmp_path / "iai.txt"
    out.write_text(_cargo(cargo, "iai_callgrind", rust_target, tmp_path))
    result = ingest_files([out])
    assert result.formats == ["iai-callgrind"] and result.operations == 3
    store = Store()
    blocks = re.findall(r"^(\S.*)\n\s+Instructions:\s+(\d+)", out.read_text(), re.M)
    assert len(blocks) == 3
    for name, count in blocks:
        value = store.query(
            "SELECT value FROM sample_metrics_all WHERE run_id = ? AND operation = ? AND key = 'instructions'",
            [result.run_id, name],
        ).item()
        assert value == float(count)
