"""The medium fixture is byte-identical when generated twice, in two different directories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench_pipeline.fixtures import TIERS, ensure_fixture
from bench_pipeline.fixtures.build import git_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _out(repo: Path, *args: str) -> str:
    env = git_env(repo.parent)
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    ).stdout


def test_medium_twice_gives_identical_objects(tmp_path: Path) -> None:
    spec = TIERS["medium"]
    first = ensure_fixture(spec, tmp_path / "one")
    second = ensure_fixture(spec, tmp_path / "elsewhere" / "two")
    assert first.path != second.path and not second.cached
    refs = _out(first.path, "show-ref", "--head")
    assert refs and refs == _out(second.path, "show-ref", "--head")
    assert _out(first.path, "rev-parse", "--all") == _out(second.path, "rev-parse", "--all")
    assert _out(first.path, "rev-parse", "HEAD^{tree}") == _out(second.path, "rev-parse", "HEAD^{tree}")
    assert first.vars == second.vars
    assert (first.commits, first.files, first.bytes) == (second.commits, second.files, second.bytes)
    assert first.commits == spec.commits and first.files == spec.files
