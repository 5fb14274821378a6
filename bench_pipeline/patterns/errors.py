"""Failure patterns: unexpected failures clustered by (tool, operation, exit code, stderr signature).

A failure is a timed sample that is not ``ok`` (an unexpected exit code, or a timeout). Its signature
is the tail of stderr with what varies between occurrences replaced: file paths → ``<path>``, hex
object ids (≥ 7 hex digits) → ``<hex>``, other numbers → ``<n>``, quoted arguments → ``<q>``,
whitespace collapsed, cut at 200 characters. So "fatal: bad object 3f2a9c1" and "fatal: bad object
9b0e77d" are one cluster, and a cluster says how often, in how many runs, first and last seen.
Timeouts (``timed_out``) and OOM kills (``oom_killed``, from the container's cgroup) get the
signatures ``timeout`` and ``oom-killed`` and are called out separately: they say the limits are
too tight (or the tool hangs), not that the command is wrong.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
from pydantic import BaseModel

LAST_RUNS = 10
SIGNATURE_CHARS = 200

FAILURES_SQL = """
WITH recent AS (
    SELECT run_id FROM runs WHERE suite = ? AND status IN ('succeeded', 'failed') AND (? IS NULL OR run_id = ?)
    ORDER BY started_at DESC LIMIT ?
)
SELECT s.run_id, s.tool, s.operation, s.fixture, s.exit_code, s.timed_out,
       coalesce(s.oom_killed, FALSE) AS oom_killed, coalesce(s.stderr_tail, '') AS stderr_tail, s.created_at
FROM samples_all s JOIN recent USING (run_id)
WHERE s.suite = ? AND NOT s.ok
"""

# (pattern, replacement), applied in order: paths before hex ids before numbers
_NORMALISE = [
    (r"(?:[A-Za-z]:)?(?:~|\.{1,2})?(?:/[^\s:'\"`,;()\[\]]+)+/?", "<path>"),
    (r"'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`", "<q>"),
    (r"\b[0-9a-fA-F]{7,64}\b", "<hex>"),
    (r"\d+(?:\.\d+)?", "<n>"),
    (r"\s+", " "),
]


class ErrorCluster(BaseModel):
    kind: str  # error | timeout | oom
    tool: str
    operation: str
    exit_code: int
    signature: str
    count: int
    runs: int
    fixtures: list[str]
    first_seen: datetime
    last_seen: datetime
    example: str


def signature_expr(stderr: pl.Expr) -> pl.Expr:
    """The normalised signature of a stderr tail (vectorised)."""
    out = stderr
    for pattern, replacement in _NORMALISE:
        out = out.str.replace_all(pattern, replacement)
    return out.str.strip_chars().str.slice(0, SIGNATURE_CHARS)


def stderr_signature(text: str) -> str:
    """``signature_expr`` for one string."""
    return pl.select(signature_expr(pl.lit(text or ""))).item()


def cluster_failures(failures: pl.DataFrame) -> list[ErrorCluster]:
    """Clusters of a frame of failed samples (columns of ``FAILURES_SQL``), most frequent first."""
    if failures.is_empty():
        return []
    tagged = failures.with_columns(
        kind=pl.when(pl.col("oom_killed"))
        .then(pl.lit("oom"))
        .when(pl.col("timed_out"))
        .then(pl.lit("timeout"))
        .otherwise(pl.lit("error")),
    ).with_columns(
        signature=pl.when(pl.col("kind") == "oom")
        .then(pl.lit("oom-killed"))
        .when(pl.col("kind") == "timeout")
        .then(pl.lit("timeout"))
        .otherwise(signature_expr(pl.col("stderr_tail")))
    )
    grouped = (
        tagged.group_by("kind", "tool", "operation", "exit_code", "signature")
        .agg(
            count=pl.len(),
            runs=pl.col("run_id").n_unique(),
            fixtures=pl.col("fixture").unique().sort(),
            first_seen=pl.col("created_at").min(),
            last_seen=pl.col("created_at").max(),
            example=pl.col("stderr_tail").str.strip_chars().sort_by("created_at").last(),
        )
        .sort(["count", "tool", "operation"], descending=[True, False, False])
    )
    return [ErrorCluster(**row) for row in grouped.iter_rows(named=True)]


def error_clusters(
    store, suite: str, *, run_id: str | None = None, last_runs: int = LAST_RUNS
) -> list[ErrorCluster]:
    """Failure clusters over the suite's newest ``last_runs`` finished runs (or only ``run_id``)."""
    return cluster_failures(store.query(FAILURES_SQL, [suite, run_id, run_id, last_runs, suite]))
