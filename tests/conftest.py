"""Shared test set-up: every test gets its own BENCH_PIPELINE_HOME; fixtures are cached per session."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def git(repo: Path, *args: str) -> str:
    """``git -C repo ARGS`` with a fixed author; its stdout."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


def docker_available() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        client.close()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def fixture_cache(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """One fixture cache for the whole session, shared by pytest-xdist's workers.

    Each fixture is built into a temporary directory and renamed into place; when two workers
    build the same one, the second rename loses and uses the winner's (``ensure_fixture``)."""
    shared = os.environ.get("BENCH_PIPELINE_FIXTURE_CACHE")
    if shared:
        return Path(shared)
    if worker_id == "master":  # not under xdist
        return tmp_path_factory.mktemp("fixture-cache")
    cache = tmp_path_factory.getbasetemp().parent / "fixture-cache"
    cache.mkdir(exist_ok=True)
    return cache


@pytest.fixture
def bench_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixture_cache: Path) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("BENCH_PIPELINE_HOME", str(home))
    monkeypatch.setenv("BENCH_PIPELINE_FIXTURE_CACHE", str(fixture_cache))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return home


@pytest.fixture(scope="session")
def git_required() -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
