"""The learning store (migration 006): what the history and patterns analyses found, recorded under
the suite's newest run, and read back for reports.

- ``record_history``: every cell's trend, forecast, change points and gate (``performance_trends``)
  and the anomalies found in them (``benchmark_patterns``, kinds :data:`HISTORY_KINDS`), under the
  newest analysed run; ``stored_history`` reads them back as the report's ``history`` field.
- ``record_patterns``: scaling fits, growth differences and failure clusters (``benchmark_patterns``,
  kinds :data:`PATTERN_KINDS`), ``recommendations`` and the run's quality (``run_quality``), under the
  newest finished run.

Rows belong to the run the analysis was made at; writing again replaces that run's rows (of the
writer's kinds) in one transaction (``Store.replace_rows``), so recording is idempotent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl
from pydantic import BaseModel

from bench_pipeline.errors import RunNotFound
from bench_pipeline.history import METRICS, CellHistory, ChangePoint, analyse_history, suite_delta
from bench_pipeline.patterns import (
    Anomaly,
    ErrorCluster,
    GrowthDifference,
    ScalingFit,
    error_clusters,
    find_anomalies,
    growth_differences,
    scaling_fits,
)
from bench_pipeline.patterns.quality import RunQuality, run_quality
from bench_pipeline.patterns.recommend import Recommendation, recommend
from bench_pipeline.store import Store

HISTORY_KINDS = ("gate", "fresh-change", "drift")
PATTERN_KINDS = ("scaling", "growth-differs", "error", "timeout", "oom")


def _pattern_row(run_id: str, suite: str, now: datetime, kind: str, model: BaseModel, **cols) -> dict:
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


def _markdown_table(header: list[str], rows: list[list]) -> str:
    """A Markdown table; "" without rows."""
    if not rows:
        return ""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ history
def _trend_row(run_id: str, now: datetime, c: CellHistory) -> dict:
    return {
        "run_id": run_id,
        "suite": c.suite,
        "tool": c.tool,
        "operation": c.operation,
        "fixture": c.fixture,
        "metric": c.metric,
        "points": c.points,
        "latest_median": c.latest_median,
        "slope_per_run": c.trend.slope_per_run,
        "p_value": c.trend.p_value,
        "forecast": c.trend.forecast,
        "forecast_low": c.trend.forecast_low,
        "forecast_high": c.trend.forecast_high,
        "change_points": json.dumps([cp.model_dump(mode="json") for cp in c.change_points]),
        "last_change_run_id": c.change_points[-1].run_id if c.change_points else None,
        "gate_outside": c.gate.outside,
        "gate_alert": c.gate.alert,
        "gate_ratio": c.gate.ratio,
        "gate_low": c.gate.low,
        "gate_high": c.gate.high,
        "created_at": now,
    }


@dataclass
class HistoryRecord:
    suite: str
    run_id: str | None = None
    cells: dict[str, list[CellHistory]] = field(default_factory=dict)
    anomalies: list[Anomaly] = field(default_factory=list)
    trends_written: int = 0

    @property
    def change_points(self) -> list[tuple[CellHistory, ChangePoint]]:
        return [(c, cp) for cells in self.cells.values() for c in cells for cp in c.change_points]

    def markdown(self, limit: int = 30) -> str:
        if self.run_id is None:
            return f"no succeeded (non-quick) runs of {self.suite} yet"
        counts = ", ".join(f"{m}: {len(v)} cells" for m, v in self.cells.items())
        out = [f"History of **{self.suite}** as of run `{self.run_id}` ({counts})."]
        cps = sorted(self.change_points, key=lambda x: x[1].started_at, reverse=True)[:limit]
        table = _markdown_table(
            ["cell", "metric", "run", "before", "after", "ratio"],
            [[c.cell, c.metric, cp.run_id, f"{cp.before_median:.4g}", f"{cp.after_median:.4g}", f"{cp.ratio:.3f}"]
             for c, cp in cps],
        )  # fmt: skip
        out.append("\n**Change points** (newest first)\n\n" + table if table else "\nNo change points.")
        table = _markdown_table(
            ["kind", "cell", "metric", "ratio"],
            [
                [a.kind, f"{a.tool}/{a.operation} ({a.fixture})", a.metric, f"{a.ratio:.3f}"]
                for a in self.anomalies[:limit]
            ],
        )
        out.append("\n**Anomalies**\n\n" + table if table else "\nNo anomalies.")
        return "\n".join(out)


def _newest_run(cells: dict[str, list[CellHistory]]) -> str | None:
    points = [c.series[-1] for v in cells.values() for c in v if c.series]
    return max(points, key=lambda p: (p.started_at, p.run_id)).run_id if points else None


def suite_metrics(store: Store, suite: str) -> tuple[str, ...]:
    """wall, cpu, rss and the extra metrics (ingested keys: tokens, score, …) the suite's cells have."""
    extras = store.query(
        f"""SELECT DISTINCT metric FROM cell_stats_all
            WHERE suite = ? AND metric NOT IN ({", ".join("?" for _ in METRICS)}) ORDER BY metric""",
        [suite, *METRICS],
    )
    return (*METRICS, *extras["metric"].to_list())


def record_history(store: Store, suite: str, metrics: tuple[str, ...] | None = None) -> HistoryRecord:
    """Analyse every cell's history (``analyse_history``) for ``metrics`` (default: ``suite_metrics``),
    store the trends and the anomalies under the newest analysed run, and return what was found."""
    metrics = metrics or suite_metrics(store, suite)
    record = HistoryRecord(suite, cells={m: analyse_history(store, suite, metric=m) for m in metrics})
    record.run_id = _newest_run(record.cells)
    if record.run_id is None:
        return record
    now = datetime.now(UTC)
    delta = suite_delta(suite)
    everything = [c for v in record.cells.values() for c in v]
    record.anomalies = find_anomalies(everything, delta)
    where = {"run_id": record.run_id, "suite": suite}
    trends = pl.DataFrame([_trend_row(record.run_id, now, c) for c in everything], infer_schema_length=None)
    record.trends_written = store.replace_rows("performance_trends", where, trends)
    rows = [
        _pattern_row(record.run_id, suite, now, a.kind, a, tool=a.tool, operation=a.operation, fixture=a.fixture,
                     metric=a.metric, label=a.kind, score=a.ratio, detail=a.detail)
        for a in record.anomalies
    ]  # fmt: skip
    anomalies = pl.DataFrame(rows, infer_schema_length=None)
    store.replace_rows("benchmark_patterns", {**where, "kind": HISTORY_KINDS}, anomalies)
    return record


# ------------------------------------------------------------------------------ patterns
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
        table = _markdown_table(
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
        table = _markdown_table(
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
        _pattern_row(run_id, suite, now, "scaling", f, tool=f.tool, operation=f.operation, fixture=f.fixture,
                     metric=f.metric, label=f.growth, score=f.exponent,
                     detail=f"{f.tool} {f.operation}: {f.growth} in {f.basis}")
        for f in record.fits
    ]  # fmt: skip
    rows += [
        _pattern_row(run_id, suite, now, "growth-differs", d, operation=d.operation, fixture=d.fixture,
                     metric=d.metric, label=d.fastest_growing, detail=d.detail)
        for d in record.differences
    ]  # fmt: skip
    rows += [
        _pattern_row(run_id, suite, now, e.kind, e, tool=e.tool, operation=e.operation, label=e.signature,
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


# ------------------------------------------------------------------------------ for reports
STORED_TRENDS_SQL = """
SELECT tool, operation, fixture, change_points, slope_per_run, p_value
FROM performance_trends
WHERE suite = ? AND metric = ? AND run_id = ?
"""


def stored_history(store: Store, suite: str, run_id: str, metric: str = "wall") -> list[dict]:
    """The report's ``history`` field for ``run_id`` without re-analysing: the series up to that run
    (one query) with the change points and trend that ``record_history`` stored at it. Empty when
    the history asset has not run at ``run_id``."""
    from bench_pipeline.history import load_series

    trends = store.query(STORED_TRENDS_SQL, [suite, metric, run_id])
    if trends.is_empty():
        return []
    cutoff = store.run(run_id)["started_at"]
    series = load_series(store, suite, metric=metric).filter(pl.col("started_at") <= cutoff)
    points = {
        key: group.select("run_id", "started_at", "median", "ci_low", "ci_high")
        for key, group in series.group_by(["tool", "operation", "fixture"], maintain_order=True)
    }
    out = []
    for t in trends.sort("tool", "operation", "fixture").iter_rows(named=True):
        rows = points.get((t["tool"], t["operation"], t["fixture"]))
        if rows is None:
            continue
        out.append(
            {
                "operation": t["operation"],
                "fixture": t["fixture"],
                "tool": t["tool"],
                "metric": metric,
                "points": [
                    {**p, "started_at": p["started_at"].isoformat()} for p in rows.iter_rows(named=True)
                ],
                "change_points": [
                    {k: cp[k] for k in ("run_id", "started_at", "before_median", "after_median", "ratio")}
                    for cp in json.loads(t["change_points"] or "[]")
                ],
                "trend": {"slope_per_run": t["slope_per_run"], "p_value": t["p_value"]},
            }
        )
    return out
