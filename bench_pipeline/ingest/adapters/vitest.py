"""Vitest bench ``vitest bench --outputJson FILE``: files → groups → benchmarks (tinybench results).

Format (vitest ``packages/vitest/src/node/reporters/benchmark/json-formatter.ts``): ``files[]``
{``filepath``, ``groups[]`` {``fullName`` (``file > describe``), ``benchmarks[]``}}; a benchmark has
``name``, ``rank``, ``sampleCount``, ``hz``, ``mean``, ``median``, ``min``, ``max``, ``p75``, ``p99``,
``p995``, ``p999``, ``rme``, ``sd`` and ``samples``, all times in **milliseconds**. ``samples`` holds
each measured iteration's time only with ``benchmark.includeSamples``; then each is one **raw**
sample. Otherwise (the default: ``samples: []``) the median (else the mean) is a **summary** row.
The operation is ``group > name`` (the group's full name keeps the file and ``describe``
blocks); the group is the cell's category. Detection: an object with a ``files`` list whose entries
have ``groups``.
"""

from __future__ import annotations

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

NAME = "vitest"
FIX = "pass the file written by `vitest bench --outputJson FILE`"
SUMMARY = ("hz", "mean", "median", "min", "max", "p75", "p99", "p995", "p999", "sd", "rme", "totalTime")


class Bench(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: Label
    sampleCount: NonNegInt | None = None  # noqa: N815
    mean: NonNegNumber | None = None
    median: NonNegNumber | None = None
    samples: list[NonNegNumber] = Field(default_factory=list)


class Group(BaseModel):
    model_config = ConfigDict(extra="allow")

    fullName: Label  # noqa: N815
    benchmarks: list[Bench]


class File(BaseModel):
    model_config = ConfigDict(extra="allow")

    filepath: str | None = None
    groups: list[Group]


class Report(BaseModel):
    model_config = ConfigDict(extra="allow")

    files: list[File]


def detect(src: Source) -> bool:
    doc = src.json_doc()
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("files"), list)
        and bool(doc["files"])
        and all(isinstance(f, dict) and isinstance(f.get("groups"), list) for f in doc["files"])
    )


def parse(src: Source) -> Parsed:
    try:
        report = Report.model_validate(src.json)
    except ValidationError as exc:
        raise validation_error(exc, src.where, fix=FIX) from None
    run = RunData()
    summaries = 0
    for fi, file in enumerate(report.files):
        for gi, group in enumerate(file.groups):
            for bi, bench in enumerate(group.benchmarks):
                where = f"{src.where}: files[{fi}].groups[{gi}].benchmarks[{bi}]"
                operation = f"{group.fullName} > {bench.name}"
                raw: dict[str, Any] = src.json["files"][fi]["groups"][gi]["benchmarks"][bi]
                cell = CellInfo(
                    operation=operation,
                    source_name=bench.name,
                    category=group.fullName,
                    n_source=bench.sampleCount,
                    summary={k: float(raw[k]) for k in SUMMARY if isinstance(raw.get(k), int | Decimal)},
                )
                if bench.samples:
                    for i, ms in enumerate(bench.samples):
                        run.samples.append(_sample(operation, ms, f"{where}.samples[{i}]"))
                    cell.n_source = len(bench.samples)
                else:
                    value = bench.median if bench.median is not None else bench.mean
                    if value is None:
                        raise IngestError("no samples, median or mean", where=where, fix=FIX)
                    run.samples.append(_sample(operation, value, f"{where}.median"))
                    cell.kind, cell.statistic = "summary", "median" if bench.median is not None else "mean"
                    summaries += 1
                run.cells.append(cell)
    if not run.samples:
        raise IngestError("no benchmarks", where=src.where, fix=FIX)
    warnings = (
        [
            f"{src.name}: {summaries} benchmark(s) without samples (set benchmark.includeSamples to keep "
            "them); their medians are stored as summary rows"
        ]
        if summaries
        else []
    )
    return Parsed(NAME, src.name, src.sha256, [run], warnings)


def _sample(operation: str, ms: Decimal, where: str) -> Sample:
    sample = Sample(operation=operation, wall_ns=ns_at(ms, "ms", where, FIX))
    sample.add_exact(exact_ns(ms, "ms"))
    return sample
