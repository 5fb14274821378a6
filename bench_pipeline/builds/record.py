"""What the ``builds`` table (migration 020) records of an obtained tool: one row per tool whose
build was involved — cached, built now, failed, refused — so a failed build shows on the run and
in its report, and a later tag run can tell which releases did not build."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from bench_pipeline.builds.obtain import ToolStatus
from bench_pipeline.store import Store
from bench_pipeline.suite.build import split_tool

FAILED_BUILDS_SQL = """
SELECT DISTINCT commit FROM builds
WHERE suite = ? AND base_tool = ? AND recipe = ? AND status = 'failed' AND list_contains(?, commit)
"""


def build_row(status: ToolStatus, *, suite: str, run_id: str | None = None) -> dict[str, Any] | None:
    """The ``builds`` row of ``status``; None for a tool found on PATH (no build involved)."""
    if not status.is_build:
        return None
    return {
        "build_id": uuid.uuid4().hex,
        "run_id": run_id,
        "suite": suite,
        "tool": status.tool,
        "base_tool": split_tool(status.tool)[0],
        "rev": status.rev,
        "commit": status.commit,
        "recipe": status.recipe,
        "kind": status.kind,
        "status": status.action,
        "seconds": round(status.seconds, 2),
        "build_seconds": status.build_seconds,
        "reason": status.reason,
        "fix": status.fix,
        "log": str(status.log) if status.log else None,
        "bin_dir": str(status.bin_dir) if status.bin_dir else None,
        "recorded_at": datetime.now(UTC),
    }


def record_builds(store: Store, statuses: list[ToolStatus], *, suite: str, run_id: str | None = None) -> int:
    rows = [r for s in statuses if (r := build_row(s, suite=suite, run_id=run_id))]
    return store.append_rows("builds", rows)


def failed_commits(store: Store, suite: str, tool: str, recipe: str, commits: list[str]) -> set[str]:
    """Which of ``commits`` (or versions) of ``tool`` have a recorded failed build with ``recipe``."""
    if not commits or not store.path.exists():
        return set()
    frame = store.query(FAILED_BUILDS_SQL, [suite, tool, recipe, commits])
    return set(frame["commit"].to_list())
