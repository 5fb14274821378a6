"""The DuckDB store: migrations, landing loads (atomic, idempotent), run references, reaping."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import polars as pl
import pytest

from bench_pipeline.errors import RunNotFound
from bench_pipeline.execution.rounds import CELL_SCHEMA, SAMPLE_SCHEMA
from bench_pipeline.store import Store, migrations
from bench_pipeline.store.landing import pending_files, write_landing


def _samples(run_id: str, tool: str, n: int = 4, warmup: int = 1) -> pl.DataFrame:
    rows = []
    for i in range(n + warmup):
        rows.append(
            {
                "run_id": run_id,
                "suite": "s",
                "tool": tool,
                "operation": "op",
                "fixture": "small",
                "backend": "local",
                "round": i,
                "iteration": i - warmup if i >= warmup else -1,
                "warmup": i < warmup,
                "wall_ns": 1_000_000 + i,
                "user_ns": 10,
                "sys_ns": 5,
                "peak_rss_bytes": 1 << 20,
                "read_bytes": 0,
                "write_bytes": 0,
                "ctx_switches": 1,
                "exit_code": 0,
                "timed_out": False,
                "ok": True,
                "stdout_bytes": 3,
                "stderr_bytes": 0,
                "stderr_tail": None,
                "created_at": datetime.now(UTC),
            }
        )
    return pl.DataFrame(rows, schema=SAMPLE_SCHEMA)


def _create(store: Store, run_id: str) -> None:
    store.create_run(
        run_id,
        "s",
        trigger="manual",
        backend="local",
        host={"h": 1},
        settings={},
        tools=["a"],
        sizes=["small"],
        quick=True,
        suite_sha256="x",
    )


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "bench.duckdb")


def test_migrations_apply_once(store):
    assert store.schema_version() == max(v for v, _, _ in migrations())
    assert store.schema_version() == max(v for v, _, _ in migrations())  # second connect: no error


def test_landing_load_is_idempotent_and_hides_unfinished_runs(store, tmp_path):
    landing = tmp_path / "landing"
    _create(store, "r1")
    write_landing(_samples("r1", "a"), landing, run_id="r1", kind="samples", suite="s", tool="a")
    write_landing(pl.DataFrame(schema=CELL_SCHEMA), landing, run_id="r1", kind="cells", suite="s", tool="a")
    first = store.load_landing(landing)
    assert first.rows == {"samples": 5, "cells": 0}
    assert store.load_landing(landing).files == []  # nothing twice
    assert store.query("SELECT count(*) n FROM samples").item() == 5
    assert store.query("SELECT count(*) n FROM samples_all").item() == 0  # run still 'running'
    store.finish_run("r1", "succeeded")
    assert store.query("SELECT count(*) n FROM samples_all").item() == 4  # warmup excluded


def test_temporary_landing_files_are_ignored(tmp_path):
    landing = tmp_path / "landing"
    (landing / "r1").mkdir(parents=True)
    (landing / "r1" / ".tmp-abc.parquet").write_bytes(b"partial")
    assert pending_files(landing) == []


def test_a_damaged_landing_file_loads_nothing(store, tmp_path):
    landing = tmp_path / "landing"
    _create(store, "r1")
    write_landing(_samples("r1", "a"), landing, run_id="r1", kind="samples", suite="s", tool="a")
    (landing / "r1" / "samples+s+b.parquet").write_bytes(b"not parquet")
    with pytest.raises(Exception, match="nothing was loaded"):
        store.load_landing(landing)
    assert store.query("SELECT count(*) n FROM samples").item() == 0
    assert store.query("SELECT count(*) n FROM landing_loads").item() == 0


def test_resolve_run_references(store):
    for _i, rid in enumerate(["r1", "r2", "r3"]):
        _create(store, rid)
        store.finish_run(rid, "succeeded")
    with store.connect() as con:
        con.execute("UPDATE runs SET git_tag = 'v1' WHERE run_id = 'r2'")
    assert store.resolve_run("s", "latest") == "r3"
    assert store.resolve_run("s", "latest~1") == "r2"
    assert store.resolve_run("s", "tag:v1") == "r2"
    assert store.resolve_run("s", "r1") == "r1"
    with pytest.raises(RunNotFound):
        store.resolve_run("s", "latest~9")
    with pytest.raises(RunNotFound):
        store.resolve_run("other", "latest")


def test_reap_marks_runs_of_dead_processes_interrupted(store):
    _create(store, "alive")
    _create(store, "dead")
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    with store.connect() as con:
        con.execute("UPDATE runs SET pid = ? WHERE run_id = 'dead'", [proc.pid])
    assert store.reap_interrupted() == ["dead"]
    status = dict(store.query("SELECT run_id, status FROM runs").iter_rows())
    assert status == {"alive": "running", "dead": "interrupted"}
