"""The CLI as users call it: JSON contracts, exit codes, messages without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import DATA, ROOT

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "bench_pipeline.cli"]


def cli(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([*CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=os.environ)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr[-3000:]}")
    return proc


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def test_run_json_contract_and_numbers_come_from_samples_all(bench_home):
    out = last_json(cli("run", "--suite", str(DATA / "mini.yaml"), "--quick", "--backend", "local", "--json").stdout)
    assert set(out) >= {"run_id", "suite", "status", "samples", "reports"}
    assert out["status"] == "succeeded" and out["suite"] == "mini"
    md, js = Path(out["reports"]["md"]), Path(out["reports"]["json"])
    assert md.exists() and js.exists()
    assert md.parent.name == out["run_id"] and (md.parent.parent / "latest").resolve() == md.parent.resolve()
    con = duckdb.connect(str(bench_home / "bench.duckdb"), read_only=True)
    n = con.execute("SELECT count(*) FROM samples_all WHERE run_id = ?", [out["run_id"]]).fetchone()[0]
    assert n == out["samples"] > 0
    median = con.execute(
        "SELECT median(wall_ns) FROM samples_all WHERE run_id = ? AND tool = 'git' AND operation = 'status' AND ok",
        [out["run_id"]]).fetchone()[0]
    status = con.execute("SELECT status, backend FROM runs WHERE run_id = ?", [out["run_id"]]).fetchone()
    failed = con.execute("SELECT count(*) FROM samples_all WHERE run_id = ? AND operation = 'broken' AND exit_code <> 0",
                         [out["run_id"]]).fetchone()[0]
    con.close()
    assert status == ("succeeded", "local")
    assert failed >= 2  # the failing command is recorded with its exit code, not dropped
    report = json.loads(js.read_text())
    row = next(r for r in report["operations"] if r["operation"] == "status")
    assert row["tools"]["git"]["metrics"]["wall"]["median"] == pytest.approx(median)
    na = next(r for r in report["operations"] if r["operation"] == "broken")
    assert na["tools"]["git-worktree"]["status"] == "na"
    assert na["tools"]["git"]["status"] == "failed"
    assert "n/a" in md.read_text() and "failed" in md.read_text()


def test_measure_json_contract(bench_home):
    out = last_json(cli("measure", "--runs", "3", "--warmup", "1", "--json", "--", "sleep", "0.02").stdout)
    assert out["command"] == ["sleep", "0.02"]
    assert len(out["runs"]) == 3
    assert set(out["runs"][0]) >= {"wall_ns", "user_ns", "sys_ns", "peak_rss_bytes", "exit_code"}
    assert set(out["summary"]) >= {"median_ns", "mean_ns", "std_ns", "min_ns", "max_ns", "n"}
    assert 0.018e9 < out["summary"]["median_ns"] < 0.05e9


def test_fixtures_json_contract(bench_home):
    out = last_json(cli("fixtures", "--suite", "vcs", "--size", "small", "--json").stdout)
    assert set(out) >= {"path", "commits", "files", "seconds"}
    assert Path(out["path"]).is_dir() and out["commits"] >= 400 and out["files"] >= 400


@pytest.mark.parametrize("args, needle", [
    (["run", "--suite", "nope"], "no suite named 'nope'"),
    (["run", "--suite", "vcs", "--tool", "svn"], "has no tool 'svn'"),
    (["validate", "tests/data/does-not-exist.yaml"], "not found"),
    (["report", "--suite", "vcs", "--run", "latest~99"], "no finished run"),
])
def test_expected_failures_are_one_message_without_traceback(bench_home, args, needle):
    proc = cli(*args, check=False)
    assert proc.returncode != 0
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr


def test_doctor_json_lists_components(bench_home):
    out = last_json(cli("doctor", "--json").stdout)
    names = {c["name"]: c for c in out["components"]}
    assert {"git", "jj", "docker", "cgroup", "disk"} <= set(names)
    assert all({"available", "version", "fix"} <= set(c) for c in out["components"])
    assert names["git"]["available"] is True


def test_suites_lists_operations(bench_home):
    text = cli("suites").stdout
    assert "vcs:" in text and "rebase-branch" in text
