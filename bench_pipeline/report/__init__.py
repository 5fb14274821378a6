"""Reports of a run: a pydantic model built from the store, rendered by sibling exporters
(``markdown``, ``json_export``), written to an archive that never overwrites another run's report.
"""

from bench_pipeline.report.archive import write_reports
from bench_pipeline.report.model import SCHEMA_VERSION, Report, build_report

__all__ = ["SCHEMA_VERSION", "Report", "build_report", "write_reports"]
