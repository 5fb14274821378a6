"""No stack trace reaches a person (issue 13): each failure is at most three lines on stderr (what
failed, the fix, the log file), a non-zero exit code, and the full trace in that log file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def _cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench_pipeline", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=900,
    )


def _assert_translated(proc: subprocess.CompletedProcess, *, says: str, trace: str) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode not in (0, None), proc.stderr
    assert len(lines) <= 3, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert says in lines[0], lines
    log = re.search(r"log: (\S+)", proc.stderr)
    assert log, proc.stderr
    text = Path(log.group(1)).read_text()
    assert "Traceback (most recent call last)" in text and trace in text
    return text


def test_a_suite_file_with_a_bad_field(bench_home, tmp_path):
    suite = tmp_path / "bad.yaml"
    suite.write_text(
        "name: bad\ndescription: x\ntools:\n  t:\n    version: [t, --version]\n    bogus: 1\noperations: []\n"
    )
    proc = _cli(["run", "--suite", str(suite)])
    assert proc.returncode == 2
    _assert_translated(proc, says="bad.yaml", trace="SuiteError")
    assert "tools.t.bogus" in proc.stderr


def test_a_missing_tool(bench_home):
    proc = _cli(["run", "--suite", "vcs", "--tool", "nope", "--quick"])
    assert proc.returncode == 2
    _assert_translated(proc, says="has no tool 'nope'", trace="SuiteError")
    assert "fix: choose among: git, git-worktree, jj" in proc.stderr


def test_a_docker_engine_that_does_not_answer(bench_home, tmp_path):
    proc = _cli(
        ["run", "--suite", "vcs", "--tool", "git", "--quick", "--backend", "docker"],
        env={"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"},
    )
    assert proc.returncode == 2
    _assert_translated(proc, says="Docker engine", trace="BackendUnavailable")
    assert "--backend local" in proc.stderr


def test_a_crashing_asset(bench_home, tmp_path):
    """A bug in a stage (planted through sitecustomize: no test hook in the product)."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import bench_pipeline.execution.suite_run as s\n"
        "def crash(*a, **k):\n"
        "    raise RuntimeError('planted crash in prepare_fixtures')\n"
        "s.prepare_fixtures = crash\n"
    )
    proc = _cli(
        ["run", "--suite", "vcs", "--tool", "git", "--quick", "--backend", "local"],
        env={"PYTHONPATH": os.pathsep.join([str(hook), str(ROOT)])},
    )
    assert proc.returncode == 1
    text = _assert_translated(
        proc, says="stage fixtures (fixtures_job", trace="planted crash in prepare_fixtures"
    )
    assert "RuntimeError" in proc.stderr and "crash" in text


def test_the_api_answers_a_crash_with_a_request_id_and_logs_the_trace(bench_home, monkeypatch, caplog):
    from bench_pipeline.interfaces.http import app as api

    def boom(*_a, **_k):
        raise RuntimeError("planted crash in a query")

    monkeypatch.setattr(api.queries, "list_runs", boom)
    client = TestClient(api.create_app(token="t"), raise_server_exceptions=False)
    reply = client.get("/api/runs")
    assert reply.status_code == 500
    body = reply.json()
    assert set(body) == {"detail", "request_id"} and "planted" not in json.dumps(body)
    assert reply.headers["x-request-id"] == body["request_id"]
    logged = [r for r in caplog.records if r.name == "bench_pipeline.http"]
    assert logged and body["request_id"] in logged[0].getMessage() and logged[0].exc_info
