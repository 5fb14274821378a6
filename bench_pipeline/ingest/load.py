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
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, Field

from bench_pipeline import paths
from bench_pipeline.errors import IngestError, StoreError
from bench_pipeline.ingest.adapters import ADAPTERS, FORMATS
from bench_pipeline.ingest.catalogue import record_suites
from bench_pipeline.ingest.model import (
    Parsed,
    check_name,
)
from bench_pipeline.ingest.payload import RunIn, to_run_data
from bench_pipeline.ingest.plan import (
    Options,
    cell_keys,
    check_existing,
    checked_time,
    plan_runs,
    timed_count,
)
from bench_pipeline.ingest.source import Source
from bench_pipeline.ingest.write import BATCH_SCHEMA, LandingFiles, dumps, write_plan
from bench_pipeline.store import Store
from bench_pipeline.store.landing import TMP_PREFIX, remove_orphans, write_landing

INGEST_DIR = ".ingest"  # under the landing area; never mistaken for a run directory (ids start alnum)


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


# ---------------------------------------------------------------------------------------- storing
def store_parsed(
    parsed: list[Parsed], options: Options, store: Store, *, landing_dir: Path | None = None
) -> IngestResult:
    """Plan the runs, write the landing files and load them in one transaction."""
    warnings = [w for p in parsed for w in p.warnings]
    store.schema_version()  # applies migrations (read-only connections do not)
    remove_orphans(landing_dir or paths.landing_dir())  # what killed ingestions left unloaded
    plans = plan_runs(parsed, options, store, warnings)
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
        check_existing(plan, store, options, rows.get(plan.run_id))
    now = datetime.now(UTC)
    # a joined run's statistics are stale: it is pending again, and analysed again, from the same commit
    reopen = {
        plan.run_id: sorted({key[0] for part in plan.parts for key in cell_keys(part, options)})
        for plan in todo
        if plan.exists
    }

    def write(root: Path) -> None:
        files: LandingFiles = {}
        for plan in todo:
            write_plan(plan, options, now, root, files)
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
    result.samples = sum(timed_count(part) for plan in todo for part in plan.parts)
    result.operations = len(
        {key[1] for plan in todo for part in plan.parts for key in cell_keys(part, options)}
    )
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
                "metadata": dumps(metadata) if metadata else None,
            }
            frame = pl.DataFrame([row], schema=BATCH_SCHEMA)
            write_landing(frame, root, run_id=run_id, kind="batches", suite=suite, tool="all")

    if todo:
        _land_and_load(store, write, [run_id for run_id, _ in todo], landing_dir)
    return len(todo)
