"""Writing a planned ingestion into landing files: samples and metrics streamed in row groups
(memory bounded whatever the number of samples), then cells, origins, sources, batches and the
``runs`` row, in the schemas ``Store.load_landing`` loads.
"""

from __future__ import annotations

import json
import math
import socket
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest.model import (
    INT32_MAX,
    Sample,
    SampleBlock,
    check_label,
    check_name,
)
from bench_pipeline.ingest.plan import (
    Options,
    Part,
    RunPlan,
    checked_time,
    source_identity,
    tool_of,
)
from bench_pipeline.store.landing import LandingWriter
from bench_pipeline.store.schema import CELL_SCHEMA, RUN_SCHEMA, SAMPLE_SCHEMA

BACKEND = "external"


METRIC_SCHEMA: dict[str, Any] = {
    "run_id": pl.Utf8,
    "suite": pl.Utf8,
    "tool": pl.Utf8,
    "operation": pl.Utf8,
    "fixture": pl.Utf8,
    "round": pl.Int32,
    "iteration": pl.Int32,
    "key": pl.Utf8,
    "value": pl.Float64,
    "unit": pl.Utf8,
}


ORIGIN_SCHEMA: dict[str, Any] = {
    "run_id": pl.Utf8,
    "suite": pl.Utf8,
    "tool": pl.Utf8,
    "operation": pl.Utf8,
    "fixture": pl.Utf8,
    "format": pl.Utf8,
    "source": pl.Utf8,
    "source_name": pl.Utf8,
    "kind": pl.Utf8,
    "statistic": pl.Utf8,
    "n_source": pl.Int64,
    "summary": pl.Utf8,
    "ingested_at": pl.Datetime("us", "UTC"),
}


SOURCE_SCHEMA: dict[str, Any] = {
    "run_id": pl.Utf8,
    "sha256": pl.Utf8,
    "identity": pl.Utf8,
    "source": pl.Utf8,
    "format": pl.Utf8,
    "samples": pl.Int64,
    "trigger": pl.Utf8,
    "ingested_at": pl.Datetime("us", "UTC"),
}


BATCH_SCHEMA: dict[str, Any] = {
    "batch_id": pl.Utf8,
    "run_id": pl.Utf8,
    "suite": pl.Utf8,
    "added_at": pl.Datetime("us", "UTC"),
    "metadata": pl.Utf8,
}


CHUNK_ROWS = 50_000  # rows buffered per landing file before they are written as one row group


class _Rows:
    """The rows of one landing file, written every CHUNK_ROWS rows: memory stays bounded whatever
    the number of samples. Nothing is written for a file that gets no rows."""

    def __init__(self, root: Path, run_id: str, kind: str, suite: str, tool: str, schema: dict[str, Any]):
        self.schema = schema
        # no fsync: the files are loaded by this process right away, or removed as orphans
        self.writer = LandingWriter(
            root, run_id=run_id, kind=kind, suite=suite, tool=tool, schema=schema, durable=False
        )
        self.rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= CHUNK_ROWS:
            self.flush()

    def add_frame(self, frame: pl.DataFrame) -> None:
        self.flush()
        self.writer.write(frame)

    def flush(self) -> None:
        if self.rows:
            self.writer.write(pl.DataFrame(self.rows, schema=self.schema))
            self.rows = []

    def close(self) -> None:
        self.flush()
        if self.writer.rows:
            self.writer.close()
        else:
            self.writer.abort()


def _block_frames(
    block: SampleBlock, keys: dict[str, Any], *, round0: int, iteration0: int, created: datetime
) -> Iterator[pl.DataFrame]:
    """A block's samples as SAMPLE_SCHEMA frames of at most CHUNK_ROWS rows (rounds and iterations
    numbered on from ``round0`` / ``iteration0``)."""
    wall = np.frombuffer(block.wall_ns, dtype=np.int64)
    codes = np.frombuffer(block.exit_code, dtype=np.int64) if block.exit_code is not None else None
    rss = np.frombuffer(block.peak_rss_bytes, dtype=np.int64) if block.peak_rss_bytes is not None else None
    for start in range(0, len(wall), CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, len(wall))
        n = stop - start
        exit_code = codes[start:stop] if codes is not None else np.zeros(n, dtype=np.int64)
        columns: dict[str, Any] = {
            **{k: pl.repeat(v, n, eager=True, dtype=SAMPLE_SCHEMA[k]) for k, v in keys.items()},
            "round": pl.Series(np.arange(round0 + start, round0 + stop, dtype=np.int32)),
            "iteration": pl.Series(np.arange(iteration0 + start, iteration0 + stop, dtype=np.int32)),
            "warmup": pl.repeat(False, n, eager=True),
            "wall_ns": pl.Series(wall[start:stop]),
            "exit_code": pl.Series(exit_code.astype(np.int32)),
            "timed_out": pl.repeat(False, n, eager=True),
            "ok": pl.Series(exit_code == 0),
            "created_at": pl.repeat(created, n, eager=True, dtype=SAMPLE_SCHEMA["created_at"]),
        }
        if rss is not None:
            values = pl.DataFrame({"v": rss[start:stop]})  # -1: not measured
            columns["peak_rss_bytes"] = values.select(pl.when(pl.col("v") >= 0).then(pl.col("v"))).to_series()
        frame = pl.DataFrame(columns)
        yield frame.select(
            [
                pl.col(c).cast(t) if c in frame.columns else pl.lit(None, dtype=t).alias(c)
                for c, t in SAMPLE_SCHEMA.items()
            ]
        )


LandingFiles = dict[tuple[str, str, str], "_Rows"]


def write_plan(plan: RunPlan, options: Options, now: datetime, root: Path, files: LandingFiles) -> None:
    """The rows of one run: samples and metrics streamed (per tool, in row groups), then cells,
    origins, sources, batches and (for a new run) the ``runs`` row. ``files`` (kind, suite, tool) →
    landing file is shared by the runs of one ingestion, so a hundred submitted runs are a dozen
    files in one directory (named after the first run), not five hundred."""
    suite, run_id = plan.suite, plan.run_id

    def rows(kind: str, tool: str, schema: dict[str, Any]) -> _Rows:
        if (kind, suite, tool) not in files:
            files[(kind, suite, tool)] = _Rows(root, run_id, kind, suite, tool, schema)
        return files[(kind, suite, tool)]

    cells: dict[tuple[str, str, str], dict] = {}
    origins: dict[tuple[str, str, str], dict] = {}
    iterations: Counter[tuple[str, str, str]] = Counter()
    next_round = plan.round_offset
    sources: dict[str, dict[str, Any]] = {}
    batches: list[dict[str, Any]] = []
    tools: set[str] = set()
    fixtures: set[str] = set()

    def cell_row(part: Part, info: dict, sample: Sample | SampleBlock, key: tuple[str, str, str]) -> dict:
        """The ``run_cells`` row of ``key`` (made at its first sample), with its origin."""
        parsed = part.parsed
        if key in cells:
            return cells[key]
        ci = info.get((sample.tool, sample.operation, sample.fixture)) or info.get(
            (None, sample.operation, sample.fixture)
        )
        kind = ci.kind if ci else "raw"
        cells[key] = {
            "run_id": run_id,
            "suite": suite,
            "tool": key[0],
            "operation": sample.operation,
            "fixture": sample.fixture,
            "category": (ci.category if ci and ci.category else parsed.format),
            "status": "measured",
            "reason": (
                f"summary only: the {ci.statistic} reported by {parsed.format}"
                if ci and kind == "summary"
                else f"ingested from {parsed.format}"
            ),
            "n_ok": 0,
            "n_failed": 0,
            "stop": "summary" if kind == "summary" else "ingested",
            "base_operation": (ci.base_operation if ci and ci.base_operation else sample.operation),
            "params": dumps(ci.params) if ci and ci.params else None,
            "valid": None,
            "equivalence": None,
            "similarity": None,
            "timed_count": 0,
        }
        origins[key] = {
            "run_id": run_id,
            "suite": suite,
            "tool": key[0],
            "operation": sample.operation,
            "fixture": sample.fixture,
            "format": parsed.format,
            "source": parsed.source,
            "source_name": ci.source_name if ci and ci.source_name else sample.operation,
            "kind": kind,
            "statistic": ci.statistic if ci else None,
            "n_source": ci.n_source if ci else None,
            "summary": dumps(ci.summary) if ci and ci.summary else None,
            "ingested_at": now,
        }
        return cells[key]

    for part in plan.parts:
        data, parsed = part.data, part.parsed
        given = [s.round for s in data.samples if s.round is not None] if data.keep_rounds else []
        base = next_round
        spare = base + (max(given) + 1 if given else 0)
        shift = (plan.started_at - data.started_at) if options.started_at and data.started_at else None
        info = {}
        for cell in data.cells:
            info[(cell.tool, cell.operation, cell.fixture)] = cell
        n_part = 0
        for s in data.samples:
            tool = tool_of(part, s, options)
            where = f"{parsed.source}: {s.operation!r}"
            check_name(
                tool, f"{parsed.source}: tool", fix="pass --tool NAME (letters, digits, '_', '.', '-')"
            )
            check_label(s.operation, f"{parsed.source}: operation")
            check_label(s.fixture, f"{parsed.source}: fixture")
            key = (tool, s.operation, s.fixture)
            iteration = iterations[key]
            iterations[key] += 1
            if data.keep_rounds and s.round is not None:
                round_ = base + s.round
            else:
                round_, spare = spare, spare + 1
            if s.created_at is None:
                created = plan.started_at
            else:
                try:
                    created = s.created_at + shift if shift is not None else s.created_at
                except OverflowError:
                    created = datetime.max.replace(tzinfo=UTC)  # refused just below
                created = checked_time(created, f"{where}: created_at")
            ok = s.ok if s.ok is not None else (s.exit_code == 0 and not s.timed_out)
            tools.add(tool)
            fixtures.add(s.fixture)
            if s.wall_ns is not None:
                n_part += 1
                rows("samples", tool, SAMPLE_SCHEMA).add(
                    {
                        "run_id": run_id,
                        "suite": suite,
                        "tool": tool,
                        "operation": s.operation,
                        "fixture": s.fixture,
                        "backend": BACKEND,
                        "round": round_,
                        "iteration": iteration,
                        "warmup": False,
                        "wall_ns": s.wall_ns,
                        "exit_code": s.exit_code,
                        "timed_out": s.timed_out,
                        "ok": ok,
                        "created_at": created,
                        **s.counters,  # the declared counters the source gave; the other columns are null
                    }
                )
            for m in s.metrics:
                check_label(m.key, f"{where}: metric key")
                if not math.isfinite(m.value):
                    raise IngestError(
                        f"metric {m.key!r} is out of range ({m.value})", where=where, fix="check the value"
                    )
                rows("metrics", tool, METRIC_SCHEMA).add(
                    {
                        "run_id": run_id,
                        "suite": suite,
                        "tool": tool,
                        "operation": s.operation,
                        "fixture": s.fixture,
                        "round": round_,
                        "iteration": iteration,
                        "key": m.key,
                        "value": m.value,
                        "unit": m.unit,
                    }
                )
            row = cell_row(part, info, s, key)
            if s.wall_ns is not None:
                row["timed_count"] += 1
                row["n_ok" if ok else "n_failed"] += 1
        for block in data.blocks:
            tool = tool_of(part, block, options)
            check_name(
                tool, f"{parsed.source}: tool", fix="pass --tool NAME (letters, digits, '_', '.', '-')"
            )
            check_label(block.operation, f"{parsed.source}: operation")
            check_label(block.fixture, f"{parsed.source}: fixture")
            key = (tool, block.operation, block.fixture)
            tools.add(tool)
            fixtures.add(block.fixture)
            n = len(block)
            keys = {
                "run_id": run_id,
                "suite": suite,
                "tool": tool,
                "operation": block.operation,
                "fixture": block.fixture,
                "backend": BACKEND,
            }
            for frame in _block_frames(
                block, keys, round0=spare, iteration0=iterations[key], created=plan.started_at
            ):
                rows("samples", tool, SAMPLE_SCHEMA).add_frame(frame)
            spare += n
            iterations[key] += n
            n_part += n
            row = cell_row(part, info, block, key)
            n_ok = (
                n if block.exit_code is None else int((np.frombuffer(block.exit_code, np.int64) == 0).sum())
            )
            row["timed_count"] += n
            row["n_ok"] += n_ok
            row["n_failed"] += n - n_ok
        next_round = max(spare, base + (max(given) + 1 if given else 0))
        if next_round > INT32_MAX:
            raise IngestError(
                f"round numbers exceed {INT32_MAX}", where=parsed.source, fix="number rounds from 0"
            )
        identity = source_identity(parsed, options)
        if identity in sources:  # one bundle's runs joined into one run: one source row
            sources[identity]["samples"] += n_part
        else:
            sources[identity] = {
                "run_id": run_id,
                "sha256": parsed.sha256,
                "identity": identity,
                "source": parsed.source,
                "format": parsed.format,
                "samples": n_part,
                "trigger": options.trigger,
                "ingested_at": now,
            }
        if data.batch_id:
            batches.append(
                {
                    "batch_id": data.batch_id,
                    "run_id": run_id,
                    "suite": suite,
                    "added_at": now,
                    "metadata": dumps(data.batch_metadata) if data.batch_metadata else None,
                }
            )
    for row in cells.values():
        timed = row.pop("timed_count")
        if timed and not row["n_ok"]:
            row["status"], row["reason"] = "failed", "no successful sample in the source"
        elif not timed:
            row["reason"] = f"metrics only (no time) from {row['category']}"
    for tool in sorted(tools):
        for key, row in cells.items():
            if key[0] == tool:
                rows("cells", tool, CELL_SCHEMA).add(row)
                rows("origins", tool, ORIGIN_SCHEMA).add(origins[key])
    for source in sources.values():
        rows("sources", "all", SOURCE_SCHEMA).add(source)
    for batch in _unique_batches(batches):
        rows("batches", "all", BATCH_SCHEMA).add(batch)
    if not plan.exists:
        rows("runs", "all", RUN_SCHEMA).add(_run_row(plan, options, sorted(tools), sorted(fixtures)))


def _unique_batches(rows: list[dict]) -> list[dict]:
    seen, out = set(), []
    for row in rows:
        if row["batch_id"] not in seen:
            seen.add(row["batch_id"])
            out.append(row)
    return out


def _run_row(plan: RunPlan, options: Options, tools: list[str], fixtures: list[str]) -> dict[str, Any]:
    parts = plan.parts
    host: dict[str, Any] = {}
    versions: dict[str, str] = {}
    metadata: dict[str, Any] = {}
    for part in parts:
        host.update(part.data.host)
        versions.update(part.data.tool_versions)
        metadata.update(part.data.metadata)
    finishes = [p.data.finished_at for p in parts if p.data.finished_at]
    finished = max(finishes) if finishes and not options.started_at else plan.started_at
    statuses = {p.data.status for p in parts}
    first = next((p.data for p in parts if p.data.git_commit or p.data.git_tag), None)
    formats = sorted({p.parsed.format for p in parts})
    return {
        "run_id": plan.run_id,
        "suite": plan.suite,
        "started_at": plan.started_at,
        "finished_at": max(finished, plan.started_at),
        # pending until its statistics are committed too (bench_pipeline.resume.complete_runs)
        "status": "running",
        "pending_status": "failed" if "failed" in statuses else "succeeded",
        "trigger": options.trigger,
        "backend": BACKEND,
        "git_tag": first.git_tag if first else None,
        "git_commit": first.git_commit if first else None,
        "host": dumps({**host, "source": "external", "formats": formats}),
        "tool_versions": dumps(versions),
        "settings": dumps(
            {
                "ingest": {"formats": formats, "sources": [p.parsed.source for p in parts]},
                **({"metadata": metadata} if metadata else {}),
            }
        ),
        "tools": dumps(tools),
        "sizes": dumps(fixtures),
        "quick": False,
        "hostname": socket.gethostname(),
        "seconds": (max(finished, plan.started_at) - plan.started_at).total_seconds(),
        "message": f"ingested from {', '.join(formats)}",
    }


def dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, sort_keys=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
