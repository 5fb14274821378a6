"""The daemon completes runs whose process died between stages: resume_sensor starts resume_job for
runs pending longer than its grace period, and resume_job gives them their status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dagster import RunRequest, SkipReason, build_sensor_context, instance_for_test

from bench_pipeline.ingest import ingest_files
from bench_pipeline.store import Store
from tests.hostile.corpus import DATA

pytestmark = pytest.mark.integration


def test_a_pending_run_is_resumed_by_the_daemon(bench_home: Path, tmp_path: Path) -> None:
    from jobs.resume import resume_job, resume_sensor

    ingest_files([DATA / "hyperfine.json"], suite="hf")  # stored; its analysis never ran (killed)
    store = Store()
    run_id = store.query("SELECT run_id FROM runs").item(0, 0)
    assert store.run(run_id)["status"] == "running"
    (tmp_path / "dagster").mkdir()
    with instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        fresh = resume_sensor(build_sensor_context(instance=instance))
        assert isinstance(fresh, SkipReason)  # within the grace period: its own stages may still run
        con = duckdb.connect(str(store.path))
        con.execute("UPDATE runs SET finished_at = ?", [datetime.now(UTC) - timedelta(hours=1)])
        con.close()
        request = resume_sensor(build_sensor_context(instance=instance))
        assert isinstance(request, RunRequest) and run_id in request.tags["bench/resume"]
        from resources import StoreResource

        result = resume_job.execute_in_process(instance=instance, resources={"store": StoreResource()})
        assert result.success
    assert store.run(run_id)["status"] == "succeeded"
    assert store.query("SELECT count(*) FROM cell_stats WHERE run_id = ?", [run_id]).item(0, 0) > 0
