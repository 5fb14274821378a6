"""Bencher Metric Format (BMF): ``{benchmark: {measure: {value, lower_value?, upper_value?}}}``.

BMF holds one value per benchmark and measure, so every benchmark is a summary row
(``statistic = value``). Measures (https://bencher.dev/docs/reference/bencher-metric-format/):
``latency`` (ns) → wall time, ``build-time`` (s) → metric ``build_time_ns``, ``file-size`` (bytes)
→ ``file_size_bytes``, ``throughput`` (operations/s) and any custom measure → a metric under the
measure's name. ``lower_value``/``upper_value`` are kept as ``<measure>_lower``/``_upper`` metrics
(``-`` → ``_``; normalised like the value). A benchmark without ``latency`` has metrics but no wall time.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, RootModel, ValidationError

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest.model import (
    CellInfo,
    Label,
    Number,
    Parsed,
    RunData,
    Sample,
    exact_ns,
    ns_at,
    validation_error,
)
from bench_pipeline.ingest.source import Source

NAME = "bmf"
FIX = "pass a Bencher Metric Format JSON object: {benchmark: {measure: {value, lower_value, upper_value}}}"
#: measure → (metric key, unit, factor to that unit)
MEASURES: dict[str, tuple[str, str | None, int]] = {
    "latency": ("wall_ns", "ns", 1),
    "build-time": ("build_time_ns", "ns", 10**9),
    "file-size": ("file_size_bytes", "bytes", 1),
    "throughput": ("throughput", "operations/s", 1),
}


class Measure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Number
    lower_value: Number | None = None
    upper_value: Number | None = None


class Document(RootModel[dict[Label, dict[Label, Measure]]]):
    pass


def detect(src: Source) -> bool:
    doc = src.json_doc()
    return (
        isinstance(doc, dict)
        and bool(doc)
        and all(
            isinstance(measures, dict)
            and bool(measures)
            and all(isinstance(m, dict) and "value" in m for m in measures.values())
            for measures in doc.values()
        )
    )


def parse(src: Source) -> Parsed:
    try:
        document = Document.model_validate(src.json)
    except ValidationError as exc:
        raise validation_error(exc, src.where, fix=FIX) from None
    if not document.root:
        raise IngestError("no benchmarks", where=src.where, fix=FIX)
    run = RunData()
    for name, measures in document.root.items():
        where = f"{src.where}: {name}"
        latency = measures.get("latency")
        if latency is not None:
            for label, value in (
                ("value", latency.value),
                ("lower_value", latency.lower_value),
                ("upper_value", latency.upper_value),
            ):
                if value is not None and value < 0:
                    raise IngestError(
                        "latency must not be negative", where=f"{where}.latency.{label}", fix=FIX
                    )
            sample = Sample(operation=name, wall_ns=ns_at(latency.value, "ns", f"{where}.latency.value", FIX))
            sample.add_exact(latency.value)
        else:
            sample = Sample(operation=name, wall_ns=None)
        summary: dict[str, Any] = {}
        for slug, measure in measures.items():
            key, unit, factor = MEASURES.get(slug, (slug, None, 1))
            if slug != "latency":
                sample.add(key, _scaled(measure.value, factor), unit)
            for bound in ("lower_value", "upper_value"):
                value = getattr(measure, bound)
                if value is not None:
                    sample.add(f"{slug.replace('-', '_')}_{bound[:5]}", _scaled(value, factor), unit)
            summary[slug] = {k: float(v) for k, v in measure.model_dump(exclude_none=True).items()}
        run.samples.append(sample)
        run.cells.append(
            CellInfo(
                operation=name,
                source_name=name,
                kind="summary",
                statistic="value",
                summary=summary,
            )
        )
    return Parsed(NAME, src.name, src.sha256, [run])


def _scaled(value: Decimal, factor: int) -> Decimal:
    return exact_ns(value, "s") if factor == 10**9 else value
