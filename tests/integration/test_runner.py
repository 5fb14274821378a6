"""The runner measured against commands of known cost, through a real local worker."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import pytest

from bench_pipeline.execution.backends import WorkerSpec
from bench_pipeline.execution.backends.local import LocalBackend

pytestmark = pytest.mark.integration
PY = sys.executable


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runner")
    backend = LocalBackend(tmp / "bin")
    w = backend.start_worker(
        WorkerSpec(suite="t", tool="t", run_id="r", work_dir=tmp / "work", fixture_dir=tmp)
    )
    yield w
    w.close()


def run(worker, argv, timeout=30.0):
    return worker.exec(argv, worker.work_root, {"PATH": "/usr/local/bin:/usr/bin:/bin"}, timeout)


def test_exec_helper_is_used_where_a_compiler_exists(worker):
    info = worker.info()
    assert info["protocol"] == 1
    import shutil

    if shutil.which("cc"):
        assert info["rss_method"] == "bench-exec"


def test_sleep_median_within_ten_percent(worker):
    walls = [run(worker, ["sleep", "0.05"])["wall_ns"] for _ in range(7)]
    median = statistics.median(walls)
    assert 0.05e9 * 0.99 <= median <= 0.05e9 * 1.10, median


def test_cpu_burner_has_user_time_far_above_sys(worker):
    r = run(worker, [PY, "-c", "sum(i * i for i in range(3_000_000))"])
    assert r["exit_code"] == 0
    assert r["user_ns"] > 10 * max(r["sys_ns"], 1_000_000), r
    assert r["user_ns"] > 0.1e9


def test_peak_rss_of_allocator_then_tiny_command(worker):
    big = run(
        worker, [PY, "-c", "b = bytearray(200 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1"]
    )
    assert big["exit_code"] == 0
    assert big["peak_rss_bytes"] >= 190 * 1024 * 1024, big
    tiny = run(worker, ["true"])
    assert tiny["peak_rss_bytes"] < 20 * 1024 * 1024, tiny  # its own peak, not the previous child's


def test_timeout_kills_and_records(worker):
    r = run(worker, ["sleep", "5"], timeout=0.3)
    assert r["timed_out"] is True
    assert r["exit_code"] == -9
    assert 0.25e9 < r["wall_ns"] < 2e9


def test_timeout_kills_the_whole_process_group(worker, tmp_path):
    marker = tmp_path / "survivor"
    r = run(worker, ["sh", "-c", f"(sleep 1; touch {marker}) & sleep 5"], timeout=0.3)
    assert r["timed_out"]
    import time

    time.sleep(1.5)
    assert not marker.exists(), "a grandchild survived the timeout"


def test_failing_command_records_exit_code_and_stderr(worker):
    r = run(worker, ["sh", "-c", "echo boom >&2; exit 7"])
    assert r["exit_code"] == 7
    assert "boom" in r["stderr_tail"]
    assert r["stderr_bytes"] == 5


def test_missing_command_is_exit_127_not_a_crash(worker):
    r = run(worker, ["definitely-not-a-command-xyz"])
    assert r["exit_code"] == 127
    assert "cannot execute" in r["stderr_tail"]


def test_output_is_drained_and_counted(worker):
    r = run(worker, [PY, "-c", "import sys; sys.stdout.write('x' * 1_000_000)"])
    assert r["exit_code"] == 0
    assert r["stdout_bytes"] == 1_000_000


def test_restore_copies_a_tree(worker, tmp_path):
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f").write_text("x")
    dst = Path(worker.work_root) / "copy"
    worker.restore(str(src), str(dst))
    (dst / "d" / "f").write_text("changed")
    worker.restore(str(src), str(dst))
    assert (dst / "d" / "f").read_text() == "x"


def test_python_fork_fallback_reports_its_floor(tmp_path):
    """Without the helper the runner still measures; its RSS floor is the worker's own (~10 MB)."""
    from bench_pipeline.execution.runner import Runner

    r = Runner(None).measure(["true"], str(tmp_path), {"PATH": "/usr/bin:/bin"}, 10)
    assert r["exit_code"] == 0 and r["wall_ns"] > 0
    assert Runner(None).info()["rss_method"] == "python-fork"
