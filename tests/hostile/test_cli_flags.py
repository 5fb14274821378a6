"""Hostile CLI flags: extreme times, run references outside the grammar, timeouts that are not
positive numbers, a command that does not exist, a home that cannot hold data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.hostile.conftest import assert_refused, invoke, row_counts
from tests.hostile.corpus import DATA, cli_cases

CASES = list(cli_cases(DATA / "hyperfine.json"))


@pytest.mark.parametrize(("name", "args"), CASES, ids=[name for name, _ in CASES])
def test_a_hostile_flag_is_refused(home: Path, name: str, args: list[str]) -> None:
    before = row_counts(home)
    lines = assert_refused(invoke(*args))
    offending = [a for a in args[-4:] if a not in ("--", "true", "ingest", "report", "tier", "measure")]
    assert any(a in "\n".join(lines) for a in offending), (offending, lines)  # names the input
    assert row_counts(home) == before


@pytest.mark.parametrize("where", ["file", "proc", "unwritable"])
def test_a_home_that_cannot_hold_data_is_one_clear_error(tmp_path: Path, where: str) -> None:
    if where == "file":
        home = tmp_path / "a-file"
        home.write_text("not a directory")
    elif where == "proc":
        home = Path("/proc/self/bench-home")
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes everywhere")
        home = tmp_path / "ro" / "home"
        home.parent.mkdir()
        home.parent.chmod(0o500)
    proc = subprocess.run(
        [sys.executable, "-m", "bench_pipeline", "tier"],
        cwd=ROOT,
        env={**os.environ, "BENCH_PIPELINE_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode != 0 and len(lines) <= 3 and "Traceback" not in proc.stderr, proc.stderr
    assert "BENCH_PIPELINE_HOME" in lines[0] and "fix:" in proc.stderr
