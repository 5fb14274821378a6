"""Reports of a run: a pydantic model built from the store, rendered by sibling exporters
(``markdown``, ``json_export``, ``html``), written to an archive that never overwrites another run's
report. ``schema`` generates the JSON Schema of the JSON form (docs/report-schema.json).
``github`` turns a report or a comparison into a CI step summary and pull-request comment;
``dashboard`` / ``dashboard_pages`` are the history dashboard's data and pages (served by
``interfaces/http/dashboard.py``).
"""

from bench_pipeline.report.archive import FORMATS, write_reports
from bench_pipeline.report.build import build_report
from bench_pipeline.report.model import SCHEMA_VERSION, Report

__all__ = ["FORMATS", "SCHEMA_VERSION", "Report", "build_report", "write_reports"]
