"""A suite that arrived only by ingestion becomes a Dagster partition (dynamic: no reload of the code
location) and its runs go through the same analysis assets; its measuring assets refuse clearly."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench_pipeline.ingest import ingest_files
from bench_pipeline.ingest.catalogue import read_catalogue
from tests.conftest import DATA, ROOT

pytestmark = pytest.mark.integration

SCRIPT = """
import json, dagster, definitions
from assets.partitions import sync_partitions
from bench_pipeline.store import Store

instance = dagster.DagsterInstance.ephemeral()
job = definitions.defs.resolve_job_def  # loaded before the partitions exist: they are dynamic
sync_partitions(instance)  # what the partitions sensor does every 30 s
before = Store().query("SELECT count(*) FROM cell_stats").item()
ingest = job("ingest_job").execute_in_process(partition_key="ext|hf", instance=instance)
report = job("report_job").execute_in_process(partition_key="ext", instance=instance)
fixtures = job("fixtures_job").execute_in_process(partition_key="ext|hf", instance=instance, raise_on_error=False)
error = next(e for e in fixtures.all_events if e.is_step_failure).event_specific_data.error
messages = []
while error is not None:
    messages.append(error.message)
    error = error.cause
print(json.dumps({
    "suites": instance.get_dynamic_partitions("suites"),
    "has_key": "hf" in instance.get_dynamic_partitions("tools"),
    "cells_before": before,
    "cells_after": Store().query("SELECT count(*) FROM cell_stats WHERE suite = 'ext'").item(),
    "ingest": ingest.success, "report": report.success, "fixtures": fixtures.success,
    "fixtures_error": " / ".join(messages),
}))
"""


def test_an_ingested_suite_is_a_partition_and_its_analysis_assets_run(bench_home, tmp_path):
    ingest_files([DATA / "ingest" / "hyperfine.json"], suite="ext", tool="hf")  # stored, not analysed
    assert read_catalogue()["ext"] == ["hf"]
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster")}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "ext" in out["suites"] and "vcs" in out["suites"] and out["has_key"]
    assert out["cells_before"] == 0 and out["cells_after"] > 0
    assert out["ingest"] and out["report"] and not out["fixtures"]
    assert "arrived by ingestion and has no suite file" in out["fixtures_error"]
    assert (bench_home / "reports" / "ext" / "latest" / "report.md").exists()
