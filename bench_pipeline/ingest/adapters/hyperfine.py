"""hyperfine ``--export-json``: one operation per command, one sample per timed run.

Kept raw: ``times`` (s → ns), ``exit_codes``, ``memory_usage_byte`` (hyperfine ≥ 1.19, → peak RSS).
hyperfine reports user and system time only as means per command: they go to the cell's
source summary, not to samples. With ``--parameter-scan``/``-L`` the parameter values become the
cell's ``params``; two results with the same command name are told apart by them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest.model import (
    CellInfo,
    ExitCode,
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

NAME = "hyperfine"
FIX = "pass the file written by `hyperfine --export-json FILE`"


class Result(BaseModel):
    model_config = ConfigDict(extra="allow")

    command: Label
    mean: NonNegNumber | None = None
    stddev: NonNegNumber | None = None
    median: NonNegNumber | None = None
    user: NonNegNumber | None = None
    system: NonNegNumber | None = None
    min: NonNegNumber | None = None
    max: NonNegNumber | None = None
    times: list[NonNegNumber] | None = None
    exit_codes: list[ExitCode | None] | None = None
    memory_usage_byte: list[NonNegInt] | None = None
    parameters: dict[str, str] | None = None


class Export(BaseModel):
    model_config = ConfigDict(extra="allow")

    results: list[Result] = Field(min_length=1)


def detect(src: Source) -> bool:
    doc = src.json_doc()
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("results"), list)
        and bool(doc["results"])
        and all(isinstance(r, dict) and "command" in r for r in doc["results"])
    )


def parse(src: Source) -> Parsed:
    try:
        export = Export.model_validate(src.json)
    except ValidationError as exc:
        raise validation_error(exc, src.where, fix=FIX) from None
    run = RunData()
    warnings: list[str] = []
    names = [r.command for r in export.results]
    for index, result in enumerate(export.results):
        where = f"{src.where}: results[{index}]"
        operation = result.command
        if result.parameters and names.count(result.command) > 1:
            operation += "[" + ",".join(f"{k}={v}" for k, v in sorted(result.parameters.items())) + "]"
        cell = CellInfo(
            operation=operation,
            source_name=result.command,
            base_operation=result.command,
            params=dict(result.parameters) if result.parameters else None,
            summary=_summary(result),
        )
        if result.times:
            n = len(result.times)
            for field, values in (
                ("exit_codes", result.exit_codes),
                ("memory_usage_byte", result.memory_usage_byte),
            ):
                if values is not None and len(values) != n:
                    raise IngestError(
                        f"{field} has {len(values)} entries but times has {n}",
                        where=f"{where}.{field}",
                        fix=FIX,
                    )
            for i, seconds in enumerate(result.times):
                code = result.exit_codes[i] if result.exit_codes else 0
                run.samples.append(
                    Sample(
                        operation=operation,
                        wall_ns=ns_at(seconds, "s", f"{where}.times[{i}]", FIX),
                        peak_rss_bytes=result.memory_usage_byte[i] if result.memory_usage_byte else None,
                        exit_code=-1 if code is None else code,  # null: killed by a signal
                    )
                )
            cell.n_source = n
        else:
            statistic = "median" if result.median is not None else "mean"
            value = result.median if result.median is not None else result.mean
            if value is None:
                raise IngestError("no times, median or mean", where=where, fix=FIX)
            cell.kind, cell.statistic = "summary", statistic
            run.samples.append(
                Sample(operation=operation, wall_ns=ns_at(value, "s", f"{where}.{statistic}", FIX))
            )
            warnings.append(
                f"{src.name}: {result.command!r} has no per-run times; its {statistic} is stored as a summary row"
            )
        run.cells.append(cell)
    return Parsed(NAME, src.name, src.sha256, [run], warnings)


def _summary(result: Result) -> dict[str, Any]:
    stats = {
        "mean": result.mean,
        "stddev": result.stddev,
        "median": result.median,
        "min": result.min,
        "max": result.max,
        "user_mean": result.user,
        "system_mean": result.system,
    }
    return {f"{k}_ns": float(exact_ns(v)) for k, v in stats.items() if v is not None}
