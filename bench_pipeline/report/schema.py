"""The JSON Schema of the JSON report, generated from the pydantic ``Report`` model.

``python -m bench_pipeline.report.schema`` rewrites ``docs/report-schema.json``; a unit test keeps the
committed file equal to :func:`report_schema`. Versioning policy: see ``docs/reports.md``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench_pipeline.report.model import SCHEMA_VERSION, Report

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "report-schema.json"
SCHEMA_ID = "urn:bench-pipeline:report-schema:1"  # the MAJOR version: stable across MINOR bumps
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def report_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a report of schema version :data:`SCHEMA_VERSION`."""
    body = Report.model_json_schema()
    body.pop("title", None)
    description = body.pop("description", "")
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_ID,
        "title": "bench-pipeline report",
        "description": (
            f"{description} Schema version {SCHEMA_VERSION} (field `schema_version`): a MINOR bump "
            "only adds optional fields, so readers of an older MINOR keep working; a MAJOR bump "
            "renames or removes fields and changes `$id`. See docs/reports.md."
        ),
        "x-schema-version": SCHEMA_VERSION,
        **body,
    }


def schema_text() -> str:
    return json.dumps(report_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else SCHEMA_PATH
    path.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
