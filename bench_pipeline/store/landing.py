"""The landing area: Parquet files written by measuring steps (and later the API and adapters),
waiting for the single DuckDB writer to load them (SPEC §7).

Layout: ``<landing>/<run_id>/<kind>+<suite>+<tool>.parquet`` (``+`` cannot occur in names). Every file is written to a
temporary name and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from bench_pipeline.store.schema import CELL_SCHEMA, SAMPLE_SCHEMA, frame_mismatch

DECISIONS_TOOL = "_pairs"  # a run's tool-pair decisions belong to no one tool
KINDS = ("samples", "cells", "decisions", "runs", "metrics", "batches", "sources", "origins")
# runs, metrics, batches, sources, origins: written by bench_pipeline.ingest (results from elsewhere)
#: kinds whose files must have exactly the declared schema (bench_pipeline.store.schema)
DECLARED: dict[str, dict[str, pl.DataType]] = {"samples": SAMPLE_SCHEMA, "cells": CELL_SCHEMA}


@dataclass(frozen=True)
class LandingFile:
    path: Path
    run_id: str
    kind: str
    suite: str
    tool: str


TMP_PREFIX = ".tmp-"


class LandingWriter:
    """One landing file written in row groups, so memory stays bounded by one group whatever the
    file's size; it appears under its final name only when :meth:`close` renames it into place.

    The temporary name carries the writer's pid (``.tmp-<pid>-…``): :func:`remove_orphans` deletes
    those whose process is gone.
    """

    def __init__(
        self,
        landing_dir: Path,
        *,
        run_id: str,
        kind: str,
        suite: str,
        tool: str,
        schema: dict[str, Any],
        durable: bool = True,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown landing kind {kind!r}")
        self.kind = kind
        self.schema = schema
        self.rows = 0
        self.durable = durable  # fsync before the rename: the file outlives a crash of the machine
        target_dir = landing_dir / run_id
        target_dir.mkdir(parents=True, exist_ok=True)
        self.target = target_dir / f"{kind}+{suite}+{tool}.parquet"
        fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", suffix=".parquet", dir=target_dir)
        os.close(fd)
        self.tmp = Path(tmp)
        self._writer: pq.ParquetWriter | None = None

    def write(self, df: pl.DataFrame) -> None:
        if self.kind in DECLARED and (problem := frame_mismatch(self.kind, df.schema, DECLARED[self.kind])):
            raise ValueError(problem)
        table = df.to_arrow()
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.tmp, table.schema, compression="zstd")
        elif table.schema != self._writer.schema:
            table = table.cast(self._writer.schema)
        self._writer.write_table(table)
        self.rows += df.height

    def close(self) -> Path:
        try:
            if self._writer is None:  # no rows: a file with the schema all the same
                self.write(pl.DataFrame(schema=self.schema))
            assert self._writer is not None
            self._writer.close()
            if self.durable:
                with open(self.tmp, "rb") as f:
                    os.fsync(f.fileno())
            os.replace(self.tmp, self.target)
        except BaseException:
            self.abort()
            raise
        return self.target

    def abort(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        self.tmp.unlink(missing_ok=True)


def write_landing(
    df: pl.DataFrame, landing_dir: Path, *, run_id: str, kind: str, suite: str, tool: str
) -> Path:
    if kind in DECLARED and (problem := frame_mismatch(kind, df.schema, DECLARED[kind])):
        raise ValueError(problem)
    writer = LandingWriter(
        landing_dir, run_id=run_id, kind=kind, suite=suite, tool=tool, schema=dict(df.schema)
    )
    try:
        writer.write(df)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def remove_orphans(landing_dir: Path, *, min_age_s: float = 60.0) -> list[Path]:
    """Delete temporary landing files (and empty ingestion directories) left by killed writers:
    those whose writer process is gone, and that are older than ``min_age_s``."""
    if not landing_dir.exists():
        return []
    removed: list[Path] = []
    now = time.time()
    # temporary files of a run directory, and ingestion directories not loaded (.ingest/.tmp-…)
    for path in landing_dir.glob(f"*/{TMP_PREFIX}*"):
        try:
            pid = int(path.name[len(TMP_PREFIX) :].split("-", 1)[0])
        except ValueError:
            pid = 0
        try:
            old = now - path.stat().st_mtime > min_age_s
        except OSError:
            continue
        if old and not _alive(pid):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pending_files(
    landing_dir: Path, *, suite: str | None = None, tool: str | None = None, run_id: str | None = None
) -> list[LandingFile]:
    """Complete landing files (temporary ones are skipped), oldest run directory first."""
    if not landing_dir.exists():
        return []
    found = []
    for run_dir in sorted(landing_dir.iterdir(), key=lambda p: p.stat().st_mtime):
        if not run_dir.is_dir() or (run_id and run_dir.name != run_id):
            continue
        for path in sorted(run_dir.glob("*.parquet")):
            if path.name.startswith("."):
                continue
            parts = path.stem.split("+")
            if len(parts) != 3:
                continue
            kind, f_suite, f_tool = parts
            if kind not in KINDS or (suite and f_suite != suite) or (tool and f_tool != tool):
                continue
            found.append(LandingFile(path, run_dir.name, kind, f_suite, f_tool))
    return found
