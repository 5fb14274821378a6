"""The sample and cell records declared once: every column's name, type, nullability and meaning.

A *sample* is one timed execution (table ``samples``); a *cell* is one planned tool × operation ×
fixture of a run (table ``run_cells``). Everything else derives from the declarations below: the
landing Parquet schemas (``SAMPLE_SCHEMA``, ``CELL_SCHEMA``), the rows the runner and ``measure``
build (:func:`sample_row`), the counters ingestion and the API accept (``COUNTERS``), the
exported columns (``SAMPLES_ALL_COLUMNS``) and the check of a migrated database
(:func:`mismatches`, run by ``Store.schema_mismatches``).

The tables themselves are created by the migrations (``migrations/NNN_*.sql``): a new column is a
new migration plus one ``Column`` here, in the order the migrations add them;
``tests/unit/test_sample_schema.py`` fails until both agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

#: DuckDB type (as the migrations write it) -> the Polars type of the landing Parquet column
POLARS_TYPES: dict[str, pl.DataType] = {
    "VARCHAR": pl.Utf8(),
    "JSON": pl.Utf8(),  # JSON text; DuckDB parses it on insert
    "INTEGER": pl.Int32(),
    "BIGINT": pl.Int64(),
    "DOUBLE": pl.Float64(),
    "BOOLEAN": pl.Boolean(),
    "TIMESTAMPTZ": pl.Datetime("us", "UTC"),
}
#: how DuckDB's information_schema spells a type the migrations abbreviate
_REPORTED_AS = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}


@dataclass(frozen=True)
class Column:
    """One column of a record.

    ``measured``: the runner measures it for every execution (the rest identify the sample or say
    how it was taken). ``ingested``: results from elsewhere (files given to ``ingest``, the API)
    may carry it. ``unit``: ns, bytes or count for amounts, which are never negative.
    """

    name: str
    sql: str
    nullable: bool
    description: str
    measured: bool = False
    ingested: bool = False
    unit: str | None = None

    @property
    def dtype(self) -> pl.DataType:
        return POLARS_TYPES[self.sql]


def _col(
    name: str,
    sql: str,
    description: str,
    *,
    null: bool = False,
    measured: bool = False,
    ingested: bool = False,
    unit: str | None = None,
) -> Column:
    return Column(name, sql, null, description, measured, ingested, unit)


# fmt: off
SAMPLE_COLUMNS: tuple[Column, ...] = (
    # 001
    _col("run_id", "VARCHAR", "the run the sample belongs to", ingested=True),
    _col("suite", "VARCHAR", "the suite of the run", ingested=True),
    _col("tool", "VARCHAR", "the tool measured", ingested=True),
    _col("operation", "VARCHAR", "the operation measured", ingested=True),
    _col("fixture", "VARCHAR", "the fixture (size name) it ran on", ingested=True),
    _col("backend", "VARCHAR", "where it ran: local, docker, or external for ingested results"),
    _col("round", "INTEGER", "interleaving round; the same number across tools is the same round", ingested=True),
    _col("iteration", "INTEGER", "the cell's timed runs counted from 0; -1 for a warmup", ingested=True),
    _col("warmup", "BOOLEAN", "a warmup run: kept, excluded from statistics", ingested=True),
    _col("wall_ns", "BIGINT", "wall-clock time", measured=True, ingested=True, unit="ns"),
    _col("user_ns", "BIGINT", "CPU time in user mode", null=True, measured=True, ingested=True, unit="ns"),
    _col("sys_ns", "BIGINT", "CPU time in kernel mode", null=True, measured=True, ingested=True, unit="ns"),
    _col("peak_rss_bytes", "BIGINT", "peak resident set size", null=True, measured=True, ingested=True,
         unit="bytes"),
    _col("read_bytes", "BIGINT", "bytes read from storage", null=True, measured=True, ingested=True,
         unit="bytes"),
    _col("write_bytes", "BIGINT", "bytes written to storage", null=True, measured=True, ingested=True,
         unit="bytes"),
    _col("ctx_switches", "BIGINT", "voluntary and involuntary context switches", null=True, measured=True,
         ingested=True, unit="count"),
    _col("exit_code", "INTEGER", "exit code; 127 when the command cannot be executed, -9 when timed out",
         measured=True, ingested=True),
    _col("timed_out", "BOOLEAN", "killed at the timeout", measured=True, ingested=True),
    _col("ok", "BOOLEAN", "success: the exit code expected and not timed out", measured=True, ingested=True),
    _col("stdout_bytes", "BIGINT", "bytes written to stdout", null=True, measured=True, ingested=True,
         unit="bytes"),
    _col("stderr_bytes", "BIGINT", "bytes written to stderr", null=True, measured=True, ingested=True,
         unit="bytes"),
    _col("stderr_tail", "VARCHAR", "the end of stderr, failures only", null=True, measured=True),
    _col("created_at", "TIMESTAMPTZ", "when the sample was taken", ingested=True),
    # 004: cgroup counters of containers (null on the local backend)
    _col("oom_killed", "BOOLEAN", "killed by the kernel's OOM killer", null=True, measured=True),
    _col("cgroup_peak_bytes", "BIGINT", "the container's peak memory", null=True, measured=True,
         unit="bytes"),
    _col("cgroup_cpu_ns", "BIGINT", "the container's CPU time", null=True, measured=True, unit="ns"),
    _col("cgroup_throttled_ns", "BIGINT", "time the container's CPU quota throttled it", null=True,
         measured=True, unit="ns"),
    _col("cgroup_io_read_bytes", "BIGINT", "the container's block-device reads", null=True, measured=True,
         unit="bytes"),
    _col("cgroup_io_write_bytes", "BIGINT", "the container's block-device writes", null=True, measured=True,
         unit="bytes"),
)

CELL_COLUMNS: tuple[Column, ...] = (
    # 001
    _col("run_id", "VARCHAR", "the run"),
    _col("suite", "VARCHAR", "the suite of the run"),
    _col("tool", "VARCHAR", "the tool"),
    _col("operation", "VARCHAR", "the operation (with its parameters, if any)"),
    _col("fixture", "VARCHAR", "the fixture (size name)"),
    _col("category", "VARCHAR", "the operation's category (read, write, ...)", null=True),
    _col("status", "VARCHAR", "measured, failed, na or unavailable"),
    _col("reason", "VARCHAR", "why a cell failed, is n/a or unavailable", null=True),
    _col("n_ok", "INTEGER", "successful timed runs", null=True, unit="count"),
    _col("n_failed", "INTEGER", "failed timed runs", null=True, unit="count"),
    _col("stop", "VARCHAR", "why measuring stopped: converged, max_runs, time budget, failing", null=True),
    # 002: parameterised operations and equivalence of resulting state
    _col("base_operation", "VARCHAR", "the operation before parameter expansion", null=True),
    _col("params", "JSON", "the parameter values", null=True),
    _col("valid", "BOOLEAN", "the resulting state equals the reference tool's (null: not checked)", null=True),
    _col("equivalence", "VARCHAR", "equal, differs, reference, probe failed, no reference", null=True),
    _col("similarity", "DOUBLE", "0-1 similarity of the state probes to the reference's", null=True),
)
# fmt: on


def polars_schema(columns: Iterable[Column]) -> dict[str, pl.DataType]:
    return {c.name: c.dtype for c in columns}


#: the landing Parquet schemas (kinds ``samples`` and ``cells``), in table order
SAMPLE_SCHEMA: dict[str, pl.DataType] = polars_schema(SAMPLE_COLUMNS)
CELL_SCHEMA: dict[str, pl.DataType] = polars_schema(CELL_COLUMNS)

#: what the runner measures per execution: the per-run keys of ``measure`` too
MEASURED: tuple[str, ...] = tuple(c.name for c in SAMPLE_COLUMNS if c.measured)
#: optional amounts a source from elsewhere may give (user_ns, peak_rss_bytes, …): ingestion and the
#: API accept them as non-negative integers and pass them through unchanged
COUNTERS: tuple[Column, ...] = tuple(
    c for c in SAMPLE_COLUMNS if c.measured and c.ingested and c.nullable and c.unit is not None
)
#: the columns of the contract view ``samples_all`` (timed samples only, so no ``warmup``); the export
SAMPLES_ALL_COLUMNS: tuple[str, ...] = tuple(c.name for c in SAMPLE_COLUMNS if c.name != "warmup")

#: table -> its declaration, for :func:`mismatches`
TABLES: dict[str, tuple[Column, ...]] = {"samples": SAMPLE_COLUMNS, "run_cells": CELL_COLUMNS}


def sample_row(values: Mapping[str, Any] | None = None, /, **fields: Any) -> dict[str, Any]:
    """A ``samples`` row: every declared column in order, from ``values`` overridden by ``fields``.

    Columns not given are null; a name that is not declared, or a null in a NOT NULL column, is a
    ValueError (a bug in the caller, caught before the landing file is written).
    """
    row = {**(values or {}), **fields}
    unknown = sorted(set(row) - SAMPLE_SCHEMA.keys())
    if unknown:
        raise ValueError(f"not sample columns: {', '.join(unknown)}")
    missing = [c.name for c in SAMPLE_COLUMNS if not c.nullable and row.get(c.name) is None]
    if missing:
        raise ValueError(f"sample columns must not be null: {', '.join(missing)}")
    return {name: row.get(name) for name in SAMPLE_SCHEMA}


def frame_mismatch(kind: str, schema: Mapping[str, pl.DataType], declared: Mapping[str, pl.DataType]) -> str:
    """'' when a frame's schema is the declared one, else one line saying how they differ."""
    if dict(schema) == dict(declared):
        return ""
    missing = [n for n in declared if n not in schema]
    extra = [n for n in schema if n not in declared]
    typed = [
        f"{n} is {schema[n]}, declared {t}" for n, t in declared.items() if n in schema and schema[n] != t
    ]
    parts = [
        f"missing {', '.join(missing)}" if missing else "",
        f"undeclared {', '.join(extra)}" if extra else "",
        "; ".join(typed),
    ]
    what = "; ".join(p for p in parts if p) or "columns in another order"
    return f"{kind} frame does not match bench_pipeline.store.schema: {what}"


def mismatches(table: str, actual: Sequence[tuple[str, str, bool]], declared: Sequence[Column]) -> list[str]:
    """How a table's columns — ``(name, DuckDB type as information_schema reports it, nullable)`` in
    table order — differ from the declaration; ``[]`` when they agree (names, order, types, NULLs)."""
    problems = []
    names = [name for name, _, _ in actual]
    want = [c.name for c in declared]
    for name in want:
        if name not in names:
            problems.append(f"{table}.{name}: declared, missing in the database")
    for name in names:
        if name not in want:
            problems.append(f"{table}.{name}: in the database, not declared")
    common = [n for n in names if n in want]
    if common != [n for n in want if n in names]:
        problems.append(f"{table}: columns in another order than declared ({', '.join(common)})")
    by_name = {c.name: c for c in declared}
    for name, sql, nullable in actual:
        c = by_name.get(name)
        if c is None:
            continue
        if sql != _REPORTED_AS.get(c.sql, c.sql):
            problems.append(f"{table}.{name}: {sql} in the database, declared {c.sql}")
        if nullable != c.nullable:
            problems.append(
                f"{table}.{name}: {'NULL' if nullable else 'NOT NULL'} in the database, declared "
                f"{'NULL' if c.nullable else 'NOT NULL'}"
            )
    return problems


#: a ``runs`` row in a landing file (ingestion, a fleet host's delivered run): loaded ``BY NAME``, so
#: a writer leaves the columns it does not know null
RUN_SCHEMA: dict[str, Any] = {
    "run_id": pl.Utf8,
    "suite": pl.Utf8,
    "started_at": pl.Datetime("us", "UTC"),
    "finished_at": pl.Datetime("us", "UTC"),
    "status": pl.Utf8,
    "pending_status": pl.Utf8,
    "trigger": pl.Utf8,
    "backend": pl.Utf8,
    "git_tag": pl.Utf8,
    "git_commit": pl.Utf8,
    "host": pl.Utf8,
    "host_class": pl.Utf8,
    "tool_versions": pl.Utf8,
    "settings": pl.Utf8,
    "tools": pl.Utf8,
    "sizes": pl.Utf8,
    "quick": pl.Boolean,
    "suite_sha256": pl.Utf8,
    "hostname": pl.Utf8,
    "seconds": pl.Float64,
    "message": pl.Utf8,
    "unavailable": pl.Utf8,
    "measuring": pl.Utf8,
}
