"""From parsed sources to the store, through the landing area like every local run (SPEC §7).

``ingest_files`` parses and validates every file first; only then it writes landing files —
samples, cells, metrics, origins, sources, batches and (for a new run) the ``runs`` row — into a
directory of its own (``landing/.ingest/<id>/<run_id>/``) and loads that directory with
``Store.load_landing``: one transaction, so either everything of the ingestion is stored or
nothing is (on failure the directory is removed too). ``ingest_runs`` does the same for API payloads.

Idempotency: every source is recorded with its SHA-256 in ``ingest_sources``; a source already
ingested into a run is skipped with a warning. Several sources given together, or given later with
the same ``run_id``, join one run; a run that was not ingested (a local run) is never joined.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from pydantic import BaseModel, Field

from bench_pipeline import paths
from bench_pipeline.errors import IngestError, StoreError
from bench_pipeline.ingest.adapters import ADAPTERS, FORMATS
from bench_pipeline.ingest.catalogue import record_suites
from bench_pipeline.ingest.model import (
    INT32_MAX,
    Parsed,
    RunData,
    Sample,
    SampleBlock,
    check_label,
    check_name,
)
from bench_pipeline.ingest.payload import RunIn, to_run_data
from bench_pipeline.ingest.source import Source
from bench_pipeline.store import Store
from bench_pipeline.store.landing import TMP_PREFIX, LandingWriter, remove_orphans, write_landing
from bench_pipeline.store.schema import CELL_SCHEMA, SAMPLE_SCHEMA
from bench_pipeline.timestamps import FIX as TIME_FIX
from bench_pipeline.timestamps import TimestampError, check_time

INGEST_DIR = ".ingest"  # under the landing area; never mistaken for a run directory (ids start alnum)
BACKEND = "external"
INGEST_TRIGGERS = ("ingest", "api")

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
RUN_SCHEMA: dict[str, Any] = {
    "run_id": pl.Utf8,
    "suite": pl.Utf8,
    "started_at": pl.Datetime("us", "UTC"),
    "finished_at": pl.Datetime("us", "UTC"),
    "status": pl.Utf8,
    "trigger": pl.Utf8,
    "backend": pl.Utf8,
    "git_tag": pl.Utf8,
    "git_commit": pl.Utf8,
    "host": pl.Utf8,
    "tool_versions": pl.Utf8,
    "settings": pl.Utf8,
    "tools": pl.Utf8,
    "sizes": pl.Utf8,
    "quick": pl.Boolean,
    "hostname": pl.Utf8,
    "seconds": pl.Float64,
    "message": pl.Utf8,
    "pending_status": pl.Utf8,
}


class IngestResult(BaseModel):
    """What an ingestion stored (the CLI's ``--json`` object)."""

    run_id: str = Field(description="the run the data went to (the first, when a bundle held several)")
    run_ids: list[str] = Field(default_factory=list)
    samples: int = 0
    operations: int = 0
    warnings: list[str] = Field(default_factory=list)
    formats: list[str] = Field(default_factory=list)
    batch_id: str | None = None
    created: list[str] = Field(default_factory=list, description="run ids created (not joined or skipped)")


@dataclass
class Options:
    suite: str | None = None
    tool: str | None = None
    run_id: str | None = None
    started_at: datetime | None = None
    trigger: str = "ingest"


@dataclass
class _Part:
    """One source's data for one run."""

    parsed: Parsed
    data: RunData


@dataclass
class _Plan:
    run_id: str
    parts: list[_Part] = field(default_factory=list)
    suite: str = ""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    exists: bool = False
    round_offset: int = 0
    named: bool = False  # the data named this run (not --run-id): it may not join a stored run


# ---------------------------------------------------------------------------------------- entry points
def detect_format(src: Source) -> str:
    """The adapter whose content test accepts ``src`` (most specific first)."""
    for name, adapter in ADAPTERS.items():
        if adapter.detect(src):
            return name
    if src.looks_like_json():
        src.json  # noqa: B018 — a JSON file none recognises: report why it is not valid JSON, if it is not
    what = "an empty file" if not src.is_dir and src.path.stat().st_size == 0 else "an unknown format"
    raise IngestError(
        f"{what}: not recognised as any of {', '.join(FORMATS)}",
        where=src.where,
        fix="pass --format NAME if the file is one of these; see docs/ingest.md for what each looks like",
    )


def parse_path(path: Path, fmt: str = "auto") -> Parsed:
    src = Source(Path(path))
    name = detect_format(src) if fmt == "auto" else fmt
    if name not in ADAPTERS:
        raise IngestError(
            f"unknown format {fmt!r}", where="--format", fix=f"use auto or one of {', '.join(FORMATS)}"
        )
    try:
        parsed: Parsed = ADAPTERS[name].parse(src)
    except (IngestError, StoreError):
        raise
    except Exception as exc:  # an input no adapter rule foresaw: still one clear message, no traceback
        raise IngestError(
            f"cannot read as {name}: {type(exc).__name__}: {exc}",
            where=src.where,
            fix=f"check that this is {name} output"
            + (" (or pass the right --format)" if fmt == "auto" else ""),
        ) from None
    return parsed


def ingest_files(
    paths_: list[Path],
    *,
    fmt: str = "auto",
    suite: str | None = None,
    tool: str | None = None,
    run_id: str | None = None,
    started_at: datetime | None = None,
    store: Store | None = None,
) -> IngestResult:
    """Parse and validate every file, then store them as one run (or the runs a bundle names).

    Raises IngestError (naming file, field and fix) before anything is written when any file is
    bad; StoreError when the store cannot be written (nothing is stored then either).
    """
    if fmt != "auto" and fmt not in FORMATS:
        raise IngestError(
            f"unknown format {fmt!r}", where="--format", fix=f"use auto or one of {', '.join(FORMATS)}"
        )
    if not paths_:
        raise IngestError("no files given", where="PATH", fix="name at least one result file")
    options = make_options(suite=suite, tool=tool, run_id=run_id, started_at=started_at, trigger="ingest")
    parsed = [parse_path(Path(p), fmt) for p in paths_]
    return store_parsed(parsed, options, store or Store())


def ingest_runs(
    runs: Sequence[RunIn],
    *,
    batch_id: str | None = None,
    batch_metadata: dict[str, Any] | None = None,
    store: Store | None = None,
    trigger: str = "api",
) -> IngestResult:
    """``ingest_files`` for validated in-memory payloads (the HTTP API): same landing, same load."""
    return ingest_groups([(runs, batch_id, batch_metadata)], store=store, trigger=trigger)


def ingest_groups(
    groups: Sequence[tuple[Sequence[RunIn], str | None, dict[str, Any] | None]],
    *,
    store: Store | None = None,
    trigger: str = "api",
) -> IngestResult:
    """Several submissions ``(runs, batch_id, batch_metadata)`` in one landing directory and one
    load transaction: the API commits concurrent submissions as a group (one commit, not one each)."""
    parsed = [
        Parsed(
            "bundle",
            "api",
            payload_sha256(run),
            [to_run_data(run, batch_id=batch_id, batch_metadata=batch_metadata)],
        )
        for runs, batch_id, batch_metadata in groups
        for run in runs
    ]
    return store_parsed(parsed, Options(trigger=trigger), store or Store())


def payload_sha256(run: RunIn) -> str:
    """Identity of a submitted run: its canonical JSON (the batch it came in excluded)."""
    canonical = run.model_dump_json(by_alias=True, exclude={"batch_id"})
    return hashlib.sha256(canonical.encode()).hexdigest()


def make_options(
    *,
    suite: str | None,
    tool: str | None,
    run_id: str | None,
    started_at: datetime | None,
    trigger: str,
) -> Options:
    fix = "use letters, digits, '_', '.', '-' (and start with a letter or digit)"
    if suite is not None:
        check_name(suite, "--suite", fix=fix)
    if tool is not None:
        check_name(tool, "--tool", fix=fix)
    if run_id is not None:
        check_name(run_id, "--run-id", fix=fix, run_id=True)
    if started_at is not None:
        started_at = checked_time(started_at, "--started-at")
    return Options(suite, tool, run_id, started_at, trigger)


def checked_time(value: datetime, where: str) -> datetime:
    """The one timestamp rule (``bench_pipeline.timestamps``) as an IngestError naming ``where``."""
    try:
        return check_time(value)
    except TimestampError as exc:
        raise IngestError(str(exc), where=where, fix=TIME_FIX) from None


# ---------------------------------------------------------------------------------------- planning
def store_parsed(
    parsed: list[Parsed], options: Options, store: Store, *, landing_dir: Path | None = None
) -> IngestResult:
    """Plan the runs, write the landing files and load them in one transaction."""
    warnings = [w for p in parsed for w in p.warnings]
    store.schema_version()  # applies migrations (read-only connections do not)
    remove_orphans(landing_dir or paths.landing_dir())  # what killed ingestions left unloaded
    plans = _plan(parsed, options, store, warnings)
    result = IngestResult(
        run_id=next(iter(plans)) if plans else "",
        run_ids=list(plans),
        formats=sorted({p.format for p in parsed}),
        warnings=warnings,
    )
    todo = [plan for plan in plans.values() if plan.parts]
    if not todo:
        return result
    stored = store.query(  # one query for every run (the API commits many at once)
        "SELECT run_id, suite, trigger, status FROM runs WHERE list_contains(?, run_id)",
        [[plan.run_id for plan in todo]],
    )
    rows = {row["run_id"]: row for row in stored.iter_rows(named=True)}
    for plan in todo:
        _check_existing(plan, store, options, rows.get(plan.run_id))
    now = datetime.now(UTC)
    # a joined run's statistics are stale: it is pending again, and analysed again, from the same commit
    reopen = {
        plan.run_id: sorted({key[0] for part in plan.parts for key in _keys(part, options)})
        for plan in todo
        if plan.exists
    }

    def write(root: Path) -> None:
        files: _Files = {}
        for plan in todo:
            _write_plan(plan, options, now, root, files)
        for file in files.values():
            file.close()

    _land_and_load(
        store,
        write,
        [plan.run_id for plan in todo],
        landing_dir,
        reopen=reopen,
    )
    result.created = [p.run_id for p in todo if not p.exists]
    result.samples = sum(_timed(part) for plan in todo for part in plan.parts)
    result.operations = len({key[1] for plan in todo for part in plan.parts for key in _keys(part, options)})
    batches = {part.data.batch_id for plan in todo for part in plan.parts if part.data.batch_id}
    result.batch_id = next(iter(batches)) if len(batches) == 1 else None
    # the code location offers ingested suites as partitions (bench_pipeline.ingest.catalogue)
    stored = store.query(
        f"SELECT DISTINCT suite, tool FROM samples WHERE run_id IN ({', '.join('?' for _ in todo)})",
        [plan.run_id for plan in todo],
    )
    suite_tools: dict[str, set[str]] = {}
    for suite, tool in stored.iter_rows():
        suite_tools.setdefault(suite, set()).add(tool)
    record_suites(suite_tools)
    return result


def _land_and_load(
    store: Store,
    write: Callable[[Path], Any],
    run_ids: list[str],
    landing_dir: Path | None,
    *,
    reopen: dict[str, list[str]] | None = None,
) -> None:
    """``write`` the landing files into a directory of their own, then load it (one transaction).

    On any failure the directory is removed, so nothing is left behind and nothing was loaded. The
    directory's name carries this process's id, so one left by a killed process is recognised and
    removed (``Store.load_landing`` → ``landing.remove_orphans``).
    """
    name = uuid.uuid4().hex
    root = (landing_dir or paths.landing_dir()) / INGEST_DIR / f"{TMP_PREFIX}{os.getpid()}-{name}"
    try:
        write(root)
        store.load_landing(root, reopen=reopen)
        root.rename(root.with_name(name))  # loaded: no longer a candidate for orphan removal
    except BaseException as exc:
        shutil.rmtree(root, ignore_errors=True)
        if isinstance(exc, StoreError) and "constraint" in str(exc).lower():
            raise IngestError(
                "the run was created by another ingestion at the same time; nothing was stored",
                where=", ".join(run_ids),
                fix="run the command again: it will join the run",
            ) from None
        if isinstance(exc, OSError):
            raise StoreError(
                f"cannot write the landing area: {exc}",
                where=str(root),
                fix="check free disk space and permissions of $BENCH_PIPELINE_HOME",
            ) from None
        raise


def link_batch(
    store: Store,
    batch_id: str,
    runs: list[tuple[str, str]],
    metadata: dict[str, Any] | None = None,
    *,
    landing_dir: Path | None = None,
) -> int:
    """Link already stored runs ``(run_id, suite)`` to a batch (those not linked yet); returns how many."""
    linked = set(
        store.query("SELECT run_id FROM batch_runs WHERE batch_id = ?", [batch_id])["run_id"].to_list()
    )
    now = datetime.now(UTC)
    todo = [(run_id, suite) for run_id, suite in runs if run_id not in linked]

    def write(root: Path) -> None:
        for run_id, suite in todo:
            row = {
                "batch_id": batch_id,
                "run_id": run_id,
                "suite": suite,
                "added_at": now,
                "metadata": _dumps(metadata) if metadata else None,
            }
            frame = pl.DataFrame([row], schema=BATCH_SCHEMA)
            write_landing(frame, root, run_id=run_id, kind="batches", suite=suite, tool="all")

    if todo:
        _land_and_load(store, write, [run_id for run_id, _ in todo], landing_dir)
    return len(todo)


def _plan(parsed: list[Parsed], options: Options, store: Store, warnings: list[str]) -> dict[str, _Plan]:
    """Group the sources' runs into target runs; drop sources already ingested into their run."""
    loose: list[_Part] = []  # data naming no run: they share one generated run id
    plans: dict[str, _Plan] = {}
    seen: dict[str, str] = {}  # identity -> source, so one file given twice is stored once
    for p in parsed:  # every time a source gives, whatever its format: the one rule, before any use
        for data in p.runs:
            for name in ("started_at", "finished_at"):
                if (value := getattr(data, name)) is not None:
                    setattr(data, name, checked_time(value, f"{p.source}: {name}"))
    named_by: dict[str, str] = {}  # run id named by the data -> the source naming it
    for p in parsed:
        identity = _identity(p, options)
        if identity in seen:
            warnings.append(f"{p.source} has the same content as {seen[identity]}; stored once")
            continue
        seen[identity] = p.source
        for data in p.runs:
            target = options.run_id or data.run_id
            if target is None:
                loose.append(_Part(p, data))
                continue
            check_name(target, f"{p.source}: run_id", fix="pass --run-id with a valid id", run_id=True)
            if options.run_id is None:  # a run the data names is one run: never two merged
                if target in named_by:
                    same = named_by[target] == p.source
                    raise IngestError(
                        f"run {target} appears twice in this file"
                        if same
                        else f"run {target} is named by {named_by[target]} and by {p.source}",
                        where=p.source,
                        fix="give each run its own run_id (pass --run-id to join them on purpose)",
                    )
                named_by[target] = p.source
            plan = plans.setdefault(target, _Plan(target))
            plan.named = options.run_id is None
            plan.parts.append(_Part(p, data))
    if loose:
        target = _previous_run(loose, store, options) or _generated_id(loose, options)
        plans.setdefault(target, _Plan(target)).parts.extend(loose)
    ingested = _ingested(store, list(plans))
    for plan in plans.values():
        plan.suite = _suite(plan, options)
        starts = [part.data.started_at for part in plan.parts if part.data.started_at]
        plan.started_at = options.started_at or (min(starts) if starts else plan.started_at)
        done = ingested.get(plan.run_id, set())
        kept = []
        for part in plan.parts:
            if _identity(part.parsed, options) in done:
                warnings.append(f"{part.parsed.source} was already ingested into run {plan.run_id}; skipped")
            else:
                kept.append(part)
        plan.parts = kept
        if kept and not options.started_at and not starts and options.trigger == "ingest":
            warnings.append(
                f"run {plan.run_id}: the data hold no start time; using now (pass --started-at to backfill)"
            )
    return plans


def _suite(plan: _Plan, options: Options) -> str:
    if options.suite:
        return options.suite
    named = {part.data.suite for part in plan.parts if part.data.suite}
    if len(named) > 1:
        raise IngestError(
            f"the sources of run {plan.run_id} name different suites: {', '.join(sorted(named))}",
            where=", ".join(sorted({part.parsed.source for part in plan.parts})),
            fix="pass --suite, or ingest them with different --run-id",
        )
    suite = named.pop() if named else plan.parts[0].parsed.format
    return check_name(suite, f"{plan.parts[0].parsed.source}: suite", fix="pass --suite NAME")


def _tool(part: _Part, sample: Sample | SampleBlock, options: Options) -> str:
    return options.tool or sample.tool or part.data.tool or part.parsed.format


def _keys(part: _Part, options: Options) -> set[tuple[str, str, str]]:
    """The cells (tool, operation, fixture) a part has samples of."""
    items: list[Sample | SampleBlock] = [*part.data.samples, *part.data.blocks]
    return {(_tool(part, s, options), s.operation, s.fixture) for s in items}


def _timed(part: _Part) -> int:
    return sum(1 for s in part.data.samples if s.wall_ns is not None) + sum(len(b) for b in part.data.blocks)


def _generated_id(parts: list[_Part], options: Options) -> str:
    """``YYYYMMDDTHHMMSSZ-<suite>-<6 hex>`` like local runs; the hex digits hash the sources."""
    starts = [p.data.started_at for p in parts if p.data.started_at]
    started = options.started_at or (min(starts) if starts else datetime.now(UTC))
    suite = (
        options.suite or next((p.data.suite for p in parts if p.data.suite), None) or parts[0].parsed.format
    )
    digest = hashlib.sha256(
        "\0".join([*sorted(p.parsed.sha256 for p in parts), suite, options.tool or ""]).encode()
    ).hexdigest()
    return f"{started.astimezone(UTC):%Y%m%dT%H%M%SZ}-{suite}-{digest[:6]}"


def identity_of(sha256: str, tool: str | None = None) -> str:
    """What makes two ingestions the same: the content, and the options that change what is stored."""
    return hashlib.sha256("\0".join([sha256, tool or ""]).encode()).hexdigest()


def _identity(parsed: Parsed, options: Options) -> str:
    return identity_of(parsed.sha256, options.tool)


def _previous_run(parts: list[_Part], store: Store, options: Options) -> str | None:
    """The run every one of these sources was already ingested into, if there is one."""
    shas = sorted({_identity(p.parsed, options) for p in parts})
    df = store.query(
        "SELECT run_id, count(DISTINCT identity) AS n FROM ingest_sources WHERE list_contains(?, identity) "
        "GROUP BY run_id ORDER BY run_id",
        [shas],
    )
    for row in df.iter_rows(named=True):
        if row["n"] == len(shas):
            return str(row["run_id"])
    return None


def _ingested(store: Store, run_ids: list[str]) -> dict[str, set[str]]:
    """The identities of the sources already ingested into each of ``run_ids``."""
    df = store.query("SELECT run_id, identity FROM ingest_sources WHERE list_contains(?, run_id)", [run_ids])
    found: dict[str, set[str]] = {}
    for run_id, identity in df.iter_rows():
        found.setdefault(run_id, set()).add(identity)
    return found


def _check_existing(plan: _Plan, store: Store, options: Options, row: dict[str, Any] | None) -> None:
    if row is None:
        return
    if row["trigger"] not in INGEST_TRIGGERS:
        raise IngestError(
            f"run {plan.run_id} already exists and was not ingested (trigger {row['trigger']!r})",
            where="run id",
            fix="pass --run-id with a new id to store these results as a run of their own",
        )
    if plan.named:
        raise IngestError(
            f"run {plan.run_id} already exists with different content; nothing was stored",
            where=", ".join(sorted({part.parsed.source for part in plan.parts})),
            fix="use a new run id for new results, or pass --run-id to add them to that run on purpose",
        )
    if row["suite"] != plan.suite:
        raise IngestError(
            f"run {plan.run_id} belongs to suite {row['suite']!r}, these results to {plan.suite!r}",
            where="run id",
            fix=f"pass --suite {row['suite']} to join it, or another --run-id",
        )
    plan.exists = True
    plan.round_offset = int(
        store.query(
            "SELECT coalesce(max(round) + 1, 0) AS r FROM samples WHERE run_id = ?", [plan.run_id]
        ).item(0, 0)
    )
    cells = store.query("SELECT tool, operation, fixture FROM run_cells WHERE run_id = ?", [plan.run_id])
    have = {(r["tool"], r["operation"], r["fixture"]) for r in cells.iter_rows(named=True)}
    for part in plan.parts:
        for key in _keys(part, options):
            if key in have:
                raise IngestError(
                    f"run {plan.run_id} already has results of tool {key[0]!r}, operation {key[1]!r}, "
                    f"fixture {key[2]!r}; adding more would mix two measurements",
                    where=part.parsed.source,
                    fix="ingest into another --run-id, or give these results another --tool",
                )


# ---------------------------------------------------------------------------------------- landing files
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


_Files = dict[tuple[str, str, str], "_Rows"]


def _write_plan(plan: _Plan, options: Options, now: datetime, root: Path, files: _Files) -> None:
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

    def cell_row(part: _Part, info: dict, sample: Sample | SampleBlock, key: tuple[str, str, str]) -> dict:
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
            "params": _dumps(ci.params) if ci and ci.params else None,
            "valid": None,
            "equivalence": None,
            "similarity": None,
            "_timed": 0,
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
            "summary": _dumps(ci.summary) if ci and ci.summary else None,
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
            tool = _tool(part, s, options)
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
                row["_timed"] += 1
                row["n_ok" if ok else "n_failed"] += 1
        for block in data.blocks:
            tool = _tool(part, block, options)
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
            row["_timed"] += n
            row["n_ok"] += n_ok
            row["n_failed"] += n - n_ok
        next_round = max(spare, base + (max(given) + 1 if given else 0))
        if next_round > INT32_MAX:
            raise IngestError(
                f"round numbers exceed {INT32_MAX}", where=parsed.source, fix="number rounds from 0"
            )
        identity = _identity(parsed, options)
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
                    "metadata": _dumps(data.batch_metadata) if data.batch_metadata else None,
                }
            )
    for row in cells.values():
        timed = row.pop("_timed")
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


def _run_row(plan: _Plan, options: Options, tools: list[str], fixtures: list[str]) -> dict[str, Any]:
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
        "host": _dumps({**host, "source": "external", "formats": formats}),
        "tool_versions": _dumps(versions),
        "settings": _dumps(
            {
                "ingest": {"formats": formats, "sources": [p.parsed.source for p in parts]},
                **({"metadata": metadata} if metadata else {}),
            }
        ),
        "tools": _dumps(tools),
        "sizes": _dumps(fixtures),
        "quick": False,
        "hostname": socket.gethostname(),
        "seconds": (max(finished, plan.started_at) - plan.started_at).total_seconds(),
        "message": f"ingested from {', '.join(formats)}",
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, sort_keys=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
