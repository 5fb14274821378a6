"""Each cell's series of run medians over time, read from ``cell_stats_all`` in one query.

A cell's history is the median (with its 95% CI and n) of one tool × operation × fixture × metric in
every succeeded run of a suite, oldest first. Which runs count:

* ``status = 'succeeded'`` (a failed run may have measured only part of the suite);
* not ``quick`` unless asked: quick runs take 2–3 samples per cell, a different experiment;
* by default the same host as the suite's newest such run (``host="newest"``), or as run ``of_run``:
  the same host class (``runs.host_class``, ``local`` when none; a fleet's classes, docs/scaling.md)
  and the same ``fingerprint`` in ``runs.host``. A change of machine is a step in every series at
  once, not a change of the tools (SPEC §4.4: comparisons across hosts are flagged, not mixed), and
  a fleet's host classes are never mixed. ``host=None`` takes every host.
"""

from __future__ import annotations

import polars as pl

from bench_pipeline.store import Store

METRICS = ("wall", "cpu", "rss")
SERIES_COLUMNS = [
    "tool",
    "operation",
    "fixture",
    "metric",
    "run_id",
    "started_at",
    "median",
    "ci_low",
    "ci_high",
    "n",
    "cv",
    "mad",
    "git_tag",
    "host",
]


def host_key_sql(alias: str = "") -> str:
    """The host a series stays on, as SQL over ``runs`` (``alias``: its table alias): the machine's
    fingerprint for runs measured where the pipeline runs (class ``local``, or none), and
    ``<class>|<fingerprint>`` for a fleet host's runs, so a fleet's classes never share a series
    even when their machines look alike. The dashboard's host filter uses the same key."""
    a = f"{alias}." if alias else ""
    fingerprint = f"json_extract_string({a}host, '$.fingerprint')"
    return (
        f"CASE WHEN coalesce({a}host_class, 'local') = 'local' THEN {fingerprint} "
        f"ELSE {a}host_class || '|' || coalesce({fingerprint}, '') END"
    )


_HOST_KEY = host_key_sql("r")
SERIES_SQL = f"""
WITH eligible AS (
    SELECT r.run_id, r.started_at, r.git_tag, {_HOST_KEY} AS host
    FROM runs r
    WHERE r.suite = ? AND r.status = 'succeeded' AND (? OR NOT coalesce(r.quick, FALSE))
),
newest AS (
    SELECT host FROM eligible WHERE CAST(? AS VARCHAR) IS NULL OR run_id = ?
    ORDER BY started_at DESC, run_id DESC LIMIT 1
)
SELECT c.tool, c.operation, c.fixture, c.metric, c.run_id, e.started_at, c.median, c.ci_low, c.ci_high,
       c.n, c.cv, c.mad, e.git_tag, e.host
FROM cell_stats_all c JOIN eligible e USING (run_id)
WHERE c.suite = ? AND c.metric = ? AND (? IS NULL OR c.tool = ?) AND c.median > 0
  AND (NOT ? OR e.host IS NOT DISTINCT FROM (SELECT host FROM newest))
ORDER BY c.tool, c.operation, c.fixture, e.started_at, c.run_id
"""
RUNS_SQL = """
SELECT count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE status = 'succeeded' AND coalesce(quick, FALSE)) AS quick
FROM runs WHERE suite = ?
"""


def load_series(
    store: Store,
    suite: str,
    tool: str | None = None,
    metric: str = "wall",
    *,
    include_quick: bool = False,
    host: str | None = "newest",
    of_run: str | None = None,
) -> pl.DataFrame:
    """One row per cell × run (``SERIES_COLUMNS``), sorted by cell then time.

    ``of_run``: with ``host="newest"``, the runs of that run's host (class and machine) instead of
    the newest run's.

    ``metric``: wall, cpu, rss or an extra metric (a ``sample_metrics`` key) the cells have."""
    if not metric:
        raise ValueError(f"metric is empty (one of {METRICS}, or an extra metric's key)")
    if host not in (None, "newest"):
        raise ValueError('host is "newest" or None')
    return store.query(
        SERIES_SQL, [suite, include_quick, of_run, of_run, suite, metric, tool, tool, host == "newest"]
    ).select(SERIES_COLUMNS)


def run_counts(store: Store, suite: str) -> dict[str, int]:
    """Succeeded runs of ``suite`` and how many of them are quick (to explain an empty history)."""
    row = store.query(RUNS_SQL, [suite]).row(0, named=True)
    return {k: int(v or 0) for k, v in row.items()}
