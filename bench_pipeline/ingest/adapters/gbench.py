"""Google Benchmark ``--benchmark_format=json`` (C++ library or its Python bindings).

One operation per ``run_name`` (``BM_x/8``; ``base_operation`` is the family name, ``params`` the
``/``-separated arguments). Raw: every ``run_type: iteration`` entry (each repetition) is one sample
of ``real_time`` per iteration (``time_unit`` → ns; metrics ``iterations``, ``cpu_ns``,
``wall_ns_exact``, user counters such as ``items_per_second`` under their own names). Aggregates
(mean, median, stddev, cv) are recomputed here, so they only go to the cell's source summary —
unless the file has nothing else (``--benchmark_report_aggregates_only``): then the median (or mean)
aggregate is stored as a summary row. Errored benchmarks (``error_occurred``) become failed samples.
``context`` (host, CPU, caches, load, library version) goes to the run's host; ``date`` to its start
(a ``date`` without a UTC offset, as some versions write, is taken as UTC with a warning).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest.model import (
    CellInfo,
    Label,
    NonNegInt,
    NonNegNumber,
    Parsed,
    RunData,
    Sample,
    exact_ns,
    ns_at,
    validation_error,
)
from bench_pipeline.ingest.source import Source

NAME = "gbench"
FIX = (
    "pass the output of a Google Benchmark binary run with --benchmark_format=json (or --benchmark_out=FILE)"
)
KNOWN = {
    "name",
    "family_index",
    "per_family_instance_index",
    "run_name",
    "run_type",
    "repetitions",
    "repetition_index",
    "threads",
    "iterations",
    "real_time",
    "cpu_time",
    "time_unit",
    "aggregate_name",
    "aggregate_unit",
    "label",
    "error_occurred",
    "error_message",
    "big_o",
    "rms",
}


class Context(BaseModel):
    model_config = ConfigDict(extra="allow")

    date: datetime | None = None
    host_name: str | None = None
    executable: str | None = None
    library_version: str | None = None


class Entry(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: Label
    run_name: Label | None = None
    run_type: str = "iteration"
    repetitions: NonNegInt | None = None
    repetition_index: NonNegInt | None = None
    threads: NonNegInt = 1
    iterations: NonNegNumber = Decimal(1)
    real_time: NonNegNumber | None = None
    cpu_time: NonNegNumber | None = None
    time_unit: str = "ns"
    aggregate_name: str | None = None
    aggregate_unit: str | None = None
    label: str | None = None
    error_occurred: bool = False
    error_message: str | None = None


class Report(BaseModel):
    model_config = ConfigDict(extra="allow")

    context: Context = Field(default_factory=Context)
    benchmarks: list[Entry]


def detect(src: Source) -> bool:
    doc = src.json_doc()
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("benchmarks"), list)
        and isinstance(doc.get("context"), dict)
    )


def parse(src: Source) -> Parsed:
    try:
        report = Report.model_validate(src.json)
    except ValidationError as exc:
        raise validation_error(exc, src.where, fix=FIX) from None
    ctx = report.context
    warnings = []
    started = ctx.date
    if started is not None and started.utcoffset() is None:
        started = started.replace(tzinfo=UTC)
        warnings.append(
            f"{src.name}: context.date {src.json['context'].get('date')!r} has no timezone; taken as UTC "
            "(pass --started-at to give the run's start)"
        )
    run = RunData(
        started_at=started,
        host={"context": _plain(src.json.get("context", {}))},
        tool_versions={"google-benchmark": ctx.library_version} if ctx.library_version else {},
    )
    cells: dict[str, CellInfo] = {}
    aggregates: dict[str, dict[str, Entry]] = {}
    samples: dict[str, list[Sample]] = {}
    for index, entry in enumerate(report.benchmarks):
        where = f"{src.where}: benchmarks[{index}]"
        op = entry.run_name or entry.name
        if op not in cells:
            family, *args = op.split("/")
            cells[op] = CellInfo(
                operation=op,
                source_name=op,
                base_operation=family if args else None,
                params={"args": "/".join(args)} if args else None,
                summary={"threads": entry.threads, **({"label": entry.label} if entry.label else {})},
            )
        if entry.run_type == "aggregate":
            aggregates.setdefault(op, {})[entry.aggregate_name or entry.name] = entry
            continue
        samples.setdefault(op, []).append(_sample(op, entry, where))
    for op, cell in cells.items():
        aggs = aggregates.get(op, {})
        cell.summary.update(_aggregate_summary(aggs))
        if samples.get(op):
            run.samples.extend(samples[op])
            cell.n_source = len(samples[op])
        else:
            chosen = aggs.get("median") or aggs.get("mean")
            if chosen is None:
                raise IngestError(
                    f"benchmark {op!r} has no iteration or median/mean entries", where=src.where, fix=FIX
                )
            sample = _sample(op, chosen, f"{src.where}: {chosen.name}")
            run.samples.append(sample)
            cell.kind, cell.statistic = "summary", chosen.aggregate_name
            cell.n_source = chosen.repetitions
            warnings.append(
                f"{src.name}: {op!r} has only aggregates; its {chosen.aggregate_name} is stored as a summary row"
            )
        run.cells.append(cell)
    return Parsed(NAME, src.name, src.sha256, [run], warnings)


def _sample(op: str, entry: Entry, where: str) -> Sample:
    if entry.error_occurred or entry.real_time is None:
        sample = Sample(operation=op, wall_ns=0, exit_code=1, ok=False)
        return sample
    unit = entry.time_unit
    sample = Sample(operation=op, wall_ns=ns_at(entry.real_time, unit, f"{where}.real_time", FIX))
    sample.add_exact(exact_ns(entry.real_time, unit))
    sample.add("iterations", entry.iterations, "count")
    if entry.cpu_time is not None:
        sample.add("cpu_ns", exact_ns(entry.cpu_time, unit), "ns")
    for key, value in (entry.model_extra or {}).items():
        if key in KNOWN or isinstance(value, bool) or not isinstance(value, int | Decimal):
            continue
        sample.add(key, value, "per_second" if key.endswith("_per_second") else None)
    return sample


def _aggregate_summary(aggs: dict[str, Entry]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, entry in aggs.items():
        if entry.real_time is None:
            continue
        if entry.aggregate_unit == "percentage":
            out[f"{name}_real"] = float(entry.real_time)
        else:
            out[f"{name}_real_ns"] = float(exact_ns(entry.real_time, entry.time_unit))
            if entry.cpu_time is not None:
                out[f"{name}_cpu_ns"] = float(exact_ns(entry.cpu_time, entry.time_unit))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    return value
