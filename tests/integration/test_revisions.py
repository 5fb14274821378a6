"""Tool revisions (SPEC §16) on a C program in a repository the test creates: builds keyed by the
commit a revision resolves to, failed builds recorded, two revisions measured as two tools of one
run, the tag sensor building a new tag against the previous one, and bisect naming the planted commit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench_pipeline.store import Store
from tests.integration.ctool_repo import CtoolRepo, git, make_repo

pytestmark = [pytest.mark.integration]


@pytest.fixture
def tool_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "tool-cache"
    monkeypatch.setenv("BENCH_PIPELINE_TOOL_CACHE", str(cache))
    return cache


@pytest.fixture
def ctool(tmp_path: Path, git_required) -> CtoolRepo:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    return make_repo(tmp_path / "ctool-src")


def test_builds_are_keyed_by_the_commit_a_revision_resolves_to(ctool, tool_cache, tmp_path, bench_home):
    from bench_pipeline.builds import obtain_tool, record_builds
    from bench_pipeline.suite import load_suite_file

    suite = load_suite_file(ctool.suite(tmp_path / "suites"))
    lines: list[str] = []
    first = obtain_tool(suite, "ctool@v1", allow_build=True, progress=lines.append)
    assert (first.action, first.commit, first.rev) == ("built", ctool.commits[0], "v1"), first.reason
    assert (first.bin_dir / "ctool").is_file() and first.build_seconds is not None
    again = obtain_tool(suite, "ctool@v1", allow_build=True)
    assert (again.action, again.seconds, again.bin_dir) == ("cached", 0.0, first.bin_dir)
    by_commit = obtain_tool(suite, f"ctool@{ctool.commits[0][:9]}", allow_build=True)
    assert (by_commit.action, by_commit.bin_dir) == ("cached", first.bin_dir)  # one commit, one build

    head = obtain_tool(suite, "ctool@main", allow_build=True)
    assert (head.action, head.commit) == ("built", ctool.commits[-1])
    moved = ctool.commit("a new head", version="2")
    after = obtain_tool(suite, "ctool@main", allow_build=True)
    assert (after.action, after.commit) == ("built", moved)  # the branch moved: a new build
    assert after.bin_dir != head.bin_dir

    ctool.commit("broken", version="3", broken=True)
    ctool.tag("v4")
    failed = obtain_tool(suite, "ctool@v4", allow_build=True, progress=lines.append)
    assert (failed.available, failed.action) == (False, "failed")
    assert "building ctool v4" in failed.reason and failed.log is not None and failed.log.is_file()
    assert "error" in failed.log.read_text()
    assert any(line.startswith("ctool@v4: unavailable — building ctool v4") for line in lines), lines

    store = Store()
    assert record_builds(store, [first, again, failed], suite="ctool", run_id="r1") == 3
    rows = store.query("SELECT tool, status, commit, seconds FROM builds ORDER BY recorded_at")
    assert rows["status"].to_list() == ["built", "cached", "failed"]
    assert rows["commit"].to_list()[2] == ctool.commits[-1]
    missing = obtain_tool(suite, "ctool@no-such-tag", allow_build=True)
    assert missing.action == "failed" and "names no commit" in missing.reason
