"""The floors and layers of docs/architecture.md hold (import-linter, `.importlinter`), and the
contracts do fail when the core reaches up: a copy of the tree with ``import dagster`` in a core
module is refused."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

LINT = [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"]


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*LINT, "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(root)},
    )


def test_the_contracts_hold_on_this_tree():
    proc = _lint(ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_a_core_module_importing_dagster_breaks_the_contract(tmp_path):
    copy = tmp_path / "tree"
    copy.mkdir()
    shutil.copy(ROOT / ".importlinter", copy)
    for package in ("bench_pipeline", "assets", "jobs", "resources"):
        shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "bench_pipeline" / "stats" / "mtc.py"
    target.write_text(target.read_text() + "\nimport dagster  # noqa\n")
    proc = _lint(copy)
    assert proc.returncode != 0
    assert "bench_pipeline.stats.mtc -> dagster" in proc.stdout, proc.stdout[-3000:]
