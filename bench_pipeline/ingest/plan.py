"""Planning an ingestion: which run each parsed source goes to (new, joined or refused), the
suite and tool names, identities for idempotency, and the checks against what is stored
(``load.py`` runs the plan, ``write.py`` writes it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest.model import (
    Parsed,
    RunData,
    Sample,
    SampleBlock,
    check_name,
)
from bench_pipeline.store import Store
from bench_pipeline.timestamps import FIX as TIME_FIX
from bench_pipeline.timestamps import TimestampError, check_time


@dataclass
class Options:
    suite: str | None = None
    tool: str | None = None
    run_id: str | None = None
    started_at: datetime | None = None
    trigger: str = "ingest"


@dataclass
class Part:
    """One source's data for one run."""

    parsed: Parsed
    data: RunData


@dataclass
class RunPlan:
    run_id: str
    parts: list[Part] = field(default_factory=list)
    suite: str = ""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    exists: bool = False
    round_offset: int = 0
    named: bool = False  # the data named this run (not --run-id): it may not join a stored run


INGEST_TRIGGERS = ("ingest", "api")


def checked_time(value: datetime, where: str) -> datetime:
    """The one timestamp rule (``bench_pipeline.timestamps``) as an IngestError naming ``where``."""
    try:
        return check_time(value)
    except TimestampError as exc:
        raise IngestError(str(exc), where=where, fix=TIME_FIX) from None


def plan_runs(
    parsed: list[Parsed], options: Options, store: Store, warnings: list[str]
) -> dict[str, RunPlan]:
    """Group the sources' runs into target runs; drop sources already ingested into their run."""
    loose: list[Part] = []  # data naming no run: they share one generated run id
    plans: dict[str, RunPlan] = {}
    seen: dict[str, str] = {}  # identity -> source, so one file given twice is stored once
    for p in parsed:  # every time a source gives, whatever its format: the one rule, before any use
        for data in p.runs:
            for name in ("started_at", "finished_at"):
                if (value := getattr(data, name)) is not None:
                    setattr(data, name, checked_time(value, f"{p.source}: {name}"))
    named_by: dict[str, str] = {}  # run id named by the data -> the source naming it
    for p in parsed:
        identity = source_identity(p, options)
        if identity in seen:
            warnings.append(f"{p.source} has the same content as {seen[identity]}; stored once")
            continue
        seen[identity] = p.source
        for data in p.runs:
            target = options.run_id or data.run_id
            if target is None:
                loose.append(Part(p, data))
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
            plan = plans.setdefault(target, RunPlan(target))
            plan.named = options.run_id is None
            plan.parts.append(Part(p, data))
    if loose:
        target = _previous_run(loose, store, options) or _generated_id(loose, options)
        plans.setdefault(target, RunPlan(target)).parts.extend(loose)
    ingested = _ingested(store, list(plans))
    for plan in plans.values():
        plan.suite = suite_of(plan, options)
        starts = [part.data.started_at for part in plan.parts if part.data.started_at]
        plan.started_at = options.started_at or (min(starts) if starts else plan.started_at)
        done = ingested.get(plan.run_id, set())
        kept = []
        for part in plan.parts:
            if source_identity(part.parsed, options) in done:
                warnings.append(f"{part.parsed.source} was already ingested into run {plan.run_id}; skipped")
            else:
                kept.append(part)
        plan.parts = kept
        if kept and not options.started_at and not starts and options.trigger == "ingest":
            warnings.append(
                f"run {plan.run_id}: the data hold no start time; using now (pass --started-at to backfill)"
            )
    return plans


def suite_of(plan: RunPlan, options: Options) -> str:
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


def tool_of(part: Part, sample: Sample | SampleBlock, options: Options) -> str:
    return options.tool or sample.tool or part.data.tool or part.parsed.format


def cell_keys(part: Part, options: Options) -> set[tuple[str, str, str]]:
    """The cells (tool, operation, fixture) a part has samples of."""
    items: list[Sample | SampleBlock] = [*part.data.samples, *part.data.blocks]
    return {(tool_of(part, s, options), s.operation, s.fixture) for s in items}


def timed_count(part: Part) -> int:
    return sum(1 for s in part.data.samples if s.wall_ns is not None) + sum(len(b) for b in part.data.blocks)


def _generated_id(parts: list[Part], options: Options) -> str:
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


def source_identity(parsed: Parsed, options: Options) -> str:
    return identity_of(parsed.sha256, options.tool)


def _previous_run(parts: list[Part], store: Store, options: Options) -> str | None:
    """The run every one of these sources was already ingested into, if there is one."""
    shas = sorted({source_identity(p.parsed, options) for p in parts})
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


def check_existing(plan: RunPlan, store: Store, options: Options, row: dict[str, Any] | None) -> None:
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
        for key in cell_keys(part, options):
            if key in have:
                raise IngestError(
                    f"run {plan.run_id} already has results of tool {key[0]!r}, operation {key[1]!r}, "
                    f"fixture {key[2]!r}; adding more would mix two measurements",
                    where=part.parsed.source,
                    fix="ingest into another --run-id, or give these results another --tool",
                )
