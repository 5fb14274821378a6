"""Writing reports: ``<reports>/<suite>/<run_id>/report.{md,json,html}``, atomically, plus a ``latest`` link.

Another run's report is never touched; re-rendering the same run replaces its files atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench_pipeline.files import write_text_atomic
from bench_pipeline.report.html import render_html
from bench_pipeline.report.json_export import render_json
from bench_pipeline.report.markdown import render_markdown
from bench_pipeline.report.model import Report

FORMATS = ("md", "json", "html")


def _point_latest(suite_dir: Path, run_id: str) -> None:
    link = suite_dir / "latest"
    tmp = suite_dir / f".latest-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run_id)
    os.replace(tmp, link)


def write_reports(
    report: Report,
    reports_dir: Path,
    formats: tuple[str, ...] | list[str] = FORMATS,
    *,
    point_latest: bool = True,
) -> dict[str, Path]:
    """Write the report in each format; ``point_latest`` moves ``<suite>/latest`` to this run."""
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown report format(s) {sorted(unknown)}; known: {', '.join(FORMATS)}")
    suite_dir = reports_dir / report.suite
    run_dir = suite_dir / report.run.run_id
    written: dict[str, Path] = {}
    # a truncated Markdown report names the file holding the full tables (this run's HTML when there is one)
    html_name = "report.html" if "html" in formats or (run_dir / "report.html").exists() else None
    renderers = {
        "md": lambda: render_markdown(report, html_name=html_name),
        "json": lambda: render_json(report),
        "html": lambda: render_html(report),
    }
    for fmt in formats:
        path = run_dir / f"report.{fmt}"
        write_text_atomic(path, renderers[fmt]())
        written[fmt] = path
    if point_latest:
        _point_latest(suite_dir, report.run.run_id)
    return written
