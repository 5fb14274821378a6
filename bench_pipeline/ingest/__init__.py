"""Results from elsewhere: adapters for other benchmarking tools' output, and the path that stores it.

Public API::

    ingest_files(paths, fmt="auto", suite=None, tool=None, run_id=None, started_at=None, store=None)
        -> IngestResult(run_id, run_ids, samples, operations, warnings, ...)
    ingest_runs(runs, batch_id=None, ...)        # validated API payloads (bench_pipeline.ingest.payload)
    detect_format(Source(path)) -> str           # by content: hyperfine, criterion, ..., native
    export_run(store, run_id) -> dict            # a run as JSON that the ``native`` adapter reads back

Formats and what each keeps or loses: docs/ingest.md. Adapters live in ``adapters/`` (one module each).
"""

from bench_pipeline.ingest.adapters import FORMATS
from bench_pipeline.ingest.export import export_run
from bench_pipeline.ingest.load import IngestResult, detect_format, ingest_files, ingest_runs, parse_path
from bench_pipeline.ingest.source import Source

__all__ = [
    "FORMATS",
    "IngestResult",
    "Source",
    "detect_format",
    "export_run",
    "ingest_files",
    "ingest_runs",
    "parse_path",
]
