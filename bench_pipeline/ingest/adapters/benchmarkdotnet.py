"""C# BenchmarkDotNet JSON exports (``[JsonExporterAttribute.Full]``, ``--exporters json``):
``BenchmarkDotNet.Artifacts/results/*-report*.json``.

Format (dotnet/BenchmarkDotNet ``Exporters/Json/JsonExporterBase.cs``): ``Title``,
``HostEnvironmentInfo`` (BenchmarkDotNet and runtime versions, CPU, OS) and ``Benchmarks``, each
with ``FullName``, ``Namespace``/``Type``/``Method``, ``Parameters`` (``A=1&B=x``), ``Statistics``
(``OriginalValues``: the nanoseconds per operation of every workload iteration of the actual
measurement, overhead already subtracted; ``N``, ``Mean``, ``Median``, quartiles, …) and, with the
memory diagnoser, ``Memory`` (``BytesAllocatedPerOperation``, GC counts). Each of
``OriginalValues`` is one **raw** sample; without them (an export that left them out) the median is
a **summary** row. ``BytesAllocatedPerOperation`` is metric ``bytes_allocated_per_op`` of every
sample (one value per benchmark: constant). A benchmark whose ``Statistics`` is null did not run
(build or runtime error): a failed sample. The operation is ``FullName``; the same benchmark run by
several jobs (runtimes) is told apart by its ``DisplayInfo``. Detection: an object with a
``Benchmarks`` list and ``HostEnvironmentInfo``.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest.model import (
    CellInfo,
    Label,
    NonNegNumber,
    Parsed,
    RunData,
    Sample,
    exact_ns,
    ns_at,
    validation_error,
)
from bench_pipeline.ingest.source import Source

NAME = "benchmarkdotnet"
FIX = "pass a BenchmarkDotNet JSON report (BenchmarkDotNet.Artifacts/results/*-report-full.json)"
SUMMARY_KEYS = ("N", "Min", "Q1", "Median", "Mean", "Q3", "Max", "StandardDeviation", "StandardError")


class StatisticsModel(BaseModel):
    model_config = ConfigDict(extra="allow")

    OriginalValues: list[NonNegNumber] | None = None
    N: int | None = None
    Median: NonNegNumber | None = None
    Mean: NonNegNumber | None = None


class MemoryModel(BaseModel):
    model_config = ConfigDict(extra="allow")

    BytesAllocatedPerOperation: NonNegNumber | None = None


class Benchmark(BaseModel):
    model_config = ConfigDict(extra="allow")

    DisplayInfo: str | None = None
    Namespace: str | None = None
    Type: str | None = None
    Method: str | None = None
    Parameters: str | None = None
    FullName: Label
    Statistics: StatisticsModel | None = None
    Memory: MemoryModel | None = None


class Report(BaseModel):
    model_config = ConfigDict(extra="allow")

    Title: str | None = None
    HostEnvironmentInfo: dict[str, Any] = Field(default_factory=dict)
    Benchmarks: list[Benchmark]


def detect(src: Source) -> bool:
    doc = src.json_doc()
    return isinstance(doc, dict) and isinstance(doc.get("Benchmarks"), list) and "HostEnvironmentInfo" in doc


def parse(src: Source) -> Parsed:
    try:
        report = Report.model_validate(src.json)
    except ValidationError as exc:
        raise validation_error(exc, src.where, fix=FIX) from None
    host = _plain(src.json.get("HostEnvironmentInfo") or {})
    version = host.get("BenchmarkDotNetVersion")
    run = RunData(
        host={"benchmarkdotnet": host},
        tool_versions={"benchmarkdotnet": version} if isinstance(version, str) else {},
        metadata={"title": report.Title} if report.Title else {},
    )
    warnings: list[str] = []
    names = Counter(b.FullName for b in report.Benchmarks)
    for index, bench in enumerate(report.Benchmarks):
        where = f"{src.where}: Benchmarks[{index}]"
        operation = bench.FullName
        if names[bench.FullName] > 1 and bench.DisplayInfo:
            operation = bench.DisplayInfo
        base = ".".join(p for p in (bench.Namespace, bench.Type, bench.Method) if p) or None
        params = (
            dict(p.split("=", 1) for p in bench.Parameters.split("&") if "=" in p)
            if bench.Parameters
            else None
        )
        raw_stats = (src.json["Benchmarks"][index] or {}).get("Statistics") or {}
        cell = CellInfo(
            operation=operation,
            source_name=bench.FullName,
            base_operation=base if params else None,
            params=params,
            summary={
                f"{k.lower()}_ns" if k not in ("N",) else "n": _plain(raw_stats[k])
                for k in SUMMARY_KEYS
                if k in raw_stats
            },
        )
        if bench.Memory is not None:
            cell.summary["memory"] = _plain((src.json["Benchmarks"][index] or {}).get("Memory"))
        allocated = bench.Memory.BytesAllocatedPerOperation if bench.Memory is not None else None
        stats = bench.Statistics
        if stats is None:
            run.samples.append(Sample(operation=operation, wall_ns=0, exit_code=1, ok=False))
            warnings.append(
                f"{src.name}: {bench.FullName!r} has no statistics (it did not run): a failed sample"
            )
        elif stats.OriginalValues:
            for i, value in enumerate(stats.OriginalValues):
                run.samples.append(
                    _sample(operation, value, allocated, f"{where}.Statistics.OriginalValues[{i}]")
                )
            cell.n_source = len(stats.OriginalValues)
        else:
            point = stats.Median if stats.Median is not None else stats.Mean
            if point is None:
                raise IngestError("Statistics has no OriginalValues, Median or Mean", where=where, fix=FIX)
            run.samples.append(_sample(operation, point, allocated, f"{where}.Statistics"))
            cell.kind, cell.statistic = "summary", "median" if stats.Median is not None else "mean"
            cell.n_source = stats.N
            warnings.append(
                f"{src.name}: {bench.FullName!r} has no OriginalValues; its {cell.statistic} is stored as a summary row"
            )
        run.cells.append(cell)
    if not run.samples:
        raise IngestError("no benchmarks", where=src.where, fix=FIX)
    return Parsed(NAME, src.name, src.sha256, [run], warnings)


def _sample(operation: str, value: Decimal, allocated: Decimal | None, where: str) -> Sample:
    sample = Sample(operation=operation, wall_ns=ns_at(value, "ns", where, FIX))
    sample.add_exact(exact_ns(value, "ns"))
    sample.add("bytes_allocated_per_op", allocated, "bytes")
    return sample


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    return value
