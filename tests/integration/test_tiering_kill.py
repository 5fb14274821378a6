"""A tier move killed (SIGKILL) at every named point loses and duplicates nothing, and a re-run ends
exactly where an uninterrupted move does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from bench_pipeline.ops.tiering import PAUSE_POINTS, TierSettings, tier, verify_tiers
from bench_pipeline.store import Store
from tests.conftest import ROOT
from tests.unit.test_tiering import AS_OF, synthesize

pytestmark = pytest.mark.integration

KEY = ["run_id", "tool", "operation", "fixture", "metric"]
SETTINGS = TierSettings(hot_days=7, warm_days=90, keep_raw_suites=["beta"])
EARLIER = AS_OF - timedelta(days=40)  # a first move, so the killed one also merges and retires files


def _prepare(home: Path) -> Store:
    store = Store(home / "bench.duckdb")
    synthesize(store, suites=("alpha", "beta"), days=200, per_cell=3)
    tier(EARLIER, SETTINGS, store=store)
    return store


def _state(store: Store) -> dict:
    cells = store.query(
        "SELECT run_id, tool, operation, fixture, metric, n, n_failed, median, mean, p5, p95, tier "
        "FROM cell_stats_all ORDER BY ALL"
    )
    return {
        "cells": cells,
        "beta_samples": store.query(
            "SELECT * EXCLUDE (tier) FROM samples_all WHERE suite = 'beta' ORDER BY ALL"
        ),
        "samples_all": store.query("SELECT count(*) FROM samples_all").item(),
        "hot": store.query("SELECT count(*) FROM samples").item(),
        "files": store.query("SELECT tier, period, rows FROM tier_files ORDER BY tier, period"),
        "runs": store.query("SELECT run_id, tier FROM tier_runs ORDER BY ALL"),
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("reference")
    store = _prepare(home)
    tier(AS_OF, SETTINGS, store=store)
    return _state(store)


def _env(home: Path, point: str, marker: Path) -> dict:
    return {
        **os.environ,
        "BENCH_PIPELINE_HOME": str(home),
        "BENCH_PIPELINE_KEEP_RAW_SUITES": "beta",
        "BENCH_PIPELINE_TIER_PAUSE": point,
        "BENCH_PIPELINE_TIER_PAUSE_FILE": str(marker),
    }


@pytest.mark.parametrize("point", PAUSE_POINTS)
def test_kill_at_each_point_then_rerun_is_exact(point, tmp_path, monkeypatch, reference):
    home = tmp_path / "home"
    monkeypatch.setenv("BENCH_PIPELINE_HOME", str(home))
    store = _prepare(home)
    before = _state(store)
    marker = tmp_path / "paused"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench_pipeline", "tier", "--as-of", AS_OF.isoformat(), "--json"],
        cwd=ROOT,
        env=_env(home, point, marker),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"tier ended without reaching {point}: {proc.stderr.read().decode()[-2000:]}")
        assert time.monotonic() < deadline, f"{point} not reached in 120 s"
        time.sleep(0.05)
    assert marker.read_text() == point
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()

    # right after the kill: nothing lost, nothing twice, whatever the point
    killed = _state(store)
    assert killed["cells"].select(KEY).is_duplicated().sum() == 0
    assert set(map(tuple, killed["cells"].select(KEY).rows())) == set(
        map(tuple, before["cells"].select(KEY).rows())
    )
    assert killed["beta_samples"].equals(before["beta_samples"])  # kept raw: samples_all unchanged
    if point.startswith("warm:") and point != "warm:after_commit":
        assert killed["hot"] == before["hot"]  # the source is intact until the transaction commits

    result = tier(AS_OF, SETTINGS, store=store)
    assert result.recovered or point.endswith("after_commit")
    after = _state(store)
    for name in ("cells", "beta_samples", "files", "runs"):
        assert after[name].equals(reference[name]), name
    assert (after["samples_all"], after["hot"]) == (reference["samples_all"], reference["hot"])
    assert verify_tiers(store) == []
    on_disk = {str(p.relative_to(home)) for p in (home / "tiers").rglob("*.parquet")}
    assert on_disk == set(store.query("SELECT path FROM tier_files")["path"])  # no orphans, no leftovers
    assert not list((home / "tiers").rglob("*.tmp"))
    moves = store.query("SELECT state, count(*) AS n FROM tier_moves GROUP BY state")
    assert set(moves["state"]) <= {"done", "abandoned"}
    assert pl.Series(moves["state"]).is_in(["started", "written"]).sum() == 0
