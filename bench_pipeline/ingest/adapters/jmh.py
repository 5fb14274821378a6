"""Java JMH ``-rf json`` (``-rff FILE``): a list with one object per benchmark × parameter set.

Format (openjdk/jmh ``results/format/JSONResultFormat.java``): ``benchmark`` (fully qualified
method), ``mode`` (``thrpt``, ``avgt``, ``sample``, ``ss``), ``params``, ``primaryMetric`` {``score``,
``scoreError``, ``scoreConfidence``, ``scorePercentiles``, ``scoreUnit``, ``rawData``: per fork, the
score of each measurement iteration}, ``secondaryMetrics`` (profilers such as ``·gc.alloc.rate.norm``)
and the JVM/JMH versions. Each measurement iteration of each fork is one **raw** sample of the time
per operation: ``avgt``/``ss``/``sample`` scores (``ns/op`` … ``s/op``) directly; ``thrpt`` scores
(``ops/s``, ``ops/ms``, …) as their reciprocal — an iteration that did N operations in T has score
N/T and mean time per operation T/N — and the score itself as metric ``ops_per_s``. Secondary metrics
with one value per iteration become metrics under their own name (a leading ``·`` dropped). With
``params`` the operation is ``benchmark[k=v,…]`` (base operation the benchmark, params the values).
``sample`` mode without ``rawData`` (only ``rawDataHistogram``) stores the score as a **summary** row.
Detection: a JSON list whose objects have ``benchmark``, ``mode`` and ``primaryMetric``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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

NAME = "jmh"
FIX = "pass the file written by a JMH run with -rf json (-rff FILE)"
TIME_PER_OP = {"s/op": "s", "ms/op": "ms", "us/op": "us", "µs/op": "us", "ns/op": "ns"}
OPS_PER_TIME = {"ops/s": "s", "ops/ms": "ms", "ops/us": "us", "ops/µs": "us", "ops/ns": "ns"}


class Metric(BaseModel):
    model_config = ConfigDict(extra="allow")

    score: Number
    scoreError: Number | str | None = None  # "NaN" when too few iterations  # noqa: N815
    scoreUnit: str  # noqa: N815
    rawData: list[list[Number]] | None = None  # noqa: N815


class Result(BaseModel):
    model_config = ConfigDict(extra="allow")

    jmhVersion: str | None = None  # noqa: N815
    benchmark: Label
    mode: str
    threads: int | None = None
    forks: int | None = None
    jdkVersion: str | None = None  # noqa: N815
    vmName: str | None = None  # noqa: N815
    params: dict[str, str] | None = None
    primaryMetric: Metric  # noqa: N815
    secondaryMetrics: dict[str, Metric] = Field(default_factory=dict)  # noqa: N815


def detect(src: Source) -> bool:
    doc = src.json_doc()
    return (
        isinstance(doc, list)
        and bool(doc)
        and all(isinstance(r, dict) and {"benchmark", "mode", "primaryMetric"} <= r.keys() for r in doc)
    )


def parse(src: Source) -> Parsed:
    doc = src.json
    if not isinstance(doc, list):
        raise IngestError("expected a JSON list of JMH results", where=src.where, fix=FIX)
    try:
        results = [Result.model_validate(r) for r in doc]
    except ValidationError as exc:
        raise validation_error(exc, src.where, fix=FIX) from None
    run = RunData()
    warnings: list[str] = []
    first = results[0] if results else None
    if first is not None:
        run.tool_versions = {k: v for k, v in (("jmh", first.jmhVersion), ("jdk", first.jdkVersion)) if v}
        run.host = {
            "jvm": {k: doc[0].get(k) for k in ("jvm", "jvmArgs", "jdkVersion", "vmName", "vmVersion")}
        }
    for index, result in enumerate(results):
        where = f"{src.where}: [{index}]"
        operation = result.benchmark
        if result.params:
            operation += "[" + ",".join(f"{k}={v}" for k, v in result.params.items()) + "]"
        metric = result.primaryMetric
        per_op, per_time = TIME_PER_OP.get(metric.scoreUnit), OPS_PER_TIME.get(metric.scoreUnit)
        if per_op is None and per_time is None:
            raise IngestError(
                f"score unit {metric.scoreUnit!r} is neither time per operation nor operations per time",
                where=f"{where}.primaryMetric.scoreUnit",
                fix=FIX,
            )
        cell = CellInfo(
            operation=operation,
            source_name=result.benchmark,
            base_operation=result.benchmark if result.params else None,
            params=dict(result.params) if result.params else None,
            summary=_summary(doc[index], result),
        )
        scores = [
            (fork, i, v) for fork, values in enumerate(metric.rawData or []) for i, v in enumerate(values)
        ]
        secondary = {
            key.lstrip("·").lstrip("\u00b7"): m
            for key, m in result.secondaryMetrics.items()
            if m.rawData is not None and [len(f) for f in m.rawData] == [len(f) for f in metric.rawData or []]
        }
        if scores:
            for fork, i, score in scores:
                sample = _sample(
                    operation, score, per_op, per_time, f"{where}.primaryMetric.rawData[{fork}][{i}]"
                )
                sample.add("fork", fork, "count")
                for key, m in secondary.items():
                    assert m.rawData is not None
                    sample.add(key, m.rawData[fork][i], m.scoreUnit)
                run.samples.append(sample)
            cell.n_source = len(scores)
        else:
            run.samples.append(
                _sample(operation, metric.score, per_op, per_time, f"{where}.primaryMetric.score")
            )
            cell.kind, cell.statistic = "summary", "mean"
            warnings.append(f"{src.name}: {operation!r} has no rawData; its score is stored as a summary row")
        run.cells.append(cell)
    if not run.samples:
        raise IngestError("no JMH results", where=src.where, fix=FIX)
    return Parsed(NAME, src.name, src.sha256, [run], warnings)


def _sample(operation: str, score: Decimal, per_op: str | None, per_time: str | None, where: str) -> Sample:
    if per_op is not None:
        value, unit = score, per_op
    else:
        if score <= 0:
            raise IngestError("a throughput score must be positive", where=where, fix=FIX)
        assert per_time is not None
        value, unit = Decimal(1) / score, per_time
    sample = Sample(operation=operation, wall_ns=ns_at(value, unit, where, FIX))
    sample.add_exact(exact_ns(value, unit))
    if per_time is not None:
        sample.add("ops_per_s", score / exact_ns(1, per_time) * 10**9, "operations/s")
    return sample


def _summary(raw: dict[str, Any], result: Result) -> dict[str, Any]:
    metric = raw.get("primaryMetric", {})
    out: dict[str, Any] = {"mode": result.mode, "score_unit": result.primaryMetric.scoreUnit}
    for key in ("score", "scoreError", "scoreConfidence", "scorePercentiles"):
        if key in metric:
            out[key] = _plain(metric[key])
    for key in ("threads", "forks", "warmupIterations", "measurementIterations", "measurementTime"):
        if key in raw:
            out[key] = _plain(raw[key])
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    return value
