"""A stored run as JSON (schema ``bench-pipeline/samples``, version 1) — what the ``native`` adapter reads.

The same sample objects are served by ``GET /api/runs/{id}/samples``: every sample column of
``samples_all`` (``bench_pipeline.store.schema.SAMPLES_ALL_COLUMNS``) plus ``metrics``
(``{key: {"value", "unit"}}`` from ``sample_metrics``).
"""

from __future__ import annotations

from typing import Any

from bench_pipeline.jsonable import decode_json_text, iso_datetime
from bench_pipeline.store import Store
from bench_pipeline.store.schema import SAMPLES_ALL_COLUMNS

SCHEMA = "bench-pipeline/samples"
RUN_COLUMNS = (
    "run_id",
    "suite",
    "started_at",
    "finished_at",
    "status",
    "trigger",
    "backend",
    "git_tag",
    "git_commit",
    "host",
    "tool_versions",
)
#: the exported sample columns: every declared column the contract view shows (bench_pipeline.store.schema)
SAMPLE_COLUMNS = SAMPLES_ALL_COLUMNS
SAMPLES_SQL = f"""SELECT {", ".join(SAMPLE_COLUMNS)} FROM samples_all WHERE run_id = ?
                  ORDER BY tool, operation, fixture, round, iteration LIMIT ? OFFSET ?"""
METRICS_SQL = """SELECT tool, operation, fixture, round, iteration, key, value, unit FROM sample_metrics
                 WHERE run_id = ? AND list_contains(?, round)"""
CELLS_SQL = """SELECT tool, operation, fixture, category, status, reason, n_ok, n_failed, stop, base_operation, params
               FROM run_cells WHERE run_id = ? ORDER BY tool, operation, fixture"""


def cell_name(tool: str, operation: str, fixture: str) -> str:
    """How export formats without tool and fixture fields (bmf, hyperfine) name a cell."""
    return f"{tool}/{operation} ({fixture})"


def samples_with_metrics(
    store: Store, run_id: str, *, limit: int | None = None, offset: int = 0
) -> list[dict]:
    """Samples of a finished run (contract columns), each with its metrics."""
    frame = store.query(SAMPLES_SQL, [run_id, limit if limit is not None else 2**62, offset])
    rows = [{k: iso_datetime(v) for k, v in row.items()} for row in frame.iter_rows(named=True)]
    if not rows:
        return rows
    metrics = store.query(METRICS_SQL, [run_id, sorted({r["round"] for r in rows})])
    by_sample: dict[tuple, dict[str, dict]] = {}
    for m in metrics.iter_rows(named=True):
        key = (m["tool"], m["operation"], m["fixture"], m["round"], m["iteration"])
        by_sample.setdefault(key, {})[m["key"]] = {"value": m["value"], "unit": m["unit"]}
    for row in rows:
        row["metrics"] = by_sample.get(
            (row["tool"], row["operation"], row["fixture"], row["round"], row["iteration"]), {}
        )
    return rows


def export_run(store: Store, run_id: str) -> dict[str, Any]:
    """The whole run: ``{"schema", "version", "run", "cells", "samples"}`` (raises RunNotFound)."""
    run = store.run(run_id)
    cells = store.query(CELLS_SQL, [run_id])
    return {
        "schema": SCHEMA,
        "version": 1,
        "run": {
            k: decode_json_text(iso_datetime(run.get(k)))
            if k in ("host", "tool_versions")
            else iso_datetime(run.get(k))
            for k in RUN_COLUMNS
        },
        "cells": [
            {k: (decode_json_text(v) if k == "params" else v) for k, v in row.items()}
            for row in cells.iter_rows(named=True)
        ],
        "samples": samples_with_metrics(store, run_id),
    }
