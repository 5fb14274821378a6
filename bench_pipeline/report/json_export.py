"""JSON exporter: the report model as versioned JSON (schema: docs/report-schema.json)."""

from __future__ import annotations

from bench_pipeline.report.model import Report


def render_json(report: Report) -> str:
    return report.model_dump_json(indent=2)
