"""hyperfine ``--export-json``: one operation per command, one sample per timed run.

Kept raw: ``times`` (s → ns), ``exit_codes``, ``memory_usage_byte`` (hyperfine ≥ 1.19, → peak RSS).
hyperfine reports user and system time only as means per command: they go to the cell's
source summary, not to samples. With ``--parameter-scan``/``-L`` the parameter values become the
cell's ``params``; two results with the same command name are told apart by them, and when they
have none (or the same), the repeats are stored as ``COMMAND #2``, ``#3``, … with a warning — never
merged into one cell.

The file is read incrementally (``Source.json_events``): ``times``, ``exit_codes`` and
``memory_usage_byte`` go straight into 8-byte arrays (a :class:`SampleBlock` per command), so a file
of millions of runs takes tens of MB, not tens of GB.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ijson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest.model import (
    INT64_MAX,
    CellInfo,
    ExitCode,
    Label,
    NonNegInt,
    NonNegNumber,
    Parsed,
    RunData,
    SampleBlock,
    exact_ns,
    json_number,
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


ARRAYS = ("times", "exit_codes", "memory_usage_byte")


@dataclass
class _Streamed:
    """One element of ``results``: its small fields as parsed, its arrays as 8-byte columns."""

    fields: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, array] = field(default_factory=dict)


def _item(name: str, value: Any, where: str, source: str) -> int:
    """One value of a streamed array, checked as the model checks it (messages included)."""
    if name == "times":
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise IngestError(f"{where}: expected a number", where=source, fix=FIX)
        if value < 0:
            raise IngestError(f"{where}: must not be negative", where=source, fix=FIX)
        return ns_at(value, "s", f"{source}: {where}", FIX)
    if name == "exit_codes" and value is None:
        return -1  # null: killed by a signal
    try:
        number = json_number(value)
    except ValueError as exc:
        raise IngestError(f"{where}: {exc}", where=source, fix=FIX) from None
    if number != number.to_integral_value():
        raise IngestError(f"{where}: expected a whole number", where=source, fix=FIX)
    if name == "exit_codes" and not -(2**31) <= number < 2**31:
        raise IngestError(f"{where}: exit code out of range (32-bit)", where=source, fix=FIX)
    if name == "memory_usage_byte" and not 0 <= number <= INT64_MAX:
        raise IngestError(f"{where}: must not be negative and fit 64 bits", where=source, fix=FIX)
    return int(number)


def _stream(src: Source) -> tuple[list[_Streamed], bool]:
    """The ``results`` of the file, read incrementally; ``(results, False)`` when ``results`` is not
    a list of objects (the model then says what is wrong)."""
    results: list[_Streamed] = []
    builder: ijson.ObjectBuilder | None = None  # the current small field of the current result
    column: tuple[str, array, int] | None = None  # (name, values, index) while inside an array
    depth = 0  # below a result's field
    key = ""  # the current result's current field
    listed = False  # `results` is a list
    for prefix, event, value in src.json_events():
        if column is not None:
            name, values, index = column
            if event == "end_array" and prefix == f"results.item.{name}":
                column = None
            elif event in ("start_map", "start_array"):
                raise IngestError(
                    f"results[{len(results) - 1}].{name}[{index}]: expected a number",
                    where=src.where,
                    fix=FIX,
                )
            else:
                values.append(_item(name, value, f"results[{len(results) - 1}].{name}[{index}]", src.where))
                column = (name, values, index + 1)
            continue
        if builder is not None:
            builder.event(event, value)
            depth += (
                1 if event in ("start_map", "start_array") else -1 if event in ("end_map", "end_array") else 0
            )
            if depth == 0:
                results[-1].fields[key] = builder.value
                builder = None
            continue
        if prefix == "results" and event == "start_array":
            listed = True
            continue
        if prefix == "results" and event not in ("start_array", "end_array"):
            return [], False  # results is not a list
        if prefix == "results.item":
            if event == "start_map":
                results.append(_Streamed())
            elif event == "map_key":
                key = value
            elif event != "end_map":
                return [], False  # an item that is not an object
            continue
        if prefix.startswith("results.item.") and prefix.count(".") == 2:
            if key in ARRAYS and event == "start_array":
                values = results[-1].arrays[key] = array("q")
                column = (key, values, 0)
                continue
            builder = ijson.ObjectBuilder()
            builder.event(event, value)
            depth = 1 if event in ("start_map", "start_array") else 0
            if depth == 0:
                results[-1].fields[key] = builder.value
                builder = None
    return results, listed


def parse(src: Source) -> Parsed:
    streamed, listed = _stream(src)
    try:  # the small fields through the model; the arrays were checked while they streamed
        export = Export.model_validate({"results": [r.fields for r in streamed]} if listed else src.json)
    except ValidationError as exc:
        raise validation_error(exc, src.where, fix=FIX) from None
    run = RunData()
    warnings: list[str] = []
    names = [r.command for r in export.results]
    taken: set[str] = set()
    for index, (result, columns) in enumerate(zip(export.results, streamed, strict=True)):
        where = f"{src.where}: results[{index}]"
        operation = result.command
        if result.parameters and names.count(result.command) > 1:
            operation += "[" + ",".join(f"{k}={v}" for k, v in sorted(result.parameters.items())) + "]"
        if operation in taken:  # the same command twice: two cells, never one merged from both
            repeat = 2
            while f"{operation} #{repeat}" in taken:
                repeat += 1
            warnings.append(
                f"{src.name}: results[{index}] repeats the command {operation!r}; stored as operation "
                f"'{operation} #{repeat}' (name commands apart with hyperfine's --command-name)"
            )
            operation = f"{operation} #{repeat}"
        taken.add(operation)
        cell = CellInfo(
            operation=operation,
            source_name=result.command,
            base_operation=result.command,
            params=dict(result.parameters) if result.parameters else None,
            summary=_summary(result),
        )
        times = columns.arrays.get("times")
        if times:
            n = len(times)
            for name in ("exit_codes", "memory_usage_byte"):
                values = columns.arrays.get(name)
                if values is not None and len(values) != n:
                    raise IngestError(
                        f"{name} has {len(values)} entries but times has {n}",
                        where=f"{where}.{name}",
                        fix=FIX,
                    )
            run.blocks.append(
                SampleBlock(
                    operation,
                    times,
                    exit_code=columns.arrays.get("exit_codes"),
                    peak_rss_bytes=columns.arrays.get("memory_usage_byte"),
                )
            )
            cell.n_source = n
        else:
            statistic = "median" if result.median is not None else "mean"
            value = result.median if result.median is not None else result.mean
            if value is None:
                raise IngestError("no times, median or mean", where=where, fix=FIX)
            cell.kind, cell.statistic = "summary", statistic
            run.blocks.append(
                SampleBlock(operation, array("q", [ns_at(value, "s", f"{where}.{statistic}", FIX)]))
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
