"""README command 1 on a machine without jj (issue 13): the run obtains jj — from the per-user tool
cache, or by building it with cargo — and measures it; with cargo hidden too, it still exits 0 and
the report names jj unavailable with the one command that fixes it. No traceback either way."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench_pipeline.suite import find_suite

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _path_without(*names: str) -> str:
    """PATH with every directory that holds one of ``names`` left out."""
    keep = [
        d
        for d in os.environ.get("PATH", "").split(os.pathsep)
        if d and not any((Path(d) / n).exists() for n in names)
    ]
    return os.pathsep.join(keep)


def _readme_command_1(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    # the path a newcomer takes, not the verdicts (benchmarks/bench_flagship.py measures those): the
    # measuring is capped at 20 s of the quick run's 110
    return subprocess.run(
        [sys.executable, "-m", "bench_pipeline", "run", "--suite", "vcs", "--quick", "--json"],
        cwd=cwd,
        env={**env, "BENCH_PIPELINE_TIME_BUDGET_S": "20"},
        capture_output=True,
        text=True,
        timeout=3600,
    )


def test_without_jj_on_path_the_run_obtains_it_and_measures_it(bench_home, tmp_path):
    if shutil.which("cargo") is None and not (Path.home() / ".cargo" / "bin" / "cargo").exists():
        pytest.skip("cargo is not installed: jj cannot be built here")
    env = {**os.environ, "PATH": _path_without("jj")}
    assert shutil.which("jj", path=env["PATH"]) is None
    proc = _readme_command_1(env, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    report = json.loads(Path(out["reports"]["json"]).read_text())
    assert report["run"]["tool_versions"]["jj"].startswith("jj 0.45.1")
    jj_cells = [c for op in report["operations"] for t, c in op["tools"].items() if t == "jj"]
    quick = [op for op in find_suite("vcs").expanded_operations() if op.quick and "jj" in op.commands]
    assert sum(c["status"] == "measured" for c in jj_cells) == len(quick), "jj cells were not measured"
    assert report["unavailable_tools"] == []
    assert "jj: " in proc.stderr  # the run said where jj came from (cached or built)
    assert "budget 20s (capped by $BENCH_PIPELINE_TIME_BUDGET_S)" in proc.stderr


def test_without_jj_and_cargo_the_report_names_jj_unavailable_with_its_fix(bench_home, tmp_path):
    env = {
        **os.environ,
        "PATH": _path_without("jj", "cargo"),
        "CARGO_HOME": str(tmp_path / "no-cargo"),
        "BENCH_PIPELINE_TOOL_CACHE": str(tmp_path / "empty-tool-cache"),
    }
    proc = _readme_command_1(env, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(out["unavailable"]) == {"jj"}
    report = json.loads(Path(out["reports"]["json"]).read_text())
    (jj,) = report["unavailable_tools"]
    assert jj["tool"] == "jj" and jj["action"] == "unavailable" and "cargo" in jj["reason"]
    assert "cargo install --locked --bin jj jj-cli@0.45.1" in jj["fix"]
    assert report["run"]["tool_versions"].keys() == {"git", "git-worktree"}
    assert "jj was not measured" in Path(out["reports"]["md"]).read_text()
    assert "note: jj unavailable" in proc.stderr and "fix: install Rust" in proc.stderr
