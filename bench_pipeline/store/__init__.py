"""The DuckDB store: schema migrations, runs, landing-file ingestion, statistics tables.

DuckDB allows one writing process at a time (SPEC §7–8). Connections are therefore opened
briefly, retried while another process holds the lock, and every multi-statement write is a
transaction: a process killed mid-write leaves the previous consistent state.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import psutil

from bench_pipeline import paths
from bench_pipeline.errors import RunNotFound, StoreError
from bench_pipeline.files import sha256_file
from bench_pipeline.store.refs import parse_run_ref
from bench_pipeline.store.schema import SAMPLES_ALL_COLUMNS, TABLES, mismatches
from bench_pipeline.timestamps import clip_frame

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
LOCK_RETRY_SECONDS = 120.0


def migrations() -> list[tuple[int, str, str]]:
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        version = int(path.name.split("_", 1)[0])
        found.append((version, path.stem, path.read_text()))
    return found


@dataclass
class LoadResult:
    files: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    run_ids: set[str] = field(default_factory=set)


#: In a *completing* store's reads, a run whose status is pending (``runs.pending_status``, migration
#: 010) shows the status it will get, so the pipeline analyses and reports it like a finished run
#: while every other reader still sees it ``running`` (a temporary view shadows the table).
COMPLETING_VIEW = (
    "CREATE OR REPLACE TEMP VIEW runs AS "
    "SELECT * REPLACE (coalesce(pending_status, status) AS status) FROM {catalog}.main.runs"
)


class Store:
    def __init__(self, path: Path | None = None, *, completing: bool = False) -> None:
        self.path = Path(path) if path else paths.db_path()
        self.completing = completing

    def completing_store(self) -> Store:
        """This store as the pipeline reads it while it completes runs (see COMPLETING_VIEW)."""
        return Store(self.path, completing=True)

    # ------------------------------------------------------------------ connections
    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection; waits (up to two minutes) while another process writes.

        Within this process one connection at a time (a lock per database file): DuckDB refuses a
        read-only and a read-write connection to one file in one process, and threads (the API's
        requests, its background analysis) would otherwise race for them."""
        with _process_lock(self.path):
            yield from self._connect(read_only)

    def _connect(self, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        if read_only and not self.path.exists():
            read_only = False  # first use: create the schema
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + LOCK_RETRY_SECONDS
        delay = 0.05
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise StoreError(
                        f"cannot open {self.path}: {exc}",
                        fix="another process holds the database; wait for it, or stop it",
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
            except duckdb.Error as exc:
                raise StoreError(
                    f"cannot open {self.path}: {exc}",
                    fix="if the file is damaged, move it aside; runs will start a new one",
                ) from None
        try:
            if not read_only:
                self._migrate(con)
            yield con
        finally:
            con.close()

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)"
        )
        done = {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}
        for version, name, sql in migrations():
            if version in done:
                continue
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(sql)
                con.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, datetime.now(UTC)]
                )
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise

    def schema_version(self) -> int:
        with self.connect() as con:
            row = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
            return int(row[0]) if row else 0

    def schema_mismatches(self) -> list[str]:
        """How the migrated tables differ from the declarations of ``bench_pipeline.store.schema``
        (samples, run_cells; and the columns samples_all must show); ``[]`` when they agree."""
        sql = """SELECT column_name, data_type, is_nullable = 'YES' FROM information_schema.columns
                 WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position"""
        problems = []
        with self.connect() as con:
            for table, declared in TABLES.items():
                problems += mismatches(table, con.execute(sql, [table]).fetchall(), declared)
            shown = {row[0] for row in con.execute(sql, ["samples_all"]).fetchall()}
        problems += [
            f"samples_all.{name}: declared, missing in the view"
            for name in SAMPLES_ALL_COLUMNS
            if name not in shown
        ]
        return problems

    def query(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """Rows of ``sql``, its parameters bound by position (``?``) or by name (``$name``)."""
        with self.connect(read_only=True) as con:
            if self.completing:
                catalog = con.sql("SELECT current_database()").fetchall()[0][0]
                con.execute(COMPLETING_VIEW.format(catalog=_quote(catalog)))
            # bounded times: a row stored before the timestamp rule cannot break a read (timestamps.py)
            return clip_frame(con.sql(sql, params=params or None).pl())

    # ------------------------------------------------------------------ runs
    def create_run(
        self,
        run_id: str,
        suite: str,
        *,
        trigger: str,
        backend: str,
        host: dict,
        settings: dict,
        tools: list[str],
        sizes: list[str],
        quick: bool,
        suite_sha256: str,
        git_tag: str | None = None,
        git_commit: str | None = None,
        host_class: str | None = None,
    ) -> None:
        me = psutil.Process()
        with self.connect() as con:
            con.execute(
                """INSERT INTO runs (run_id, suite, started_at, status, trigger, backend, git_tag, git_commit, host,
                                     settings, tools, sizes, quick, suite_sha256, hostname, pid, pid_started, tool_versions,
                                     host_class)
                   VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{}', ?)""",
                [
                    run_id,
                    suite,
                    datetime.now(UTC),
                    trigger,
                    backend,
                    git_tag,
                    git_commit,
                    json.dumps(host),
                    json.dumps(settings),
                    json.dumps(tools),
                    json.dumps(sizes),
                    quick,
                    suite_sha256,
                    socket.gethostname(),
                    os.getpid(),
                    me.create_time(),
                    host_class or host.get("host_class"),
                ],
            )

    def finish_run(
        self,
        run_id: str,
        status: str,
        *,
        tool_versions: dict | None = None,
        seconds: float | None = None,
        message: str | None = None,
        backend: str | None = None,
        host: dict | None = None,
        unavailable: dict | None = None,
        pending: bool = False,
        measuring: dict | None = None,
    ) -> None:
        """Record the end of a run's measuring. ``pending``: its samples, statistics and reports are
        still to be committed, so it stays ``running`` with ``status`` as its pending status."""
        with self.connect() as con:
            con.execute(
                """UPDATE runs SET status = CASE WHEN ? THEN 'running' ELSE ? END,
                          pending_status = CASE WHEN ? THEN ? END,
                          finished_at = ?, tool_versions = coalesce(?, tool_versions),
                          seconds = coalesce(?, seconds), message = coalesce(?, message),
                          backend = coalesce(?, backend), host = coalesce(?, host),
                          unavailable = coalesce(?, unavailable), measuring = coalesce(?, measuring)
                   WHERE run_id = ?""",
                [
                    pending,
                    status,
                    pending,
                    status,
                    datetime.now(UTC),
                    json.dumps(tool_versions) if tool_versions is not None else None,
                    seconds,
                    message,
                    backend,
                    json.dumps(host) if host is not None else None,
                    json.dumps(unavailable) if unavailable is not None else None,
                    json.dumps(measuring) if measuring is not None else None,
                    run_id,
                ],
            )

    def complete_run(self, run_id: str) -> str | None:
        """Give a pending run the status it waited for (its samples, statistics and reports are
        committed); returns that status, or None when the run was not pending."""
        with self.connect() as con:
            row = con.execute(
                "UPDATE runs SET status = pending_status, pending_status = NULL "
                "WHERE run_id = ? AND pending_status IS NOT NULL RETURNING status",
                [run_id],
            ).fetchall()
        return str(row[0][0]) if row else None

    def pending_runs(self, run_ids: list[str] | None = None) -> list[dict[str, Any]]:
        """Runs whose measuring or ingestion is done but whose analysis or reports are not (yet)."""
        with self.connect() as con:
            rows = con.execute(
                "SELECT run_id, suite, trigger, pending_status, finished_at FROM runs WHERE pending_status IS NOT NULL "
                "AND (CAST(? AS VARCHAR[]) IS NULL OR list_contains(?, run_id)) ORDER BY started_at, run_id",
                [run_ids, run_ids],
            ).fetchall()
        names = ("run_id", "suite", "trigger", "pending_status", "finished_at")
        return [dict(zip(names, r, strict=True)) for r in rows]

    def reap_interrupted(self) -> list[str]:
        """Mark ``running`` runs of this host whose process is gone as ``interrupted`` (a run whose
        measuring finished and whose analysis is pending is not: it is completed, not lost)."""
        if not self.path.exists():
            return []
        host = socket.gethostname()
        with self.connect() as con:
            rows = con.execute(
                "SELECT run_id, pid, pid_started FROM runs WHERE status = 'running' AND pending_status IS NULL "
                "AND hostname = ?",
                [host],
            ).fetchall()
            dead = [run_id for run_id, pid, started in rows if not _alive(pid, started)]
            for run_id in dead:
                con.execute(
                    "UPDATE runs SET status = 'interrupted', finished_at = ?, "
                    "message = 'the process running it disappeared' WHERE run_id = ?",
                    [datetime.now(UTC), run_id],
                )
        return dead

    def run(self, run_id: str) -> dict:
        df = self.query("SELECT * FROM runs WHERE run_id = ?", [run_id])
        if df.is_empty():
            raise RunNotFound(
                f"no run {run_id!r}", fix="`bench-pipeline history` or the runs table lists them"
            )
        return df.row(0, named=True)

    def resolve_run(self, suite: str, ref: str, where: str = "run reference") -> str:
        """A run id from REF: an id, ``latest``, ``latest~N`` or ``tag:NAME`` (finished runs only),
        parsed by ``store.refs`` (a malformed REF is a RunNotFound naming the grammar)."""
        parsed = parse_run_ref(ref, where)
        finished = "status IN ('succeeded', 'failed')"
        if parsed.kind == "latest":
            df = self.query(
                f"SELECT run_id FROM runs WHERE suite = ? AND {finished} "
                "ORDER BY started_at DESC LIMIT 1 OFFSET ?",
                [suite, parsed.back],
            )
        elif parsed.kind == "tag":
            df = self.query(
                f"SELECT run_id FROM runs WHERE suite = ? AND git_tag = ? AND {finished} "
                "ORDER BY started_at DESC LIMIT 1",
                [suite, parsed.tag],
            )
        else:
            df = self.query("SELECT run_id FROM runs WHERE run_id = ? AND suite = ?", [parsed.run_id, suite])
        if df.is_empty():
            raise RunNotFound(
                f"no finished run of suite {suite!r} matches {ref!r}",
                fix="run the suite first (`bench-pipeline run`), or check the reference",
            )
        return str(df.item(0, 0))

    # ------------------------------------------------------------------ landing → tables
    def load_landing(
        self,
        landing_dir: Path | None = None,
        *,
        suite: str | None = None,
        tool: str | None = None,
        run_id: str | None = None,
        reopen: dict[str, list[str]] | None = None,
    ) -> LoadResult:
        """Load every landing file not loaded yet (optionally of one suite/tool/run), in one transaction.

        A file is known by its path relative to the home and by its SHA-256 (``landing_loads``), so
        moving ``$BENCH_PIPELINE_HOME`` reloads nothing. ``reopen`` (run → tools) makes finished runs
        pending again in the same transaction and drops the statistics the new rows make stale: a
        joined ingested run is analysed again before it is finished again. Loading the whole landing
        area first removes the temporary files of writers that died (``landing.remove_orphans``).
        """
        from bench_pipeline.store.landing import pending_files, remove_orphans

        if landing_dir is None:
            landing_dir = paths.landing_dir()
            remove_orphans(landing_dir)
        result = LoadResult()
        with self.connect() as con:
            loaded_paths = {r[0] for r in con.execute("SELECT path FROM landing_loads").fetchall()}
            loaded_shas = {
                r[0]
                for r in con.execute("SELECT sha256 FROM landing_loads WHERE sha256 IS NOT NULL").fetchall()
            }
            todo = []
            for f in pending_files(landing_dir, suite=suite, tool=tool, run_id=run_id):
                key = landing_key(f.path)
                if key in loaded_paths or str(f.path) in loaded_paths:
                    continue
                digest = sha256_file(f.path)
                if digest in loaded_shas:
                    continue
                loaded_shas.add(digest)
                todo.append((f, key, digest))
            if not todo and not reopen:
                return result
            con.execute("BEGIN TRANSACTION")
            try:
                for reopened, tools in (reopen or {}).items():
                    _reopen(con, reopened, tools)
                for f, key, digest in todo:
                    table = {
                        "samples": "samples",
                        "cells": "run_cells",
                        "decisions": "run_decisions",  # sampling to a verdict (migration 030)
                        # results from elsewhere (bench_pipeline.ingest, migration 008)
                        "runs": "runs",
                        "metrics": "sample_metrics",
                        "batches": "batch_runs",
                        "sources": "ingest_sources",
                        "origins": "ingest_cells",
                    }[f.kind]
                    inserted = con.execute(
                        f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet(?)", [str(f.path)]
                    ).fetchall()
                    rows = int(inserted[0][0]) if inserted else 0
                    con.execute(
                        "INSERT INTO landing_loads (path, run_id, kind, rows, loaded_at, sha256) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        [key, f.run_id, f.kind, rows, datetime.now(UTC), digest],
                    )
                    result.files.append(str(f.path))
                    result.rows[f.kind] = result.rows.get(f.kind, 0) + rows
                    result.run_ids.add(f.run_id)
                con.execute("COMMIT")
            except Exception as exc:
                con.execute("ROLLBACK")
                raise StoreError(
                    f"loading landing files failed, nothing was loaded: {exc}",
                    fix="inspect the named landing file; remove it if it is damaged",
                ) from None
        return result

    REPLACEABLE = (
        "cell_stats",
        "comparisons",
        "sample_flags",
        # the learning store (migration 006): rows of the run an analysis was made at
        "performance_trends",
        "benchmark_patterns",
        "recommendations",
        "run_quality",
    )

    def replace_rows(self, table: str, where: dict[str, Any], frame: pl.DataFrame) -> int:
        """Replace the rows of ``table`` matching ``where`` by ``frame``, in one transaction. ``where``
        maps a column to a value, or to a tuple of values (the column is one of them)."""
        if table not in self.REPLACEABLE:
            raise ValueError(f"replace_rows does not write {table!r}")
        clauses, params = [], []
        for column, value in where.items():  # column names are ours, values bound
            if isinstance(value, tuple):
                clauses.append(f"{column} IN ({', '.join('?' for _ in value)})")
                params += list(value)
            else:
                clauses.append(f"{column} = ?")
                params.append(value)
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(f"DELETE FROM {table} WHERE {' AND '.join(clauses)}", params)
                if not frame.is_empty():
                    con.register("new_rows", frame.to_arrow())
                    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM new_rows")
                    con.unregister("new_rows")
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
        return frame.height

    # ------------------------------------------------------------------ builds, bisections
    APPENDABLE = ("builds", "bisects", "bisect_steps")  # migrations 020, 021

    def append_rows(self, table: str, rows: list[dict[str, Any]]) -> int:
        """Insert ``rows`` (column → value; absent columns NULL) into ``table``, in one transaction."""
        if table not in self.APPENDABLE:
            raise ValueError(f"append_rows does not write {table!r}")
        if not rows:
            return 0
        frame = pl.DataFrame(rows, infer_schema_length=None)
        with self.connect() as con:
            con.register("new_rows", frame.to_arrow())
            try:
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM new_rows")
            finally:
                con.unregister("new_rows")
        return frame.height

    BISECT_FIELDS = (
        "status",
        "first_bad",
        "message",
        "finished_at",
        "good_commit",
        "bad_commit",
        "candidates",
    )

    def update_bisect(self, bisect_id: str, **fields: Any) -> None:
        """Set fields of one ``bisects`` row (its outcome as the search goes)."""
        unknown = set(fields) - set(self.BISECT_FIELDS)
        if unknown:
            raise ValueError(f"update_bisect does not set {sorted(unknown)}")
        columns = ", ".join(f"{name} = ?" for name in fields)  # names checked above, values bound
        with self.connect() as con:
            con.execute(f"UPDATE bisects SET {columns} WHERE bisect_id = ?", [*fields.values(), bisect_id])

    # ------------------------------------------------------------------ alerts
    ALERT_COLUMNS = (
        "alert_id",
        "created_at",
        "kind",
        "severity",
        "dagster_run_id",
        "job_name",
        "partition_key",
        "suite",
        "message",
        "details",
        "webhook_status",
    )

    def insert_alert(self, alert: dict[str, Any]) -> None:
        """Store one alert (``bench_pipeline.ops.alerts``); ``details`` is kept as JSON."""
        row = {**alert, "details": json.dumps(alert.get("details") or {}, default=str)}
        placeholders = ", ".join("?" for _ in self.ALERT_COLUMNS)
        with self.connect() as con:
            con.execute(
                f"INSERT INTO alerts ({', '.join(self.ALERT_COLUMNS)}) VALUES ({placeholders})",
                [row.get(c) for c in self.ALERT_COLUMNS],
            )


_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def _process_lock(path: Path) -> threading.RLock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(str(Path(path).resolve()), threading.RLock())


def landing_key(path: Path) -> str:
    """How ``landing_loads`` names a landing file: its path relative to the home (absolute when it
    lies elsewhere), so the same file is the same row wherever the home is moved."""
    path = Path(path).resolve()
    try:
        return path.relative_to(paths.home()).as_posix()
    except ValueError:
        return str(path)


def _reopen(con: duckdb.DuckDBPyConnection, run_id: str, tools: list[str]) -> None:
    """A finished run made pending again, its statistics of ``tools`` and its comparisons dropped."""
    con.execute(
        "UPDATE runs SET pending_status = coalesce(pending_status, status), status = 'running' "
        "WHERE run_id = ? AND pending_status IS NULL AND status IN ('succeeded', 'failed')",
        [run_id],
    )
    for table in ("cell_stats", "sample_flags"):  # table names are ours
        con.execute(f"DELETE FROM {table} WHERE run_id = ? AND list_contains(?, tool)", [run_id, tools])
    con.execute("DELETE FROM comparisons WHERE run_id = ?", [run_id])


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _alive(pid: int | None, started: float | None) -> bool:
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        return started is None or abs(proc.create_time() - started) < 1.0
    except psutil.Error:
        return False
