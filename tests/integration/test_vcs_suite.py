"""The flagship suite with jj (SPEC §15): complete, and jj's resulting states match git's.

The first test only reads ``suites/vcs.yaml``. The others run a few mutating operations copied
from it, for git, git-worktree and jj, through the real pipeline (the CLI, local backend), and
read the verdicts of the state probes from DuckDB: every tool must reach the state git reaches
(``equivalence`` equal, or reference for git). A negative control replaces jj's `commit` by a
command that does less work (`jj status`): its cell must be flagged (``differs``, not valid), so
a tool that "wins" by skipping work cannot be reported as faster.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from bench_pipeline.builds import plan_tool
from bench_pipeline.suite import load_suite_file
from tests.conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.jj]

VCS = ROOT / "suites" / "vcs.yaml"
TOOLS = {"git", "git-worktree", "jj"}
# copied from vcs.yaml into the small run: a commit, a merge, a stack rebase (refs), a history
# rewrite (history probe) and an undo (status probe)
SUBSET = ["commit", "merge", "rebase-stack", "reword-older", "undo"]
# the negative control: git commits, jj only looks at the working copy
LAZY = "commit-lazy"
# mutating operations whose result has no state to compare (or whose reference tool is n/a)
NO_STATE = {"init", "adopt", "diff-working-copy", "diffstat", "rename-detection", "snapshot"}


def _require_jj() -> None:
    """Skip (fail under CI=true) unless the pinned jj is installed."""
    in_ci = os.environ.get("CI", "").lower() == "true"
    suite = load_suite_file(VCS)
    pin = suite.tools["jj"].build.default_rev if suite.tools["jj"].build else "?"
    # found on PATH or in the tool cache, as a run finds it
    status = plan_tool(suite, "jj", allow_build=False)
    why = ""
    if status.action not in ("installed", "cached"):
        why = f"jj is not installed ({status.fix})"
    else:
        jj = str(status.bin_dir / "jj") if status.bin_dir else shutil.which("jj")
        out = subprocess.run([jj or "jj", "--version"], capture_output=True, text=True, timeout=30).stdout
        if pin not in out:
            why = f"jj {out.strip()!r} is not the pinned {pin}: vcs.yaml is written for that CLI"
    if why:
        if in_ci:
            pytest.fail(f"CI=true: {why}")
        pytest.skip(why)


def test_vcs_suite_covers_every_operation_for_every_tool():
    suite = load_suite_file(VCS)
    assert set(suite.tools) == TOOLS and suite.reference == "git"
    ops = suite.expanded_operations()
    assert len(ops) >= 50, f"SPEC §15 asks for 50+ operations, vcs.yaml has {len(ops)}"
    for op in ops:
        for tool in TOOLS:
            assert (tool in op.commands) != (tool in op.na), f"{op.name}: {tool} needs a command or n/a"
            if tool in op.na:
                assert len(op.na[tool]) > 10, f"{op.name}: n/a for {tool} needs a reason"
    names = {op.name for op in ops}
    assert {"log-n[n=10]", "log-n[n=100]", "log-n[n=1000]"} <= names
    assert {"adopt", "snapshot"} <= names and all(
        set(suite.operation(n).na) == {"git", "git-worktree"} for n in ("adopt", "snapshot")
    )
    for op in ops:
        if op.mutating and op.name not in NO_STATE:
            assert op.equivalence, f"{op.name} changes state but checks none against git"
    jj = suite.tools["jj"]
    assert any("jj git init --colocate" in " ".join(step) for step in jj.setup)
    assert {
        "JJ_CONFIG",
        "JJ_USER",
        "JJ_EMAIL",
        "JJ_TIMESTAMP",
        "JJ_OP_TIMESTAMP",
        "JJ_OP_HOSTNAME",
        "JJ_OP_USERNAME",
    } <= set(jj.env)
    assert jj.env["JJ_RANDOMNESS_SEED"] == "${seed}"


def _subset_suite(path: Path) -> None:
    """A small suite: SUBSET copied verbatim from vcs.yaml (all three tools) plus the negative control."""
    data = yaml.safe_load(VCS.read_text())
    by_name = {op["name"]: op for op in data["operations"]}
    ops = []
    for name in SUBSET:
        op = dict(by_name[name])
        op.pop("quick", None)
        ops.append(op)
    lazy = json.loads(json.dumps(by_name["commit"]))
    lazy["name"] = LAZY
    lazy["commands"]["jj"] = {"run": ["jj", "status"]}
    ops.append(lazy)
    data.update(
        name=path.stem,
        description="vcs operations with jj, checked against git (tests/integration/test_vcs_suite.py)",
        operations=ops,
        quick={"warmup": 0, "min_runs": 1, "max_runs": 1, "time_budget_s": 60, "sizes": ["small"]},
    )
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture(scope="module")
def subset_run(tmp_path_factory: pytest.TempPathFactory, fixture_cache: Path) -> list[dict]:
    """Run the subset suite once (quick, local backend) and return its run_cells rows."""
    _require_jj()
    tmp = tmp_path_factory.mktemp("vcs-jj")
    suite_file = tmp / "vcs-jj-subset.yaml"  # a name no suite in suites/ has
    _subset_suite(suite_file)
    home = tmp / "home"
    env = {**os.environ, "BENCH_PIPELINE_HOME": str(home), "BENCH_PIPELINE_FIXTURE_CACHE": str(fixture_cache)}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench_pipeline",
            "run",
            "--suite",
            str(suite_file),
            "--quick",
            "--backend",
            "local",
            "--json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\nstdout:{proc.stdout[-2000:]}\nstderr:{proc.stderr[-3000:]}"
    )
    run_id = json.loads(proc.stdout.strip().splitlines()[-1])["run_id"]
    con = duckdb.connect(str(home / "bench.duckdb"), read_only=True)
    try:
        cur = con.execute(
            "SELECT operation, tool, status, reason, equivalence, similarity, valid FROM run_cells WHERE run_id = ?",
            [run_id],
        )
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()
    assert rows, f"run {run_id} recorded no cells"
    return rows


def test_jj_and_worktrees_reach_the_same_state_as_git(subset_run):
    cells = {(r["operation"], r["tool"]): r for r in subset_run}
    for op in SUBSET:
        for tool in TOOLS:
            cell = cells[(op, tool)]
            assert cell["status"] == "measured", f"{op}/{tool}: {cell['status']}: {cell['reason']}"
            expected = "reference" if tool == "git" else "equal"
            assert cell["equivalence"] == expected, f"{op}/{tool}: {cell['equivalence']}: {cell['reason']}"
            assert cell["valid"] is True and cell["similarity"] == 1.0


def test_a_tool_doing_less_work_is_flagged_invalid(subset_run):
    cells = {(r["operation"], r["tool"]): r for r in subset_run}
    lazy = cells[(LAZY, "jj")]
    assert lazy["status"] == "measured"  # it ran fine: only the state probe can tell
    assert lazy["equivalence"] == "differs" and lazy["valid"] is False
    assert lazy["similarity"] < 1.0 and "differs from git" in lazy["reason"]
    assert cells[(LAZY, "git-worktree")]["equivalence"] == "equal"
