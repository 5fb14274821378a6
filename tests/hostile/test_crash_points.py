"""SIGKILL at every commit point of `run` and `ingest`: reopened, the store tells the truth (a run
is `succeeded` only with its samples, statistics and reports; nothing is half there), and the next
invocation completes the work. Moving the home changes nothing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import DATA, ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]
MINI = DATA / "mini.yaml"
HYPERFINE = DATA / "ingest" / "hyperfine.json"


def cli(home: Path, *args: str, crash: str | None = None) -> subprocess.CompletedProcess:
    argv = ["-m", "tests.hostile.crash", crash, "--", *args] if crash else ["-m", "bench_pipeline", *args]
    return subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        env={**os.environ, "BENCH_PIPELINE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")},
        capture_output=True,
        text=True,
        timeout=900,
    )


def runs(home: Path) -> dict[str, dict]:
    con = duckdb.connect(str(home / "bench.duckdb"), read_only=True)
    try:
        rows = con.execute(
            """SELECT r.run_id, r.status, r.pending_status, r.trigger,
                      (SELECT count(*) FROM samples_all s WHERE s.run_id = r.run_id) AS visible,
                      (SELECT count(*) FROM samples s WHERE s.run_id = r.run_id) AS stored,
                      (SELECT count(*) FROM cell_stats c WHERE c.run_id = r.run_id) AS stats,
                      (SELECT count(*) FROM run_cells c WHERE c.run_id = r.run_id) AS cells
               FROM runs r ORDER BY r.started_at"""
        ).fetchall()
    finally:
        con.close()
    names = ("run_id", "status", "pending", "trigger", "visible", "stored", "stats", "cells")
    return {r[0]: dict(zip(names, r, strict=True)) for r in rows}


def assert_truthful(home: Path) -> None:
    """No run claims more than the store holds."""
    for run in runs(home).values():
        if (
            run["status"] in ("succeeded", "failed")
            and run["trigger"] != "manual"
            or run["status"] == "succeeded"
        ):
            assert run["pending"] is None and run["stored"] > 0 and run["stats"] > 0, run
            if run["trigger"] == "manual":
                report = home / "reports" / "mini" / run["run_id"] / "report.md"
                assert report.exists(), run
        else:
            assert run["visible"] == 0, run  # running / interrupted: nothing of it is shown


def killed(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-2000:])


RUN_POINTS = [
    "after:store.Store.create_run",  # recorded `running`, nothing measured yet
    "before:store.Store.finish_run",  # landing files written, measuring not recorded
    "after:store.Store.finish_run",  # measured: pending, nothing loaded
    "after:store.Store.load_landing",  # samples committed, no statistics
    "after:store.Store.replace_rows@cell_stats",  # part of the statistics committed
    "after:report.render.render_run",  # reports written, status not yet given
]


@pytest.mark.parametrize("point", RUN_POINTS)
def test_run_killed_at_a_commit_point(tmp_path: Path, point: str) -> None:
    home = tmp_path / "home"
    killed(cli(home, "run", "--suite", str(MINI), "--backend", "local", "--quick", crash=point))
    first = next(iter(runs(home)))
    assert runs(home)[first]["status"] == "running"  # never `succeeded` before everything is committed
    assert_truthful(home)
    proc = cli(home, "run", "--suite", str(MINI), "--backend", "local", "--quick", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = runs(home)
    measured = point not in RUN_POINTS[:2]
    assert after[first]["status"] == ("succeeded" if measured else "interrupted"), after[first]
    assert_truthful(home)
    second = json.loads(proc.stdout.strip().splitlines()[-1])["run_id"]
    assert after[second]["status"] == "succeeded"
    assert not [p for p in (home / "work").glob("*")] if (home / "work").exists() else True


INGEST_POINTS = [
    "before:store.Store.load_landing",  # landing files written, nothing committed
    "after:store.Store.load_landing",  # samples committed, no statistics
    "after:analysis.analyse_runs",  # statistics committed, status not given
]


@pytest.mark.parametrize("point", INGEST_POINTS)
def test_ingest_killed_at_a_commit_point(tmp_path: Path, point: str) -> None:
    home = tmp_path / "home"
    killed(cli(home, "ingest", str(HYPERFINE), "--suite", "hf", crash=point))
    stored = runs(home) if (home / "bench.duckdb").exists() else {}
    for run in stored.values():
        assert run["status"] == "running" and run["visible"] == 0, run
    orphans = list((home / "landing" / ".ingest").glob(".tmp-*"))  # what the killed process left …
    if point.startswith("before:"):
        assert stored == {} and orphans
    for orphan in orphans:  # … older than a minute, its process gone: removed by the next ingestion
        os.utime(orphan, (time.time() - 120, time.time() - 120))
    proc = cli(home, "ingest", str(HYPERFINE), "--suite", "hf", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = runs(home)
    assert len(after) == 1 and next(iter(after.values()))["status"] == "succeeded"
    run = next(iter(after.values()))
    assert run["visible"] == run["stored"] == 10 and run["stats"] > 0
    if not point.startswith("before:"):
        assert "already ingested" in proc.stderr  # … and its analysis was completed all the same
    assert not list((home / "landing" / ".ingest").glob(".tmp-*"))


def test_moving_the_home_changes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert cli(home, "run", "--suite", str(MINI), "--backend", "local", "--quick").returncode == 0
    assert cli(home, "ingest", str(HYPERFINE), "--suite", "hf").returncode == 0
    before = runs(home)
    moved = tmp_path / "moved"
    shutil.move(home, moved)
    proc = cli(moved, "run", "--suite", str(MINI), "--backend", "local", "--quick", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = runs(moved)
    for run_id, run in before.items():  # nothing reloaded: the same rows, not twice as many
        assert after[run_id]["stored"] == run["stored"] and after[run_id]["cells"] == run["cells"], run_id
    con = duckdb.connect(str(moved / "bench.duckdb"), read_only=True)
    duplicates = con.execute(
        "SELECT count(*) FROM (SELECT run_id, tool, operation, fixture, round, iteration, count(*) AS n "
        "FROM samples GROUP BY ALL HAVING n > 1)"
    ).fetchall()[0][0]
    con.close()
    assert duplicates == 0
