"""pytest-benchmark ``--benchmark-json``: one operation per test (its ``fullname``).

Raw when the run used ``--benchmark-save-data``: ``stats.data`` holds one value per round (seconds
per iteration, each round ran ``stats.iterations`` iterations) → one sample per round. Otherwise only
statistics exist: the median is stored as a summary row. All of ``stats`` (min, max, mean, stddev,
quartiles, outlier counts, ops) goes to the cell's source summary; ``params`` to the cell's params;
``machine_info`` to the run's host, ``commit_info`` to its git commit, ``datetime`` to its start.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench_pipeline.ingest.model import (
    CellInfo,
    Label,
    NonNegInt,
    NonNegNumber,
    Number,
    Parsed,
    RunData,
    Sample,
    exact_ns,
    ns_at,
    validation_error,
)
from bench_pipeline.ingest.source import Source

NAME = "pytest-benchmark"
FIX = (
    "pass the file written by `pytest --benchmark-json=FILE` (add --benchmark-save-data to keep every round)"
)


class Stats(BaseModel):
    model_config = ConfigDict(extra="allow")

    min: NonNegNumber
    max: NonNegNumber
    mean: NonNegNumber
    stddev: NonNegNumber | None = None
    rounds: NonNegInt
    median: NonNegNumber
    iqr: NonNegNumber | None = None
    q1: NonNegNumber | None = None
    q3: NonNegNumber | None = None
    ops: Number | None = None
    total: NonNegNumber | None = None
    iterations: NonNegInt = 1
    data: list[NonNegNumber] | None = None


class Benchmark(BaseModel):
    model_config = ConfigDict(extra="allow")

    group: str | None = None
    name: Label
    fullname: Label
    params: dict[str, Any] | None = None
    extra_info: dict[str, Any] = Field(default_factory=dict)
    stats: Stats


class Report(BaseModel):
    model_config = ConfigDict(extra="allow")

    machine_info: dict[str, Any] = Field(default_factory=dict)
    commit_info: dict[str, Any] = Field(default_factory=dict)
    benchmarks: list[Benchmark]
    started_at: datetime | None = Field(None, alias="datetime")
    version: str | None = None


def detect(src: Source) -> bool:
    doc = src.json_doc()
    return isinstance(doc, dict) and isinstance(doc.get("benchmarks"), list) and "machine_info" in doc


def parse(src: Source) -> Parsed:
    try:
        report = Report.model_validate(src.json)
    except ValidationError as exc:
        raise validation_error(exc, src.where, fix=FIX) from None
    commit = report.commit_info.get("id")
    run = RunData(
        started_at=report.started_at,
        host={"machine_info": report.machine_info},
        tool_versions={"pytest-benchmark": report.version} if report.version else {},
        git_commit=commit if isinstance(commit, str) else None,
    )
    warnings: list[str] = []
    summaries_only = []
    for index, bench in enumerate(report.benchmarks):
        where = f"{src.where}: benchmarks[{index}].stats"
        stats = bench.stats
        cell = CellInfo(
            operation=bench.fullname,
            source_name=bench.fullname,
            category=bench.group,
            base_operation=bench.fullname.split("[", 1)[0] if bench.params else None,
            params={k: _plain(v) for k, v in bench.params.items()} if bench.params else None,
            n_source=stats.rounds,
            summary=_summary(stats, bench.extra_info),
        )
        if stats.data:
            for i, seconds in enumerate(stats.data):
                sample = Sample(
                    operation=bench.fullname, wall_ns=ns_at(seconds, "s", f"{where}.data[{i}]", FIX)
                )
                sample.add("iterations", stats.iterations, "count")
                sample.add_exact(exact_ns(seconds))
                run.samples.append(sample)
        else:
            sample = Sample(
                operation=bench.fullname, wall_ns=ns_at(stats.median, "s", f"{where}.median", FIX)
            )
            sample.add_exact(exact_ns(stats.median))
            run.samples.append(sample)
            cell.kind, cell.statistic = "summary", "median"
            summaries_only.append(bench.fullname)
        run.cells.append(cell)
    if summaries_only:
        warnings.append(
            f"{src.name}: {len(summaries_only)} benchmark(s) without per-round data (run pytest with "
            "--benchmark-save-data to keep them); their medians are stored as summary rows"
        )
    return Parsed(NAME, src.name, src.sha256, [run], warnings)


def _plain(value: Any) -> Any:
    return float(value) if hasattr(value, "as_tuple") else value


def _summary(stats: Stats, extra_info: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("min", "max", "mean", "stddev", "median", "iqr", "q1", "q3", "total"):
        value = getattr(stats, key)
        if value is not None:
            out[f"{key}_ns"] = float(exact_ns(value))
    out["rounds"] = stats.rounds
    out["iterations"] = stats.iterations
    if stats.ops is not None:
        out["ops"] = float(stats.ops)
    for key in ("iqr_outliers", "stddev_outliers", "outliers"):
        if key in (stats.model_extra or {}):
            out[key] = stats.model_extra[key]  # type: ignore[index]
    if extra_info:
        out["extra_info"] = _jsonable(extra_info)
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return _plain(value)
