"""The fleet's plain parts (bench_pipeline/fleet.py): the fleet file, placements, delivery of a run
measured on a host (whole or not at all, never twice), its row in the store, and the watchdog."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from bench_pipeline.errors import BenchError, FleetError
from bench_pipeline.execution.environment import HOST_CLASS_ENV, HOST_ENV, this_host
from bench_pipeline.fleet import (
    DEFAULT_FLEET_FILE,
    LandingLedger,
    StepWatch,
    Timeouts,
    deliver,
    delivered_runs,
    load_fleet,
    op_name,
    parse_placement,
    staging_dir,
)
from bench_pipeline.store import Store
from bench_pipeline.store.landing import write_landing
from bench_pipeline.store.schema import SAMPLE_SCHEMA


def test_the_shipped_fleet_file_loads():
    fleet = load_fleet(DEFAULT_FLEET_FILE)
    assert {n: c.queue for n, c in fleet.host_classes.items()} == {"bench-a": "bench-a", "bench-b": "bench-b"}
    assert fleet.timeouts.missed_heartbeats >= 1 and op_name("bench-a") == "measure_on_bench_a"


def test_a_bad_fleet_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "fleet.yaml"
    bad.write_text("host_classes:\n  a:\n    queue: q\n    cpus: 0\n    memory: 1g\n")
    with pytest.raises(FleetError, match=r"host_classes.a.cpus"):
        load_fleet(bad)
    bad.write_text("host_classes:\n  A_B:\n    queue: q\n    cpus: 1\n    memory: 1g\n")
    with pytest.raises(FleetError, match="host class name"):
        load_fleet(bad)


def test_placement_maps_sizes_to_known_classes():
    fleet = load_fleet(DEFAULT_FLEET_FILE)
    assert parse_placement(["small=bench-a", "medium=bench-b", "large=bench-a"], fleet) == {
        "bench-a": ["small", "large"],
        "bench-b": ["medium"],
    }
    for bad, message in (
        (["small"], "SIZE=HOST_CLASS"),
        (["small=nowhere"], "no host class"),
        (["small=bench-a", "small=bench-b"], "placed twice"),
        ([], "nothing placed"),
    ):
        with pytest.raises(FleetError, match=message):
            parse_placement(bad, fleet)


def test_this_host_comes_from_the_worker_environment(monkeypatch):
    monkeypatch.setenv(HOST_ENV, "host-a")
    monkeypatch.setenv(HOST_CLASS_ENV, "bench-a")
    assert this_host() == {"host": "host-a", "host_class": "bench-a"}
    monkeypatch.delenv(HOST_CLASS_ENV)
    assert this_host()["host_class"] == "local"


def _measured_run(landing: Path, run_id: str) -> Path:
    """What a host writes for one run: samples and the run's row, in a staging directory."""
    staging = staging_dir(landing, run_id)
    ledger = LandingLedger(staging)
    ledger.create_run(
        run_id, "s", trigger="fleet", backend="local", host={"fingerprint": "f"}, settings={},
        tools=["t"], sizes=["small"], quick=True, suite_sha256="x",
    )  # fmt: skip
    zero = {pl.Boolean: False, pl.Utf8: ""}
    sample = {
        name: zero.get(dtype, 0) if dtype in zero or dtype.is_numeric() else None
        for name, dtype in SAMPLE_SCHEMA.items()
    }
    sample.update(run_id=run_id, suite="s", tool="t", operation="op", fixture="small", backend="local",
                  round=0, iteration=0, wall_ns=1000, exit_code=0, timed_out=False, warmup=False, ok=True,
                  created_at=datetime.now(UTC))  # fmt: skip
    write_landing(
        pl.DataFrame([sample], schema=SAMPLE_SCHEMA),
        staging,
        run_id=run_id,
        kind="samples",
        suite="s",
        tool="t",
    )
    ledger.finish_run(run_id, "succeeded", pending=True, tool_versions={"t": "1"}, seconds=1.0)
    return staging


def test_a_run_is_delivered_whole_once_and_loads_with_its_host(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_PIPELINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(HOST_ENV, "host-a")
    monkeypatch.setenv(HOST_CLASS_ENV, "bench-a")
    landing = tmp_path / "home" / "landing"
    staging = _measured_run(landing, "r1")
    assert delivered_runs(landing, ["r1"]) == {"r1": False}  # staged files are not in the landing area
    assert deliver(staging, landing, "r1") is True and not staging.exists()
    assert delivered_runs(landing, ["r1"]) == {"r1": True}
    again = _measured_run(landing, "r1")  # a retried step measured the same run again
    assert deliver(again, landing, "r1") is False and not again.exists()
    store = Store()
    loaded = store.load_landing(run_id="r1")
    assert loaded.rows == {"samples": 1, "runs": 1}
    assert store.load_landing(run_id="r1").rows == {}  # loading twice adds nothing
    row = store.run("r1")
    assert (row["host_class"], row["hostname"], row["status"], row["pending_status"]) == (
        "bench-a",
        "host-a",
        "running",
        "succeeded",
    )
    assert json.loads(row["host"])["host"] == "host-a"


def test_a_failed_run_is_not_delivered(tmp_path):
    ledger = LandingLedger(tmp_path)
    ledger.create_run(
        "r2", "s", trigger="fleet", backend="local", host={}, settings={}, tools=[], sizes=[], quick=False,
        suite_sha256="x",
    )  # fmt: skip
    ledger.finish_run("r2", "failed", message="boom")
    assert not any(tmp_path.rglob("*.parquet"))


def test_step_watch_tells_a_queue_nobody_serves():
    t = Timeouts(queue_s=10, heartbeat_s=2, missed_heartbeats=3, step_s=100)
    w = StepWatch("measure_on_bench_a", "bench-a", "bench-a", t, submitted=0.0)
    assert w.observe(9.0, started=False) is None
    reason = w.observe(11.0, started=False)
    assert reason and "no host of class bench-a" in reason and "queue 'bench-a'" in reason


def test_step_watch_tells_a_host_that_stopped_answering():
    t = Timeouts(queue_s=10, heartbeat_s=2, missed_heartbeats=3, step_s=100)
    w = StepWatch("measure_on_bench_a", "bench-a", "bench-a", t, submitted=0.0)
    assert w.observe(1.0, started=True, worker="host-a@m") is None
    assert not w.due_ping(2.0) and w.due_ping(3.0)
    assert w.observe(3.0, started=True, answered=True) is None
    assert w.observe(5.0, started=True, answered=False) is None
    assert w.observe(7.0, started=True, answered=False) is None
    assert w.observe(8.0, started=True, answered=True) is None  # one answer resets the count
    for now in (10.0, 12.0):
        assert w.observe(now, started=True, answered=False) is None
    reason = w.observe(14.0, started=True, answered=False)
    assert reason and "host host-a@m (class bench-a) stopped answering" in reason and "re-execute" in reason


def test_step_watch_gives_up_a_step_past_its_limit():
    t = Timeouts(queue_s=10, heartbeat_s=2, missed_heartbeats=3, step_s=100)
    w = StepWatch("s", "bench-a", "bench-a", t, submitted=0.0)
    w.observe(1.0, started=True, worker="h")
    assert w.observe(100.0, started=True, answered=True) is None
    assert "ran longer than 100 s" in (w.observe(102.0, started=True, answered=True) or "")


def test_a_host_of_another_class_refuses_the_step(monkeypatch, tmp_path):
    from bench_pipeline.execution.suite_run import RunRequest
    from bench_pipeline.fleet import measure_on_host
    from bench_pipeline.suite import find_suite

    monkeypatch.setenv(HOST_CLASS_ENV, "bench-b")
    with pytest.raises(FleetError, match="ran on host .* of class bench-b"):
        measure_on_host(RunRequest(find_suite("vcs"), run_id="r"), "bench-a", landing_dir=tmp_path)


def test_the_fleet_profile_is_one_setting(monkeypatch, tmp_path):
    from bench_pipeline.interfaces.inprocess import PROFILES, ensure_dagster_home

    monkeypatch.setenv("BENCH_PIPELINE_HOME", str(tmp_path))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("BENCH_PIPELINE_PROFILE", raising=False)
    home = ensure_dagster_home()
    assert (home / "dagster.yaml").read_bytes() == PROFILES["local"].read_bytes()
    monkeypatch.setenv("BENCH_PIPELINE_PROFILE", "fleet")
    monkeypatch.delenv("BENCH_PIPELINE_POSTGRES_URL", raising=False)
    with pytest.raises(BenchError, match="BENCH_PIPELINE_POSTGRES_URL is not set") as missing:
        ensure_dagster_home()
    assert "postgresql+psycopg2://" in missing.value.fix
    monkeypatch.setenv("BENCH_PIPELINE_POSTGRES_URL", "postgresql+psycopg2://bench@127.0.0.1:5432/bench")
    ensure_dagster_home()
    text = (home / "dagster.yaml").read_text()
    assert "postgres_url" in text and "BENCH_PIPELINE_POSTGRES_URL" in text


def test_the_bench_runs_of_a_fleet_run_come_from_its_tag_or_its_config():
    from types import SimpleNamespace

    from jobs.fleet import bench_runs_of, fleet_run_id

    by_cli = SimpleNamespace(tags={"bench/fleet_runs": "bench-a=r1,bench-b=r2"}, run_config={}, root_run_id=None,
                             run_id="x")  # fmt: skip
    assert bench_runs_of(by_cli) == ["r1", "r2"]
    config = {"ops": {"measure_on_bench_a": {"config": {"suite": "vcs", "sizes": ["small"]}}}}
    launched = SimpleNamespace(tags={}, run_config=config, root_run_id=None, run_id="0123456789ab")
    reexecuted = SimpleNamespace(tags={}, run_config=config, root_run_id="0123456789ab", run_id="ffff")
    assert (
        bench_runs_of(launched)
        == bench_runs_of(reexecuted)
        == [fleet_run_id("vcs", "bench-a", "0123456789ab")]
    )


def test_the_baseline_of_a_run_is_of_its_own_host_class(tmp_path):
    from bench_pipeline.checks import baseline_for

    store = Store(tmp_path / "bench.duckdb")
    for run_id, host_class in (("a1", "bench-a"), ("b1", "bench-b"), ("a2", "bench-a"), ("b2", "bench-b")):
        store.create_run(
            run_id, "s", trigger="fleet", backend="local", host={"fingerprint": "same machine", "host_class": host_class},
            settings={}, tools=[], sizes=[], quick=False, suite_sha256="x",
        )  # fmt: skip
        store.finish_run(run_id, "succeeded")
    assert baseline_for(store, "s", "a2") == "a1"
    assert baseline_for(store, "s", "b2") == "b1"
    assert baseline_for(store, "s", "a1") is None
