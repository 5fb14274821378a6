"""Recording a suite's patterns in the learning store (migration 006), under its newest finished run:
scaling fits, growth differences and failure clusters (``benchmark_patterns``), ``recommendations``
and the run's quality (``run_quality``).

Rows belong to the run the analysis was made at; writing again replaces that run's rows in one
transaction (``Store.replace_rows``), so recording is idempotent. ``pattern_row`` and
``markdown_table`` serve :mod:`bench_pipeline.history.record` too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl
from pydantic import BaseModel

from bench_pipeline.errors import RunNotFound
from bench_pipeline.patterns import (
    ErrorCluster,
    GrowthDifference,
    ScalingFit,
    error_clusters,
    growth_differences,
    scaling_fits,
)
from bench_pipeline.patterns.quality import RunQuality, run_quality
from bench_pipeline.patterns.recommend import Recommendation, recommend
from bench_pipeline.store import Store

PATTERN_KINDS = ("scaling", "growth-differs", "error", "timeout", "oom")


def pattern_row(run_id: str, suite: str, now: datetime, kind: str, model: BaseModel, **cols) -> dict:
    """One ``benchmark_patterns`` row: the finding's columns, and the whole finding as JSON in ``data``."""
    return {
        "run_id": run_id,
        "suite": suite,
        "kind": kind,
        "tool": cols.get("tool"),
        "operation": cols.get("operation"),
        "fixture": cols.get("fixture"),
        "metric": cols.get("metric"),
        "label": cols.get("label"),
        "score": cols.get("score"),
        "detail": cols.get("detail"),
        "data": model.model_dump_json(),
        "created_at": now,
    }


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A Markdown table; "" without rows."""
    if not rows:
        return ""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass
class PatternsRecord:
    suite: str
    run_id: str | None = None
    fits: list[ScalingFit] = field(default_factory=list)
    differences: list[GrowthDifference] = field(default_factory=list)
    errors: list[ErrorCluster] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    quality: RunQuality | None = None

    def markdown(self, limit: int = 20) -> str:
        if self.run_id is None:
            return f"no finished runs of {self.suite} yet"
        q = self.quality
        score = f"{q.quality:.2f}" if q and q.quality is not None else "–"
        out = [f"Patterns of **{self.suite}** at run `{self.run_id}`: quality {score}."]
        table = markdown_table(
            ["tool", "operation", "basis", "growth", "exponent", "R²", "clear"],
            [[f.tool, f.operation + (f" ({f.fixture})" if f.fixture else ""), f.basis, f.growth,
              f"{f.exponent:.2f}" if f.exponent is not None else "–",
              f"{f.r_squared:.3f}" if f.r_squared is not None else "–", "yes" if f.clear else "no"]
             for f in self.fits[:limit]],
        )  # fmt: skip
        out.append("\n**Scaling**\n\n" + table if table else "\nNo operation measured at two sizes or more.")
        if self.differences:
            out.append(
                "\n**Growth differs between tools**\n\n"
                + "\n".join(f"- {d.detail}" for d in self.differences)
            )
        table = markdown_table(
            ["kind", "tool", "operation", "exit", "count", "signature"],
            [[e.kind, e.tool, e.operation, e.exit_code, e.count, e.signature[:80].replace("|", "\\|")]
             for e in self.errors[:limit]],
        )  # fmt: skip
        out.append("\n**Failures**\n\n" + table if table else "\nNo failures.")
        if self.recommendations:
            out.append(
                "\n**Recommendations**\n\n"
                + "\n".join(f"- *{r.kind}*: {r.title}" for r in self.recommendations[:limit])
            )
        return "\n".join(out)


def record_patterns(store: Store, suite: str, metric: str = "wall") -> PatternsRecord:
    """Scaling fits, growth differences, failure clusters, recommendations and the quality score of
    the suite's newest finished run; stored under that run."""
    record = PatternsRecord(suite)
    try:
        record.run_id = store.resolve_run(suite, "latest")
    except RunNotFound:
        return record
    run_id, now = record.run_id, datetime.now(UTC)
    record.fits = scaling_fits(store, suite, metric)
    record.differences = growth_differences(record.fits)
    record.errors = error_clusters(store, suite)
    record.recommendations = recommend(store, suite, run_id, record.fits, metric)
    record.quality = run_quality(store, run_id)
    rows = [
        pattern_row(run_id, suite, now, "scaling", f, tool=f.tool, operation=f.operation, fixture=f.fixture,
                    metric=f.metric, label=f.growth, score=f.exponent,
                    detail=f"{f.tool} {f.operation}: {f.growth} in {f.basis}")
        for f in record.fits
    ]  # fmt: skip
    rows += [
        pattern_row(run_id, suite, now, "growth-differs", d, operation=d.operation, fixture=d.fixture,
                    metric=d.metric, label=d.fastest_growing, detail=d.detail)
        for d in record.differences
    ]  # fmt: skip
    rows += [
        pattern_row(run_id, suite, now, e.kind, e, tool=e.tool, operation=e.operation, label=e.signature,
                    score=float(e.count), detail=f"{e.tool} {e.operation}: exit {e.exit_code}, {e.count}× "
                    f"in {e.runs} run(s): {e.signature}")
        for e in record.errors
    ]  # fmt: skip
    recommendations = [
        {"run_id": run_id, "suite": suite, "kind": r.kind, "tool": r.tool, "operation": r.operation,
         "fixture": r.fixture, "title": r.title, "detail": r.detail, "score": r.score,
         "evidence": json.dumps(r.evidence, default=str), "created_at": now}
        for r in record.recommendations
    ]  # fmt: skip
    q = record.quality
    quality = [
        {"run_id": run_id, "suite": suite, "quality": q.quality, "noise": q.noise, "completeness": q.completeness,
         "significance": q.significance, "detail": json.dumps(q.detail), "computed_at": now}
    ]  # fmt: skip
    where = {"run_id": run_id, "suite": suite}
    found = pl.DataFrame(rows, infer_schema_length=None)
    store.replace_rows("benchmark_patterns", {**where, "kind": PATTERN_KINDS}, found)
    store.replace_rows("recommendations", where, pl.DataFrame(recommendations, infer_schema_length=None))
    store.replace_rows("run_quality", where, pl.DataFrame(quality, infer_schema_length=None))
    return record
