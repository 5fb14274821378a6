"""hyperfine's ``--export-json`` shape: one result per cell of a run, named ``tool/operation (fixture)``,
with every timed run (``times`` in s, ``exit_codes``, ``memory_usage_byte`` when every run has a peak
RSS) and hyperfine's summary fields (mean, stddev, median, min, max over those runs; ``user`` and
``system`` as means), so hyperfine's own scripts (``plot_whisker.py``, ``advanced_statistics.py``) and
the ``hyperfine`` adapter read it.

Failed runs are included with their exit codes, as hyperfine ``-i`` writes them; the adapter counts a
run as successful when its exit code is 0, so a cell whose operation *expects* another exit code (a
merge stopping on a conflict) comes back as failed. Times are exact: a whole number of ns divided by
10⁹ has at most 15 significant digits below 10⁶ s, which a double and its shortest repr keep exactly.
"""

from __future__ import annotations

import json
import statistics

import polars as pl

from bench_pipeline.ingest.export import cell_name
from bench_pipeline.store import Store

NAME = "hyperfine"
SUFFIX = ".json"
SAMPLES_SQL = """SELECT tool, operation, fixture, wall_ns, user_ns, sys_ns, peak_rss_bytes, exit_code
                 FROM samples_all WHERE run_id = ? ORDER BY tool, operation, fixture, round, iteration"""


def _seconds(ns: float) -> float:
    return ns / 1e9


def _mean_seconds(values: list[int | None]) -> float | None:
    known = [v for v in values if v is not None]
    return _seconds(statistics.fmean(known)) if known else None


def render(store: Store, run_id: str) -> str:
    frame = store.query(SAMPLES_SQL, [run_id])
    results = []
    for (tool, operation, fixture), cell in frame.group_by(
        ["tool", "operation", "fixture"], maintain_order=True
    ):
        times = [_seconds(ns) for ns in cell["wall_ns"].to_list()]
        result: dict = {
            "command": cell_name(str(tool), str(operation), str(fixture)),
            "mean": statistics.fmean(times),
            "stddev": statistics.stdev(times) if len(times) > 1 else None,
            "median": statistics.median(times),
            "user": _mean_seconds(cell["user_ns"].to_list()),
            "system": _mean_seconds(cell["sys_ns"].to_list()),
            "min": min(times),
            "max": max(times),
            "times": times,
            "exit_codes": cell["exit_code"].to_list(),
        }
        if cell["peak_rss_bytes"].null_count() == 0:
            result["memory_usage_byte"] = cell["peak_rss_bytes"].cast(pl.Int64).to_list()
        results.append({k: v for k, v in result.items() if v is not None})
    return json.dumps({"results": results}, indent=1) + "\n"
