"""The suites and tools that arrived by ingestion, for the Dagster code location's partitions.

A suite of ingested results (hyperfine files, API submissions, …) usually has no ``suites/*.yaml``,
so the static partitions built from suite files would not offer it, and its runs could not go
through the analysis assets (cell_stats, comparisons, history, patterns, report) from the UI.
Ingestion therefore records every suite and tool it stores in ``$BENCH_PIPELINE_HOME/
ingested-suites.json``, and ``assets/partitions.py`` adds them to the suite and tool dimensions. The
code location reads this small file, never DuckDB, at load time: a running pipeline may hold the
database's write lock. New suites appear after the code location reloads (the UI's "Reload", or a
restart of ``bench-pipeline ui``).

Format: ``{"suites": {"<suite>": ["<tool>", …]}}``. Written atomically (temp file + rename);
an unreadable file reads as empty, with a warning.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from bench_pipeline import paths
from bench_pipeline.files import write_text_atomic

log = logging.getLogger(__name__)
FILE_NAME = "ingested-suites.json"


def catalogue_path() -> Path:
    return paths.home() / FILE_NAME


def read_catalogue(path: Path | None = None) -> dict[str, list[str]]:
    """Suite → sorted tools, as recorded; {} when there is no (readable) file."""
    path = path or catalogue_path()
    try:
        data = json.loads(path.read_text())
        suites = data["suites"]
        return {str(s): sorted({str(t) for t in tools}) for s, tools in suites.items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning(
            "ignoring %s (%s): ingested suites get no Dagster partitions until it is rewritten", path, exc
        )
        return {}


def record_suites(suite_tools: dict[str, set[str]], path: Path | None = None) -> bool:
    """Merge ``suite_tools`` into the catalogue; True when it changed (then the file was rewritten)."""
    path = path or catalogue_path()
    current = read_catalogue(path)
    merged = {s: set(t) for s, t in current.items()}
    for suite, tools in suite_tools.items():
        merged.setdefault(suite, set()).update(tools)
    out = {s: sorted(t) for s, t in sorted(merged.items())}
    if out == current:
        return False
    write_text_atomic(path, json.dumps({"suites": out}, indent=1, sort_keys=True))
    return True
