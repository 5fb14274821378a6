"""The Docker backend through the CLI: a real suite run in containers, and a clear error without an engine."""

from __future__ import annotations

import os

import duckdb
import pytest

from bench_pipeline.suite import find_suite
from tests.conftest import docker_available
from tests.integration.test_cli import cli, last_json

pytestmark = [pytest.mark.integration, pytest.mark.docker]

requires_docker = pytest.mark.skipif(
    not docker_available() and os.environ.get("CI") != "true",
    reason="no Docker engine answers here (mandatory in CI where one does)",
)


@requires_docker
@pytest.mark.slow
def test_vcs_quick_run_on_docker_backend(bench_home):
    out = last_json(
        cli(
            "run",
            "--backend",
            "docker",
            "--suite",
            "vcs",
            "--tool",
            "git",
            "--tool",
            "git-worktree",
            "--size",
            "small",
            "--quick",
            "--json",
            timeout=1200,
        ).stdout
    )
    assert out["status"] == "succeeded" and out["samples"] > 100
    con = duckdb.connect(str(bench_home / "bench.duckdb"), read_only=True)
    backends = con.execute(
        "SELECT DISTINCT backend FROM samples_all WHERE run_id = ?", [out["run_id"]]
    ).fetchall()
    run_backend = con.execute("SELECT backend FROM runs WHERE run_id = ?", [out["run_id"]]).fetchone()[0]
    states = dict(
        con.execute(
            "SELECT status, count(*) FROM run_cells WHERE run_id = ? GROUP BY status", [out["run_id"]]
        ).fetchall()
    )
    con.close()
    assert backends == [("docker",)] and run_backend == "docker"
    # every quick operation of both tools measured in containers; only the suite's n/a cells are not
    quick = [op for op in find_suite("vcs").expanded_operations() if op.quick]
    assert set(states) <= {"measured", "na"} and states["measured"] == 2 * len(quick), states


def test_docker_backend_without_engine_is_one_clear_message(bench_home, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    proc = cli("run", "--backend", "docker", "--suite", "vcs", "--tool", "git", "--quick", check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "docker" in proc.stderr.lower() and "--backend local" in proc.stderr
    auto = cli("measure", "--backend", "auto", "--runs", "2", "--json", "--", "true", check=False)
    assert auto.returncode == 0 and last_json(auto.stdout)["backend"] == "local"
    assert "using local" in auto.stderr
