"""cargo-criterion ``--message-format=json``: JSON lines, one ``benchmark-complete`` message per benchmark.

Raw: ``iteration_count[i]`` iterations took ``measured_values[i]`` (in ``unit``) → one sample per
entry, per-iteration time by exact decimal division (metrics ``iterations``, ``sample_ns``,
``wall_ns_exact``). With a measurement that is not time (``unit`` not s/ms/us/ns, e.g. cycles) the
values are kept as the metric ``value_per_iteration`` and no wall time is stored. The estimates
(typical, mean, median, MAD, slope with bounds) go to the cell's source summary; ``change``
(cargo-criterion's comparison with its own baseline) and ``group-complete`` messages are not kept.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest.model import (
    TIME_UNITS,
    CellInfo,
    Label,
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

NAME = "cargo-criterion"
FIX = "pass the output of `cargo criterion --message-format=json` (one JSON object per line)"


class Estimate(BaseModel):
    model_config = ConfigDict(extra="allow")

    estimate: Number
    lower_bound: Number | None = None
    upper_bound: Number | None = None
    unit: str | None = None


class Complete(BaseModel):
    model_config = ConfigDict(extra="allow")

    reason: str
    id: Label
    iteration_count: list[NonNegNumber] = Field(min_length=1)
    measured_values: list[NonNegNumber] = Field(min_length=1)
    unit: str
    throughput: list[dict[str, Any]] = Field(default_factory=list)
    typical: Estimate | None = None
    mean: Estimate | None = None
    median: Estimate | None = None
    median_abs_dev: Estimate | None = None
    slope: Estimate | None = None


def detect(src: Source) -> bool:
    first = src.first_json_line()
    return isinstance(first, dict) and isinstance(first.get("reason"), str) and src.json_doc() is None


def parse(src: Source) -> Parsed:
    run = RunData()
    seen: set[str] = set()
    for number, message in enumerate(src.json_lines, 1):
        if not isinstance(message, dict) or message.get("reason") != "benchmark-complete":
            continue
        where = f"{src.where}:{number}"
        try:
            bench = Complete.model_validate(message)
        except ValidationError as exc:
            raise validation_error(exc, where, fix=FIX) from None
        if len(bench.iteration_count) != len(bench.measured_values):
            raise IngestError(
                f"iteration_count has {len(bench.iteration_count)} entries, "
                f"measured_values {len(bench.measured_values)}",
                where=where,
                fix=FIX,
            )
        if bench.id in seen:
            raise IngestError(f"benchmark {bench.id!r} appears twice", where=where, fix=FIX)
        seen.add(bench.id)
        timed = bench.unit in TIME_UNITS
        parts = bench.id.split("/")
        cell = CellInfo(
            operation=bench.id,
            source_name=bench.id,
            n_source=len(bench.measured_values),
            summary=_summary(bench, timed),
            base_operation="/".join(parts[:-1]) if len(parts) == 3 else None,
            params={"value": parts[-1]} if len(parts) == 3 else None,
        )
        for i, (iters, value) in enumerate(zip(bench.iteration_count, bench.measured_values, strict=True)):
            if iters <= 0:
                raise IngestError(
                    "iteration count must be positive", where=f"{where}: iteration_count[{i}]", fix=FIX
                )
            per_iter = value / iters
            if timed:
                sample = Sample(
                    operation=bench.id,
                    wall_ns=ns_at(per_iter, bench.unit, f"{where}: measured_values[{i}]", FIX),
                )
                sample.add("sample_ns", exact_ns(value, bench.unit), "ns")
                sample.add_exact(exact_ns(per_iter, bench.unit))
            else:
                sample = Sample(operation=bench.id, wall_ns=None)
                sample.add("value_per_iteration", per_iter, bench.unit)
            sample.add("iterations", iters, "count")
            run.samples.append(sample)
        run.cells.append(cell)
    if not run.cells:
        raise IngestError("no benchmark-complete messages", where=src.where, fix=FIX)
    return Parsed(NAME, src.name, src.sha256, [run])


def _summary(bench: Complete, timed: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("typical", "mean", "median", "median_abs_dev", "slope"):
        est: Estimate | None = getattr(bench, key)
        if est is None:
            continue
        unit = est.unit or bench.unit
        as_ns = timed and unit in TIME_UNITS
        suffix = "_ns" if as_ns else ""
        out[f"{key}{suffix}"] = _scale(est.estimate, unit, as_ns)
        if est.lower_bound is not None and est.upper_bound is not None:
            out[f"{key}_ci{suffix}"] = [
                _scale(est.lower_bound, unit, as_ns),
                _scale(est.upper_bound, unit, as_ns),
            ]
    if bench.throughput:
        out["throughput_per_iteration"] = bench.throughput
    if not timed:
        out["unit"] = bench.unit
    return out


def _scale(value: Decimal, unit: str, as_ns: bool) -> float:
    return float(exact_ns(value, unit)) if as_ns else float(value)
