"""A run killed with SIGKILL mid-measurement leaves DuckDB consistent and the run `interrupted`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from tests.conftest import DATA, ROOT

pytestmark = pytest.mark.integration


def test_sigkill_during_execution_then_next_run_succeeds(bench_home):
    cmd = [
        sys.executable,
        "-m",
        "bench_pipeline",
        "run",
        "--suite",
        str(DATA / "slow.yaml"),
        "--backend",
        "local",
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ
    )
    seen = []
    deadline = time.monotonic() + 180
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        if line.startswith("· round 2/"):
            break
        assert line or proc.poll() is None, "".join(seen)
    else:
        pytest.fail("the run never reached its second round:\n" + "".join(seen))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    db = bench_home / "bench.duckdb"
    con = duckdb.connect(str(db), read_only=True)  # opens: not corrupted
    run_id, status = con.execute("SELECT run_id, status FROM runs").fetchone()
    con.close()
    assert status == "running"  # nobody has looked yet

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench_pipeline",
            "run",
            "--suite",
            str(DATA / "slow.yaml"),
            "--backend",
            "local",
            "--quick",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    con = duckdb.connect(str(db), read_only=True)
    rows = dict(con.execute("SELECT run_id, status FROM runs").fetchall())
    killed_samples = con.execute("SELECT count(*) FROM samples_all WHERE run_id = ?", [run_id]).fetchone()[0]
    con.close()
    assert rows[run_id] == "interrupted"
    assert killed_samples == 0
    assert sorted(rows.values()) == ["interrupted", "succeeded"]
