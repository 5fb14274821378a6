"""The landing area: Parquet files written by measuring steps (and later the API and adapters),
waiting for the single DuckDB writer to load them (SPEC §7).

Layout: ``<landing>/<run_id>/<kind>+<suite>+<tool>.parquet`` (``+`` cannot occur in names). Every file is written to a
temporary name and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

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


def write_landing(
    df: pl.DataFrame, landing_dir: Path, *, run_id: str, kind: str, suite: str, tool: str
) -> Path:
    if kind not in KINDS:
        raise ValueError(f"unknown landing kind {kind!r}")
    if kind in DECLARED and (problem := frame_mismatch(kind, df.schema, DECLARED[kind])):
        raise ValueError(problem)
    target_dir = landing_dir / run_id
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{kind}+{suite}+{tool}.parquet"
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=target_dir)
    os.close(fd)
    try:
        df.write_parquet(tmp, compression="zstd")
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def pending_files(
    landing_dir: Path, *, suite: str | None = None, tool: str | None = None
) -> list[LandingFile]:
    """Complete landing files (temporary ones are skipped), oldest run directory first."""
    if not landing_dir.exists():
        return []
    found = []
    for run_dir in sorted(landing_dir.iterdir(), key=lambda p: p.stat().st_mtime):
        if not run_dir.is_dir():
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
