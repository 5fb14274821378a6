"""``analyse_history``: change points, trend and same-run gate for every cell of a suite.

Reads the series (``series.load_series``, one query), then per cell works on y = log(median):
``changepoints.detect_changes`` over the whole history (≈ 0.1 s for 1,000 runs, ≈ 1 s for 10,000;
``benchmarks/RESULTS.md``), ``trend.trend`` over the current regime (the runs since the last change
point), ``gate.same_run_gate`` for the newest run.

Invalid medians (missing, infinite or ≤ 0: no timing or memory level has such a value, and its log
is undefined) are a stated rule, not a silent one: those runs are skipped by every method, listed in
``excluded_runs``, and ``reason`` says so. A cell with too few usable runs gets ``status``
``too-short`` (or ``no-valid-runs``) and no change points, never an empty answer without a word.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from bench_pipeline.history import changepoints, gate, trend
from bench_pipeline.history.model import CellHistory, ChangePoint, Gate, NoiseFit, SeriesPoint, Trend
from bench_pipeline.history.series import load_series
from bench_pipeline.store import Store
from bench_pipeline.suite import suite_delta

MAX_POINTS: int | None = None  # no window: every run of the cell (``max_points`` can still set one)
DEFAULT_DELTA = changepoints.DEFAULT_DELTA


def analyse_cell(
    frame: pl.DataFrame,
    *,
    suite: str,
    delta: float = DEFAULT_DELTA,
    max_points: int | None = MAX_POINTS,
    gate_window: int = gate.WINDOW,
    seed: int = 0,
) -> CellHistory:
    """One cell's history from its rows of ``load_series`` (sorted oldest first)."""
    first = frame.row(0, named=True)
    medians = frame["median"].to_numpy().astype(float)
    valid = np.isfinite(medians) & (medians > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(valid, np.log(np.where(valid, medians, 1.0)), np.nan)
    run_ids = frame["run_id"].to_list()
    started = frame["started_at"].to_list()
    offset = 0 if max_points is None else max(0, len(y) - max_points)
    found = changepoints.detect_changes(y[offset:], delta=delta, seed=seed)
    excluded = [run_ids[i] for i in np.flatnonzero(~valid)]
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
    ok = np.flatnonzero(valid)  # trend and gate see the usable runs only
    since = ok[ok >= regime]
    fit = trend.trend(y[since], phi=found.noise.phi if found.noise else 0.0)
    if len(ok) and ok[-1] == len(y) - 1:
        judged = gate.same_run_gate(
            y[ok], window=gate_window, delta=delta, regime_start=int(np.searchsorted(ok, regime))
        )
        gated = Gate(run_id=run_ids[-1], **vars(judged))
    else:  # the newest run has no usable median: nothing to judge
        gated = Gate(run_id=run_ids[-1])
    reasons = [f"{len(excluded)} run(s) skipped: median missing, infinite or ≤ 0"] if excluded else []
    if found.status != "ok" and found.reason:
        reasons.append(found.reason.split("; ")[-1])  # the detector's own reason comes last
    status = "no-valid-runs" if not len(ok) else found.status
    noise = found.noise
    return CellHistory(
        suite=suite,
        operation=first["operation"],
        fixture=first["fixture"],
        tool=first["tool"],
        metric=first["metric"],
        points=len(y),
        status=status,
        reason="; ".join(reasons) or None,
        excluded_runs=excluded,
        noise=NoiseFit(
            sigma=noise.sigma,
            phi=noise.phi,
            long_run_sigma=noise.long_run_sigma,
            slope_per_run=math.expm1(found.slope),
            season_period=found.period,
        )
        if noise is not None
        else None,
        latest_median=float(frame["median"][-1]),
        series=[
            SeriesPoint(**row) for row in frame.select(list(SeriesPoint.model_fields)).iter_rows(named=True)
        ],
        change_points=changes,
        trend=Trend(since_run_id=run_ids[int(since[0])] if len(since) else None, **vars(fit)),
        gate=gated,
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
    max_points: int | None = MAX_POINTS,
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
