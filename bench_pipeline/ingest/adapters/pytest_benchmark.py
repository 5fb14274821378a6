"""pytest-benchmark ``--benchmark-json``: one operation per test (its ``fullname``).

Raw when the run used ``--benchmark-save-data``: ``stats.data`` holds one value per round (seconds
per iteration, each round ran ``stats.iterations`` iterations) → one sample per round. Otherwise only
statistics exist: the median is stored as a summary row. The median is also what is stored, with a
warning, when ``stats.data`` is incomplete: entries that are not numbers are skipped (a hand-edited
file may end the array with a note), and fewer (or more) values than ``stats.rounds`` means the
array is not the whole measurement (its median would not be the tool's). All of ``stats`` (min, max, mean, stddev,
quartiles, outlier counts, ops) goes to the cell's source summary; ``params`` to the cell's params;
``machine_info`` to the run's host, ``commit_info`` to its git commit, ``datetime`` to its start.
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
    Number,
    Parsed,
    RunData,
    Sample,
    exact_ns,
    json_number,
    ns_at,
    validation_error,
)
from bench_pipeline.ingest.source import Source
from bench_pipeline.timestamps import UtcTime

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
    data: list[Any] | None = None  # checked entry by entry: a non-number is skipped, not fatal


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
    started_at: UtcTime | None = Field(None, alias="datetime")
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
        values = _raw_values(stats, where, f"{src.name}: benchmarks[{index}].stats", warnings)
        if values:
            for i, seconds in values:
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
        run.cells.append(cell)
    without_data = [b for b in report.benchmarks if b.stats.data is None]
    if without_data:
        warnings.append(
            f"{src.name}: {len(without_data)} benchmark(s) without per-round data (run pytest with "
            "--benchmark-save-data to keep them); their medians are stored as summary rows"
        )
    return Parsed(NAME, src.name, src.sha256, [run], warnings)


def _raw_values(stats: Stats, where: str, label: str, warnings: list[str]) -> list[tuple[int, Decimal]]:
    """``(index, seconds)`` of ``stats.data``, or [] when the summary must be used instead (warned)."""
    if stats.data is None:
        return []
    values: list[tuple[int, Decimal]] = []
    skipped: list[int] = []
    for i, entry in enumerate(stats.data):
        try:
            value = json_number(entry)
        except ValueError:
            skipped.append(i)
            continue
        if value < 0:
            raise IngestError("time must not be negative", where=f"{where}.data[{i}]", fix=FIX)
        values.append((i, value))
    if skipped:
        shown = ", ".join(f"[{i}] {stats.data[i]!r}"[:60] for i in skipped[:3])
        warnings.append(
            f"{label}.data: {len(skipped)} entr{'y is' if len(skipped) == 1 else 'ies are'} not a number "
            f"({shown}{', …' if len(skipped) > 3 else ''}); skipped"
        )
    if len(values) != stats.rounds:
        warnings.append(
            f"{label}.data: {len(values)} value(s) for {stats.rounds} rounds: the raw values are "
            "incomplete, so the tool's own median is stored as a summary row"
        )
        return []
    return values


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
