"""Tool builds (SPEC §16): a suite tool that is not installed — or a revision of it — is built
from its declared source (``suite.build``) into a per-user cache and reused by every later run.

``cache`` (where builds live, records, locks), ``source`` (git mirrors: revisions resolved to
commits), ``obtain`` (find or build a tool; what the run and ``doctor`` say about it) and ``record``
(the ``builds`` table: what each run obtained, failed builds included).
"""

from bench_pipeline.builds.cache import tool_cache_dir
from bench_pipeline.builds.obtain import (
    NO_BUILD_ENV,
    ToolStatus,
    builds_allowed,
    describe,
    install_command,
    obtain_tool,
    plan_tool,
)
from bench_pipeline.builds.record import failed_commits, record_builds

__all__ = [
    "NO_BUILD_ENV",
    "ToolStatus",
    "builds_allowed",
    "describe",
    "failed_commits",
    "install_command",
    "obtain_tool",
    "plan_tool",
    "record_builds",
    "tool_cache_dir",
]
