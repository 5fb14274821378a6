"""History of a suite across runs: each cell's series of medians, change points, trends, the same-run gate.

Plain Python (no Dagster). Methods, formulas, references and defaults: ``docs/history.md``; each
module's docstring states its own.

    load_series(store, suite, tool, metric)       -> one row per cell × run          (series.py)
    detect_changes(log_medians, delta)            -> E-divisive + PELT-L1, confirmed (changepoints.py)
    trend(log_medians)                            -> Theil–Sen, Mann–Kendall, forecast (trend.py)
    same_run_gate(log_medians, window)            -> newest run vs prediction interval (gate.py)
    analyse_history(store, suite, tool, metric)   -> list[CellHistory]               (analyse.py)
    report_history(cells)                         -> the report's ``history`` field

What the history finds is recorded in the learning store by ``bench_pipeline.patterns.record``.
"""

from bench_pipeline.history.cells import analyse_cell, analyse_history, report_history, suite_delta
from bench_pipeline.history.changepoints import Change, Detection, detect_changes, e_divisive, pelt_l1
from bench_pipeline.history.gate import GateResult, same_run_gate
from bench_pipeline.history.model import CellHistory, ChangePoint, Gate, SeriesPoint, Trend
from bench_pipeline.history.series import METRICS, load_series, run_counts
from bench_pipeline.history.trend import TrendFit, trend

__all__ = [
    "METRICS",
    "CellHistory",
    "Change",
    "ChangePoint",
    "Detection",
    "Gate",
    "GateResult",
    "SeriesPoint",
    "Trend",
    "TrendFit",
    "analyse_cell",
    "analyse_history",
    "detect_changes",
    "e_divisive",
    "load_series",
    "pelt_l1",
    "report_history",
    "run_counts",
    "same_run_gate",
    "suite_delta",
    "trend",
]
