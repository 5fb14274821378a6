"""Render the reports of one run of a suite (the library behind the ``report`` asset and CLI)."""

from __future__ import annotations

from pathlib import Path

from bench_pipeline import paths
from bench_pipeline.report import Report, build_report, write_reports
from bench_pipeline.report.archive import FORMATS
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
    report = build_report(store, suite, run_id)
    written = write_reports(
        report, reports_dir or paths.reports_dir(), formats, point_latest=run_id == newest
    )
    return report, written
