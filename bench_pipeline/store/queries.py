"""Read queries of the results API. Every value from a request is a bound parameter, never SQL text."""

from __future__ import annotations

from typing import Any

import polars as pl

from bench_pipeline.jsonable import decode_json_text, iso_datetime
from bench_pipeline.store import Store

RUNS_SQL = """
SELECT r.run_id, r.suite, r.started_at, r.finished_at, r.status, r.trigger, r.backend, r.git_tag, r.git_commit,
       r.tools, (SELECT count(*) FROM samples_all s WHERE s.run_id = r.run_id) AS samples
FROM runs r
WHERE (CAST(? AS VARCHAR) IS NULL OR r.suite = ?)
  AND (CAST(? AS VARCHAR) IS NULL OR r.status = ?)
  AND (CAST(? AS VARCHAR) IS NULL OR r.trigger = ?)
  AND (CAST(? AS VARCHAR) IS NULL OR EXISTS (SELECT 1 FROM run_cells c WHERE c.run_id = r.run_id AND c.tool = ?))
ORDER BY r.started_at DESC, r.run_id
LIMIT ? OFFSET ?"""
RUN_SQL = "SELECT * FROM runs WHERE run_id = ?"
RUN_CELLS_SQL = """
SELECT c.tool, c.operation, c.fixture, c.category, c.status, c.reason, c.n_ok, c.n_failed, c.stop,
       c.base_operation, c.params, o.format, o.kind, o.statistic, o.source_name
FROM run_cells c LEFT JOIN ingest_cells o USING (run_id, tool, operation, fixture)
WHERE c.run_id = ? ORDER BY c.tool, c.operation, c.fixture"""
RUN_WALL_SQL = """
SELECT tool, operation, fixture, count(*) AS n, median(wall_ns) AS median_wall_ns, min(wall_ns) AS min_wall_ns,
       max(wall_ns) AS max_wall_ns
FROM samples_all WHERE run_id = ? AND ok GROUP BY ALL ORDER BY tool, operation, fixture"""
RUN_METRICS_SQL = """
SELECT tool, key, any_value(unit) AS unit, count(*) AS n, avg(value) AS mean, sum(value) AS sum,
       min(value) AS min, max(value) AS max
FROM sample_metrics_all WHERE run_id = ? GROUP BY tool, key ORDER BY tool, key"""
RUN_BATCHES_SQL = "SELECT DISTINCT batch_id FROM batch_runs WHERE run_id = ? ORDER BY batch_id"
SAMPLE_COUNT_SQL = "SELECT count(*) FROM samples_all WHERE run_id = ?"

BATCH_METRICS = """
SELECT br.batch_id,
       avg(m.value) FILTER (WHERE m.key = 'score') AS avg_score,
       sum(m.value) FILTER (WHERE m.key = 'tokens_in') AS tokens_in,
       sum(m.value) FILTER (WHERE m.key = 'tokens_out') AS tokens_out,
       sum(m.value) FILTER (WHERE m.key = 'cost_usd') AS cost_usd,
       sum(m.value) FILTER (WHERE m.key = 'tool_calls') AS tool_calls
FROM (SELECT DISTINCT batch_id, run_id FROM batch_runs) br JOIN sample_metrics_all m USING (run_id)
GROUP BY br.batch_id"""
BATCHES_SQL = f"""
SELECT b.batch_id, b.created_at, b.completed_at, b.runs, b.succeeded, b.suites, b.metadata,
       m.avg_score, m.tokens_in, m.tokens_out, m.cost_usd, m.tool_calls
FROM batches b LEFT JOIN ({BATCH_METRICS}) m USING (batch_id)
WHERE (CAST(? AS VARCHAR) IS NULL OR b.batch_id = ?)
ORDER BY b.created_at DESC, b.batch_id
LIMIT ? OFFSET ?"""
BATCH_RUN_IDS_SQL = "SELECT DISTINCT run_id FROM batch_runs WHERE batch_id = ? ORDER BY run_id"
RUNS_BY_ID_SQL = """
SELECT r.run_id, r.suite, r.started_at, r.finished_at, r.status, r.trigger, r.backend, r.tools,
       (SELECT count(*) FROM samples_all s WHERE s.run_id = r.run_id) AS samples
FROM runs r WHERE list_contains(?, r.run_id) ORDER BY r.started_at, r.run_id"""

STATS_SQL = """
SELECT (SELECT count(*) FROM runs) AS runs,
       (SELECT count(*) FROM runs WHERE status = 'succeeded') AS succeeded,
       (SELECT count(*) FROM runs WHERE status = 'failed') AS failed,
       (SELECT count(*) FROM samples_all) AS samples,
       (SELECT count(DISTINCT suite) FROM runs) AS suites,
       (SELECT count(DISTINCT tool) FROM samples_all) AS tools,
       (SELECT count(DISTINCT operation) FROM samples_all) AS operations,
       (SELECT count(DISTINCT batch_id) FROM batch_runs) AS batches,
       (SELECT max(started_at) FROM runs) AS latest_run,
       (SELECT avg(CAST(ok AS DOUBLE)) FROM samples_all) AS success_rate"""
STATS_METRICS_SQL = """
SELECT key, any_value(unit) AS unit, count(*) AS n, avg(value) AS mean, sum(value) AS sum
FROM sample_metrics_all
WHERE key IN ('score', 'tokens_in', 'tokens_out', 'cost_usd', 'tool_calls')
GROUP BY key ORDER BY key"""
TOOL_STATS_SQL = """
WITH s AS (
    SELECT tool, count(DISTINCT run_id) AS runs, count(*) AS samples, count(DISTINCT operation) AS operations,
           avg(CAST(ok AS DOUBLE)) AS success_rate, median(wall_ns) FILTER (WHERE ok) AS median_wall_ns
    FROM samples_all GROUP BY tool),
m AS (
    SELECT tool,
           avg(value) FILTER (WHERE key = 'score') AS mean_score,
           sum(value) FILTER (WHERE key = 'tokens_in') AS tokens_in,
           sum(value) FILTER (WHERE key = 'tokens_out') AS tokens_out,
           sum(value) FILTER (WHERE key = 'cost_usd') AS cost_usd,
           sum(value) FILTER (WHERE key = 'tool_calls') AS tool_calls
    FROM sample_metrics_all GROUP BY tool)
SELECT s.*, m.mean_score, m.tokens_in, m.tokens_out, m.cost_usd, m.tool_calls
FROM s LEFT JOIN m USING (tool) ORDER BY s.tool"""
HEALTH_SQL = "SELECT max(version) FROM schema_migrations"
EXISTING_SQL = """
SELECT r.run_id, r.suite, r.trigger,
       coalesce((SELECT list(identity) FROM ingest_sources s WHERE s.run_id = r.run_id), []) AS shas
FROM runs r WHERE list_contains(?, r.run_id)"""


def rows(frame: pl.DataFrame, json_columns: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [
        {k: (decode_json_text(v) if k in json_columns else iso_datetime(v)) for k, v in row.items()}
        for row in frame.iter_rows(named=True)
    ]


def list_runs(
    store: Store,
    *,
    suite: str | None,
    status: str | None,
    trigger: str | None,
    tool: str | None,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    frame = store.query(RUNS_SQL, [suite, suite, status, status, trigger, trigger, tool, tool, limit, offset])
    return rows(frame, ("tools",))


def get_run(store: Store, run_id: str) -> dict[str, Any] | None:
    frame = store.query(RUN_SQL, [run_id])
    if frame.is_empty():
        return None
    run = rows(frame, ("host", "tool_versions", "settings", "tools", "sizes"))[0]
    for key in ("pid", "pid_started", "hostname", "suite_sha256"):
        run.pop(key, None)
    run["samples"] = int(store.query(SAMPLE_COUNT_SQL, [run_id]).item(0, 0))
    run["batches"] = store.query(RUN_BATCHES_SQL, [run_id])["batch_id"].to_list()
    run["cells"] = rows(store.query(RUN_CELLS_SQL, [run_id]), ("params",))
    run["wall"] = rows(store.query(RUN_WALL_SQL, [run_id]))
    run["metrics"] = rows(store.query(RUN_METRICS_SQL, [run_id]))
    return run


def list_batches(store: Store, *, batch_id: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
    return rows(store.query(BATCHES_SQL, [batch_id, batch_id, limit, offset]), ("metadata",))


def get_batch(store: Store, batch_id: str) -> dict[str, Any] | None:
    found = list_batches(store, batch_id=batch_id, limit=1, offset=0)
    if not found:
        return None
    batch = found[0]
    run_ids = store.query(BATCH_RUN_IDS_SQL, [batch_id])["run_id"].to_list()
    batch["run_ids"] = run_ids
    batch["runs_detail"] = rows(store.query(RUNS_BY_ID_SQL, [run_ids]), ("tools",)) if run_ids else []
    return batch


def stats(store: Store) -> dict[str, Any]:
    out = rows(store.query(STATS_SQL))[0]
    out["metrics"] = {r.pop("key"): r for r in rows(store.query(STATS_METRICS_SQL))}
    return out


def tool_stats(store: Store) -> list[dict[str, Any]]:
    return rows(store.query(TOOL_STATS_SQL))


def existing_runs(store: Store, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    frame = store.query(EXISTING_SQL, [run_ids])
    return {r["run_id"]: r for r in frame.iter_rows(named=True)}


def schema_version(store: Store) -> int:
    return int(store.query(HEALTH_SQL).item(0, 0))
