"""``analyse_history``: change points, trend and same-run gate for every cell of a suite.

Reads the series (``series.load_series``, one query), then per cell works on y = log(median):
``changepoints.detect_changes`` over the newest ``max_points`` runs, ``trend.trend`` over the current
regime (the runs since the last change point), ``gate.same_run_gate`` for the newest run.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from bench_pipeline.history import changepoints, gate, trend
from bench_pipeline.history.model import CellHistory, ChangePoint, Gate, SeriesPoint, Trend
from bench_pipeline.history.series import load_series
from bench_pipeline.store import Store
from bench_pipeline.suite import suite_delta

MAX_POINTS = 200  # change points are sought in the newest 200 runs (cost O(R·n²) per test)
DEFAULT_DELTA = changepoints.DEFAULT_DELTA


def analyse_cell(
    frame: pl.DataFrame,
    *,
    suite: str,
    delta: float = DEFAULT_DELTA,
    max_points: int = MAX_POINTS,
    gate_window: int = gate.WINDOW,
    seed: int = 0,
) -> CellHistory:
    """One cell's history from its rows of ``load_series`` (sorted oldest first)."""
    first = frame.row(0, named=True)
    y = np.log(frame["median"].to_numpy().astype(float))
    run_ids = frame["run_id"].to_list()
    started = frame["started_at"].to_list()
    offset = max(0, len(y) - max_points)
    found = changepoints.detect_changes(y[offset:], delta=delta, seed=seed)
    changes = [
        ChangePoint(
            run_id=run_ids[c.index + offset],
            started_at=started[c.index + offset],
            index=c.index + offset,
            before_median=c.before,
            after_median=c.after,
            ratio=c.ratio,
            direction="regression" if c.ratio > 1 else "improvement",
            p_value=c.p_value,
            methods=list(c.methods),
        )
        for c in found.changes
    ]
    regime = changes[-1].index if changes else offset
    fit = trend.trend(y[regime:])
    judged = gate.same_run_gate(y, window=gate_window, delta=delta, regime_start=regime)
    return CellHistory(
        suite=suite,
        operation=first["operation"],
        fixture=first["fixture"],
        tool=first["tool"],
        metric=first["metric"],
        points=len(y),
        latest_median=float(frame["median"][-1]),
        series=[
            SeriesPoint(**row) for row in frame.select(list(SeriesPoint.model_fields)).iter_rows(named=True)
        ],
        change_points=changes,
        trend=Trend(since_run_id=run_ids[regime], **vars(fit)),
        gate=Gate(run_id=run_ids[-1], **vars(judged)),
    )


def analyse_history(
    store: Store,
    suite: str,
    tool: str | None = None,
    metric: str = "wall",
    *,
    delta: float | None = None,
    include_quick: bool = False,
    host: str | None = "newest",
    max_points: int = MAX_POINTS,
    gate_window: int = gate.WINDOW,
    seed: int = 0,
) -> list[CellHistory]:
    """Every cell of ``suite`` (optionally one ``tool``) for ``metric``, sorted by tool, operation, fixture."""
    frame = load_series(store, suite, tool, metric, include_quick=include_quick, host=host)
    if frame.is_empty():
        return []
    delta = suite_delta(suite) if delta is None else delta
    return [
        analyse_cell(
            cell, suite=suite, delta=delta, max_points=max_points, gate_window=gate_window, seed=seed
        )
        for cell in frame.partition_by(["tool", "operation", "fixture"], maintain_order=True)
    ]


def report_history(cells: list[CellHistory]) -> list[dict]:
    """The cells in the shape of the report's ``history`` field (``report.model.HistorySeries``)."""
    out = []
    for c in cells:
        out.append(
            {
                "operation": c.operation,
                "fixture": c.fixture,
                "tool": c.tool,
                "metric": c.metric,
                "points": [
                    {
                        "run_id": p.run_id,
                        "started_at": p.started_at.isoformat(),
                        "median": p.median,
                        "ci_low": p.ci_low,
                        "ci_high": p.ci_high,
                    }
                    for p in c.series
                ],
                "change_points": [
                    {
                        "run_id": cp.run_id,
                        "started_at": cp.started_at.isoformat(),
                        "before_median": cp.before_median,
                        "after_median": cp.after_median,
                        "ratio": cp.ratio,
                    }
                    for cp in c.change_points
                ],
                "trend": {"slope_per_run": c.trend.slope_per_run, "p_value": c.trend.p_value},
            }
        )
    return out
