"""Render the reports of one run of a suite (the library behind the ``report`` asset and CLI)."""

from __future__ import annotations

from pathlib import Path

from bench_pipeline import paths
from bench_pipeline.patterns import report_scaling, scaling_fits
from bench_pipeline.patterns.findings import run_findings
from bench_pipeline.patterns.record import stored_history
from bench_pipeline.report import Report, build_report, write_reports
from bench_pipeline.report.archive import FORMATS
from bench_pipeline.report.model import HistorySeries, ScalingFit
from bench_pipeline.store import Store


def render_run(
    store: Store,
    suite: str,
    ref: str = "latest",
    formats: tuple[str, ...] | list[str] = FORMATS,
    reports_dir: Path | None = None,
) -> tuple[Report, dict[str, Path]]:
    run_id = store.resolve_run(suite, ref)
    newest = store.resolve_run(suite, "latest")
    report = build_report(
        store,
        suite,
        run_id,
        history=_history(store, suite, run_id),
        scaling=_scaling(store, suite, run_id),
        findings=run_findings(store, suite, run_id),
    )
    written = write_reports(
        report, reports_dir or paths.reports_dir(), formats, point_latest=run_id == newest
    )
    return report, written


def _history(store: Store, suite: str, run_id: str) -> list[HistorySeries]:
    """The run's cells over time, with change points (what the ``history`` asset recorded)."""
    return [HistorySeries.model_validate(h) for h in stored_history(store, suite, run_id)]


def _scaling(store: Store, suite: str, run_id: str) -> list[ScalingFit]:
    """Growth of cost with fixture size (and parameter ranges) per tool and operation."""
    return [ScalingFit.model_validate(f) for f in report_scaling(scaling_fits(store, suite, run_id=run_id))]
