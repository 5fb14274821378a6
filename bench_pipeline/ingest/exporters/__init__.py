"""Exporters: a stored run in the formats other tools read, siblings behind the same three names.

Each module exposes ``NAME`` (the ``export --format`` value), ``SUFFIX`` (a file name's ending) and
``render(store, run_id) -> str``. Every format is one the ingestion adapters read back
(``bench_pipeline.ingest.adapters``), so export → ingest gives the same medians per cell (tests:
``tests/integration/test_export.py``). What each keeps: docs/ingest.md, "Export".

    csv         one row per timed sample, every column a source may carry (read back by ``native``)
    bmf         Bencher Metric Format: per cell the median wall time and its 95% CI (``bmf``)
    hyperfine   hyperfine's ``--export-json``: per cell every timed run, exit codes, peak RSS (``hyperfine``)
    native      bench-pipeline's own JSON (``export_run``), the lossless one
"""

from __future__ import annotations

import json
from types import ModuleType

from bench_pipeline.ingest.export import export_run
from bench_pipeline.ingest.exporters import bmf, csv_samples, hyperfine
from bench_pipeline.store import Store


class _Native:
    NAME = "native"
    SUFFIX = ".json"

    @staticmethod
    def render(store: Store, run_id: str) -> str:
        return json.dumps(export_run(store, run_id), indent=1) + "\n"


EXPORTERS: dict[str, ModuleType | type[_Native]] = {m.NAME: m for m in (csv_samples, bmf, hyperfine, _Native)}
FORMATS: tuple[str, ...] = tuple(EXPORTERS)


def export_text(store: Store, run_id: str, fmt: str) -> str:
    """The run ``run_id`` in ``fmt`` (one of :data:`FORMATS`); raises RunNotFound for an unknown run."""
    store.run(run_id)
    return EXPORTERS[fmt].render(store, run_id)
