"""bench-pipeline's own files: samples landing Parquet, a landing run directory, a JSON or a CSV export.

Used to re-ingest or backfill history (``--run-id``, ``--started-at``) from files this project wrote:
``landing/<run_id>/samples+<suite>+<tool>.parquet`` (any Parquet with the samples columns), the
directory holding such files (its ``cells+…`` and ``metrics+…`` files are read too), the JSON
written by :func:`bench_pipeline.ingest.export.export_run` (schema ``bench-pipeline/samples``), or
the CSV of ``bench-pipeline export --format csv`` (``exporters.csv_samples``, known by its header).
Kept: every sample column a result from elsewhere may carry (``ingested`` in
``bench_pipeline.store.schema``), rounds (real interleaving rounds), metrics, the cells'
category/parameters, run metadata. Dropped: warmup samples and what only the runner measures
(``stderr_tail``, ``oom_killed``, cgroup counters).
With ``--started-at`` the samples' ``created_at`` are shifted by the same amount as the run start.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest.exporters.csv_samples import COLUMNS as CSV_COLUMNS
from bench_pipeline.ingest.model import (
    COUNTER_NAMES,
    DEFAULT_FIXTURE,
    CellInfo,
    ExitCode,
    Int,
    Label,
    Metric,
    NonNegInt,
    Number,
    Parsed,
    Round,
    RunData,
    Sample,
    counter_fields,
    validation_error,
)
from bench_pipeline.ingest.source import Source, hash_files, parse_json
from bench_pipeline.store.schema import SAMPLE_COLUMNS
from bench_pipeline.timestamps import TimestampError, UtcTime, parse_time

NAME = "native"
SCHEMA = "bench-pipeline/samples"
FIX = (
    "pass a samples landing Parquet file, its landing directory, a JSON export (schema bench-pipeline/samples) "
    "or a CSV export (bench-pipeline export --format csv)"
)
PARQUET_MAGIC = b"PAR1"
CSV_HEADER = ",".join(CSV_COLUMNS).encode()
SQL_TYPES = {c.name: c.sql for c in SAMPLE_COLUMNS}


class MetricIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Number
    unit: str | None = None


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore")


if TYPE_CHECKING:  # the counters are read by name (COUNTER_NAMES); type checkers need not see them
    _RowWithCounters = _Row
else:
    _RowWithCounters = create_model("_RowWithCounters", __base__=_Row, **counter_fields())


class SampleRow(_RowWithCounters):
    """A sample of a landing file or export; the declaration's counters come from ``counter_fields``."""

    run_id: str | None = None
    suite: str | None = None
    tool: str
    operation: Label
    fixture: Label = DEFAULT_FIXTURE
    round: Round | None = None
    iteration: Int | None = None
    warmup: bool = False
    wall_ns: NonNegInt
    exit_code: ExitCode = 0
    timed_out: bool = False
    ok: bool | None = None
    created_at: UtcTime | None = None
    metrics: dict[str, MetricIn] = Field(default_factory=dict)


class CellRow(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tool: str
    operation: str
    fixture: str = DEFAULT_FIXTURE
    category: str | None = None
    base_operation: str | None = None
    params: dict[str, Any] | str | None = None


class RunRow(BaseModel):
    model_config = ConfigDict(extra="ignore")

    run_id: str | None = None
    suite: str | None = None
    started_at: UtcTime | None = None
    finished_at: UtcTime | None = None
    status: str | None = None
    git_tag: str | None = None
    git_commit: str | None = None
    host: dict[str, Any] | str | None = None
    tool_versions: dict[str, Any] | str | None = None


class Export(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    schema_: str = Field(alias="schema")
    version: int
    run: RunRow = Field(default_factory=RunRow)
    cells: list[CellRow] = Field(default_factory=list)
    samples: list[SampleRow]


def _landing_files(directory: Path, kind: str) -> list[Path]:
    return sorted(p for p in directory.glob(f"{kind}+*.parquet") if not p.name.startswith("."))


def detect(src: Source) -> bool:
    if src.is_dir:
        return bool(_landing_files(src.path, "samples"))
    head = src.head(len(CSV_HEADER) + 2)
    if head[:4] == PARQUET_MAGIC or head.removeprefix(b"\xef\xbb\xbf").startswith(CSV_HEADER):
        return True
    doc = src.json_doc()
    return isinstance(doc, dict) and doc.get("schema") == SCHEMA


def parse(src: Source) -> Parsed:
    if src.is_dir:
        files = _landing_files(src.path, "samples")
        cell_files = _landing_files(src.path, "cells")
        metric_files = _landing_files(src.path, "metrics")
        for f in files + cell_files + metric_files:
            src.check_size(f)
        rows = _parquet_rows(files)
        cells = [_cell_row(r, str(src.path)) for r in _parquet_rows(cell_files)] if cell_files else []
        metrics = _parquet_rows(metric_files) if metric_files else []
        sha = hash_files(src.path, files + cell_files + metric_files)
        return _build(src, rows, cells, metrics, RunRow(), sha)
    if src.head(4) == PARQUET_MAGIC:
        return _build(src, _parquet_rows([src.path], src.data), [], [], RunRow(), src.sha256)
    if not src.looks_like_json():
        return _build(src, _csv_rows(src), [], [], RunRow(), src.sha256)
    try:
        export = Export.model_validate(src.json)
    except ValidationError as exc:
        raise validation_error(exc, src.where, fix=FIX) from None
    if export.schema_ != SCHEMA or export.version != 1:
        raise IngestError(
            f"unsupported export {export.schema_!r} version {export.version}", where=src.where, fix=FIX
        )
    rows = [r.model_dump() for r in export.samples]
    return _build(src, rows, export.cells, [], export.run, src.sha256)


def _parquet_rows(files: list[Path], data: bytes | None = None) -> list[dict[str, Any]]:
    import io

    rows: list[dict[str, Any]] = []
    for path in files:
        try:
            frame = pl.read_parquet(io.BytesIO(data) if data is not None else path)
        except Exception as exc:  # polars raises several types for damaged files
            raise IngestError(f"cannot read Parquet: {exc}", where=str(path), fix=FIX) from None
        rows.extend(frame.iter_rows(named=True))
    return rows


def _csv_value(text: str, sql: str, where: str) -> Any:
    if text == "":
        return None
    if sql == "BOOLEAN":
        if text not in ("true", "false"):
            raise IngestError(f"{text!r} is not true or false", where=where, fix=FIX)
        return text == "true"
    if sql in ("BIGINT", "INTEGER"):
        try:
            return int(text)
        except ValueError:
            raise IngestError(f"{text!r} is not a whole number", where=where, fix=FIX) from None
    if sql == "TIMESTAMPTZ":
        try:
            return parse_time(text)  # the one timestamp rule: ISO 8601, UTC, 1970-2200
        except TimestampError as exc:
            raise IngestError(str(exc), where=where, fix=FIX) from None
    return text


def _csv_rows(src: Source) -> list[dict[str, Any]]:
    """The rows of a CSV export, typed as the ``samples`` columns; ``metrics`` decoded from JSON."""
    reader = csv.DictReader(src.text.splitlines())
    if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
        raise IngestError("not a bench-pipeline CSV export (unexpected header)", where=src.where, fix=FIX)
    rows = []
    for number, raw in enumerate(reader, 2):
        where = f"{src.where}:{number}"
        if None in raw or any(v is None for v in raw.values()):
            raise IngestError(f"{len(CSV_COLUMNS)} fields expected", where=where, fix=FIX)
        row = {k: _csv_value(v, SQL_TYPES[k], f"{where}: {k}") for k, v in raw.items() if k != "metrics"}
        row["metrics"] = parse_json(raw["metrics"], f"{where}: metrics") if raw["metrics"] else {}
        rows.append(row)
    return rows


def _cell_row(row: dict[str, Any], where: str) -> CellRow:
    try:
        return CellRow.model_validate(row)
    except ValidationError as exc:
        raise validation_error(exc, where, fix=FIX) from None


def _build(
    src: Source,
    rows: list[dict[str, Any]],
    cells_in: list[CellRow],
    metric_rows: list[dict[str, Any]],
    run_row: RunRow,
    sha: str,
) -> Parsed:
    if not rows:
        raise IngestError("no samples", where=src.where, fix=FIX)
    metrics_by_sample: dict[tuple[Any, ...], list[Metric]] = {}
    for m in metric_rows:
        sample_key = (m.get("tool"), m.get("operation"), m.get("fixture"), m.get("round"), m.get("iteration"))
        if m.get("value") is not None:
            metrics_by_sample.setdefault(sample_key, []).append(
                Metric(str(m["key"]), float(m["value"]), m.get("unit"))
            )
    runs: dict[str | None, RunData] = {}
    dropped = 0
    for index, raw in enumerate(rows):
        try:
            row = SampleRow.model_validate(raw)
        except ValidationError as exc:
            raise validation_error(exc, f"{src.where}: samples[{index}]", fix=FIX) from None
        if row.warmup:
            dropped += 1
            continue
        run_id = row.run_id or run_row.run_id
        run = runs.get(run_id)
        if run is None:
            run = runs[run_id] = RunData(
                run_id=run_id,
                suite=row.suite or run_row.suite,
                started_at=run_row.started_at,
                finished_at=run_row.finished_at,
                git_tag=run_row.git_tag,
                git_commit=run_row.git_commit,
                host=_as_dict(run_row.host),
                tool_versions={k: str(v) for k, v in _as_dict(run_row.tool_versions).items()},
                keep_rounds=True,
            )
        sample = Sample(
            operation=row.operation,
            fixture=row.fixture,
            tool=row.tool,
            wall_ns=row.wall_ns,
            exit_code=row.exit_code,
            ok=row.ok,
            timed_out=row.timed_out,
            round=row.round,
            created_at=row.created_at,
            metrics=[Metric(k, float(v.value), v.unit) for k, v in row.metrics.items()],
            **{name: getattr(row, name) for name in COUNTER_NAMES},
        )
        sample.metrics += metrics_by_sample.get(
            (row.tool, row.operation, row.fixture, row.round, row.iteration), []
        )
        run.samples.append(sample)
    if not runs:
        raise IngestError("only warmup samples", where=src.where, fix=FIX)
    known = {(c.tool, c.operation, c.fixture): c for c in cells_in}
    for run in runs.values():
        seen: set[tuple[str, str, str]] = set()
        if run.started_at is None:
            stamps = [s.created_at for s in run.samples if s.created_at is not None]
            run.started_at = min(stamps) if stamps else None
        for s in run.samples:
            key = (s.tool or "", s.operation, s.fixture)
            if key in seen:
                continue
            seen.add(key)
            c = known.get(key)
            params = _as_dict(c.params) if c and c.params else None
            run.cells.append(
                CellInfo(
                    operation=s.operation,
                    fixture=s.fixture,
                    tool=s.tool,
                    source_name=s.operation,
                    category=c.category if c else None,
                    base_operation=c.base_operation if c else None,
                    params=params,
                )
            )
    warnings = [f"{src.name}: {dropped} warmup sample(s) not ingested"] if dropped else []
    return Parsed(NAME, src.name, sha, list(runs.values()), warnings)


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {}
    return value if isinstance(value, dict) else {}
