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
CLI = [sys.executable, "-m", "bench_pipeline"]


def cli(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [*CLI, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=os.environ
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr[-3000:]}")
    return proc


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def test_run_json_contract_and_numbers_come_from_samples_all(bench_home):
    out = last_json(
        cli("run", "--suite", str(DATA / "mini.yaml"), "--quick", "--backend", "local", "--json").stdout
    )
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
        [out["run_id"]],
    ).fetchone()[0]
    status = con.execute("SELECT status, backend FROM runs WHERE run_id = ?", [out["run_id"]]).fetchone()
    failed = con.execute(
        "SELECT count(*) FROM samples_all WHERE run_id = ? AND operation = 'broken' AND exit_code <> 0",
        [out["run_id"]],
    ).fetchone()[0]
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


@pytest.mark.parametrize(
    "args, needle",
    [
        (["run", "--suite", "nope"], "no suite named 'nope'"),
        (["run", "--suite", "vcs", "--tool", "svn"], "has no tool 'svn'"),
        (["validate", "tests/data/does-not-exist.yaml"], "not found"),
        (["report", "--suite", "vcs", "--run", "latest~99"], "no finished run"),
    ],
)
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


GATE_SUITE = """
name: gate
settings: {{warmup: 1, min_runs: 8, max_runs: 8, time_budget_s: 120, timeout_s: 20, sizes: [small]}}
tools:
  git: {{version: [git, --version], requires: [git]}}
  git-worktree: {{version: [git, --version], requires: [git]}}
operations:
  - name: pause
    commands:
      git: {{run: 'sleep $$(cat {delay})', shell: true}}
      git-worktree: {{run: [sleep, "0.03"]}}
"""


def test_regression_gate_and_compare_contracts(bench_home, tmp_path):
    delay = tmp_path / "delay"
    suite = tmp_path / "gate.yaml"
    suite.write_text(GATE_SUITE.format(delay=delay))
    delay.write_text("0.03")
    first = last_json(cli("run", "--suite", str(suite), "--backend", "local", "--json").stdout)
    assert first["regression"] is False
    delay.write_text("0.06")  # git gets twice as slow
    proc = cli("run", "--suite", str(suite), "--backend", "local", "--json", check=False)
    assert proc.returncode == 3, proc.stderr[-2000:]
    second = last_json(proc.stdout)
    assert second["regression"] is True and "1 confirmed regression(s)" in second["gate"]
    assert Path(second["reports"]["md"]).exists()  # the report is still written

    os.environ["BENCH_PIPELINE_SUITES"] = str(tmp_path)
    try:
        runs = cli(
            "compare",
            "--suite",
            "gate",
            "--baseline",
            first["run_id"],
            "--candidate",
            "latest",
            "--json",
            "--fail-on-regression",
            check=False,
        )
        assert runs.returncode == 3
        rows = {r["tool"]: r for r in last_json(runs.stdout)["comparisons"]}
        assert rows["git"]["verdict"] == "regression" and 1.7 < rows["git"]["ratio"] < 2.3
        assert rows["git"]["ci_low"] > 1.03 and rows["git"]["p_adjusted"] < 0.05
        assert rows["git-worktree"]["verdict"] in ("equivalent", "inconclusive")
        assert {"baseline_run", "candidate_run", "baseline_median", "candidate_median", "n_a", "n_b"} <= set(
            rows["git"]
        )
        # history: one earlier run is too little to confirm, so the baseline alone decides
        assert rows["git"]["history_runs"] == 1 and rows["git"]["history_confirmed"] is True
        assert rows["git-worktree"]["history_confirmed"] is None
        confirmed = cli(
            "compare", "--suite", "gate", "--baseline", first["run_id"], "--fail-on-regression", "--confirmed",
            check=False,
        )  # fmt: skip
        assert confirmed.returncode == 3 and "regression" in confirmed.stdout
        misused = cli("compare", "--suite", "gate", "--run", "latest", "--tools", "git", "git-worktree",
                      "--confirmed", check=False)  # fmt: skip
        assert misused.returncode != 0 and "--confirmed applies to run vs baseline" in misused.stderr

        tools = last_json(
            cli(
                "compare", "--suite", "gate", "--run", "latest", "--tools", "git", "git-worktree", "--json"
            ).stdout
        )["comparisons"]
        assert len(tools) == 1
        row = tools[0]
        assert (row["tool_a"], row["tool_b"]) == ("git", "git-worktree")
        assert row["verdict"] == "faster" and row["ratio"] < 0.6  # git-worktree's 30 ms vs git's 60 ms
        assert {"median_a", "median_b", "ci_low", "ci_high", "p_value", "p_adjusted", "n_a", "n_b"} <= set(
            row
        )
    finally:
        del os.environ["BENCH_PIPELINE_SUITES"]


def test_parallel_setting_runs_tools_at_once_and_the_report_says_so(bench_home, tmp_path):
    text = (DATA / "mini.yaml").read_text().replace("sizes: [small]}", "sizes: [small], parallel: 2}", 1)
    suite = tmp_path / "mini.yaml"
    suite.write_text(text)
    out = last_json(cli("run", "--suite", str(suite), "--backend", "local", "--json").stdout)
    assert out["status"] == "succeeded"
    md = Path(out["reports"]["md"]).read_text()
    assert "2 tools measured in parallel" in md
    con = duckdb.connect(str(bench_home / "bench.duckdb"), read_only=True)
    n = con.execute(
        "SELECT count(DISTINCT tool) FROM samples_all WHERE run_id = ?", [out["run_id"]]
    ).fetchone()[0]
    con.close()
    assert n == 2


def test_stdout_null_setting_sends_output_to_dev_null_and_the_run_says_so(bench_home, tmp_path):
    """``settings.stdout: devnull``: every sample's stdout_bytes is null (not counted), the run's host
    record says so; the default run of the same suite counts the bytes (git log -n5: 5 hashes)."""
    text = (DATA / "mini.yaml").read_text().replace("sizes: [small]}", "sizes: [small], stdout: devnull}", 1)
    suite = tmp_path / "mini.yaml"
    suite.write_text(text)
    nulled = last_json(cli("run", "--suite", str(suite), "--quick", "--backend", "local", "--json").stdout)
    piped = last_json(
        cli("run", "--suite", str(DATA / "mini.yaml"), "--quick", "--backend", "local", "--json").stdout
    )
    assert nulled["status"] == piped["status"] == "succeeded"
    con = duckdb.connect(str(bench_home / "bench.duckdb"), read_only=True)
    counts = {
        run: con.execute(
            "SELECT count(*), count(stdout_bytes), max(stdout_bytes) FROM samples_all"
            " WHERE run_id = ? AND operation = 'log-n'",
            [out["run_id"]],
        ).fetchone()
        for run, out in (("null", nulled), ("pipe", piped))
    }
    hosts = {
        run: json.loads(con.execute("SELECT host FROM runs WHERE run_id = ?", [out["run_id"]]).fetchone()[0])
        for run, out in (("null", nulled), ("pipe", piped))
    }
    con.close()
    assert counts["null"][0] > 0 and counts["null"][1] == 0, counts
    assert counts["pipe"][1] == counts["pipe"][0] > 0 and counts["pipe"][2] == 5 * 41, counts
    assert hosts["null"]["backend"]["stdout"] == "devnull" and "stdout" not in hosts["pipe"]["backend"]


def test_a_missing_tool_is_reported_unavailable_not_a_crash(bench_home):
    out = last_json(
        cli("run", "--suite", str(DATA / "missing.yaml"), "--quick", "--backend", "local", "--json").stdout
    )
    assert out["status"] == "succeeded" and out["cells"] == {"measured": 1, "unavailable": 1}
    report = json.loads(Path(out["reports"]["json"]).read_text())
    ghost = report["operations"][0]["tools"]["ghost"]
    assert ghost["status"] == "unavailable" and "ghost-tool-not-installed" in ghost["reason"]
    assert "unavailable" in Path(out["reports"]["md"]).read_text()


def test_ingested_results_are_analysed_and_reported(bench_home):
    source = str(DATA / "ingest" / "hyperfine.json")
    for tool in ("tool-a", "tool-b"):  # two tools in one run, so they can be compared
        out = last_json(
            cli(
                "ingest", source, "--suite", "external", "--tool", tool, "--run-id", "ext-run-1", "--json"
            ).stdout
        )
        assert out["run_id"] == "ext-run-1" and out["samples"] > 0
    report = last_json(cli("report", "--suite", "external", "--run", "ext-run-1", "--json").stdout)
    data = json.loads(Path(report["reports"]["json"]).read_text())
    assert data["samples"] > 0 and data["comparisons"], "ingested runs get statistics and comparisons"
    row = data["comparisons"][0]
    assert {row["tool_a"], row["tool_b"]} == {"tool-a", "tool-b"}
    # the same samples under two names: never a significant difference
    assert all(c["verdict"] in ("equivalent", "inconclusive") for c in data["comparisons"])
