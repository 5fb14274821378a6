"""CSV: one row per timed sample of a run, with every sample column a result from elsewhere may carry
(``ingested`` in ``bench_pipeline.store.schema``) and its extra metrics as a JSON object in the last
column. The ``native`` adapter reads it back (detected by its header); dropped: what only the runner
measures (stderr tail, OOM kills, cgroup counters) and the cells' categories and parameters.

Values as DuckDB stores them: integers in ns and bytes, ``true``/``false``, ISO 8601 times, empty for null.
"""

from __future__ import annotations

import csv
import io
import json

from bench_pipeline.ingest.export import samples_with_metrics
from bench_pipeline.store import Store
from bench_pipeline.store.schema import SAMPLE_COLUMNS

NAME = "csv"
SUFFIX = ".csv"
#: the header: the ingestible sample columns in table order (timed samples only: no ``warmup``), metrics
COLUMNS: tuple[str, ...] = (*(c.name for c in SAMPLE_COLUMNS if c.ingested and c.name != "warmup"), "metrics")


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render(store: Store, run_id: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for sample in samples_with_metrics(store, run_id):
        metrics = sample.get("metrics") or {}
        row = [_text(sample.get(c)) for c in COLUMNS[:-1]]
        writer.writerow([*row, json.dumps(metrics, separators=(",", ":")) if metrics else ""])
    return out.getvalue()
