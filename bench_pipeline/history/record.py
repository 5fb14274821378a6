"""Recording a suite's history in the learning store (migration 006), under its newest analysed run:
every cell's trend, forecast, change points and gate (``performance_trends``) and the anomalies found
in them (``benchmark_patterns``, kinds :data:`HISTORY_KINDS`); and reading them back for reports
(``stored_history``).

Rows belong to the run the analysis was made at; writing again replaces that run's rows in one
transaction (``Store.replace_rows``), so recording is idempotent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from bench_pipeline.history import METRICS, CellHistory, ChangePoint, analyse_history, suite_delta
from bench_pipeline.patterns import Anomaly, find_anomalies
from bench_pipeline.patterns.record import markdown_table, pattern_row
from bench_pipeline.store import Store

HISTORY_KINDS = ("gate", "fresh-change", "drift")


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
        table = markdown_table(
            ["cell", "metric", "run", "before", "after", "ratio"],
            [[c.cell, c.metric, cp.run_id, f"{cp.before_median:.4g}", f"{cp.after_median:.4g}", f"{cp.ratio:.3f}"]
             for c, cp in cps],
        )  # fmt: skip
        out.append("\n**Change points** (newest first)\n\n" + table if table else "\nNo change points.")
        table = markdown_table(
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
        pattern_row(record.run_id, suite, now, a.kind, a, tool=a.tool, operation=a.operation, fixture=a.fixture,
                    metric=a.metric, label=a.kind, score=a.ratio, detail=a.detail)
        for a in record.anomalies
    ]  # fmt: skip
    anomalies = pl.DataFrame(rows, infer_schema_length=None)
    store.replace_rows("benchmark_patterns", {**where, "kind": HISTORY_KINDS}, anomalies)
    return record


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
