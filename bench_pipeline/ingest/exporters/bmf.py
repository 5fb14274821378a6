"""Bencher Metric Format (https://bencher.dev/docs/reference/bencher-metric-format/): per cell of a run
``{"tool/operation (fixture)": {"latency": {"value", "lower_value", "upper_value"}}}`` — the median wall
time in ns with its 95% confidence interval (``cell_stats``), ready for ``bencher run --adapter json``.

Only ``latency``: Bencher's other built-in measures do not fit, and a custom measure must first be
created in the Bencher project. The ``bmf`` adapter reads the file back as one summary value per cell
(the median, exactly, as the metric ``wall_ns_exact``; ``wall_ns`` is it rounded to whole ns).
"""

from __future__ import annotations

import json
import math

from bench_pipeline.ingest.export import cell_name
from bench_pipeline.store import Store

NAME = "bmf"
SUFFIX = ".json"
CELLS_SQL = """SELECT tool, operation, fixture, median, ci_low, ci_high FROM cell_stats_all
               WHERE run_id = ? AND metric = 'wall' AND median IS NOT NULL ORDER BY tool, operation, fixture"""


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def render(store: Store, run_id: str) -> str:
    out: dict[str, dict] = {}
    for c in store.query(CELLS_SQL, [run_id]).iter_rows(named=True):
        latency = {"value": _number(c["median"])}
        if _number(c["ci_low"]) is not None and _number(c["ci_high"]) is not None:
            latency |= {"lower_value": _number(c["ci_low"]), "upper_value": _number(c["ci_high"])}
        out[cell_name(c["tool"], c["operation"], c["fixture"])] = {"latency": latency}
    return json.dumps(out, indent=1) + "\n"
