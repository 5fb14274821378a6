"""``compare``: tool vs tool within a run, or a candidate run vs a baseline run (read-only).

Each call is its own Benjamini–Hochberg family (the rows it returns); the report's family is all
comparisons of the run. Runs measured on different hosts are compared but flagged.
"""

from __future__ import annotations

import json

import polars as pl

from bench_pipeline import stats
from bench_pipeline.analysis import read_samples, stats_frame
from bench_pipeline.errors import BenchError
from bench_pipeline.store import Store
from bench_pipeline.suite import suite_delta


def _fingerprint(store: Store, run_id: str) -> str:
    host = store.run(run_id).get("host")
    try:
        return str(json.loads(host).get("fingerprint", "")) if host else ""
    except (TypeError, json.JSONDecodeError):
        return ""


def compare_tools_in_run(
    store: Store, suite: str, ref: str, tool_a: str, tool_b: str, metric: str
) -> tuple[str, pl.DataFrame]:
    run_id = store.resolve_run(suite, ref)
    samples = read_samples(store, run_id, [tool_a, tool_b])
    present = set(samples["tool"].unique().to_list())
    missing = [t for t in (tool_a, tool_b) if t not in present]
    if missing:
        raise BenchError(
            f"run {run_id} has no samples of {', '.join(missing)}",
            fix=f"tools in this run: {', '.join(sorted(present)) or 'none'}",
        )
    out = stats.compare_tools(stats_frame(samples), [(tool_a, tool_b)], metric, delta=suite_delta(suite))
    return run_id, out


def compare_run_to_baseline(
    store: Store, suite: str, baseline: str, candidate: str, tool: str | None, metric: str
) -> tuple[str, str, list[str], pl.DataFrame]:
    base_id, cand_id = store.resolve_run(suite, baseline), store.resolve_run(suite, candidate)
    if base_id == cand_id:
        raise BenchError(
            f"baseline and candidate are the same run ({base_id})", fix="choose two different runs"
        )
    base = read_samples(store, base_id, [tool] if tool else None)
    cand = read_samples(store, cand_id, [tool] if tool else None)
    if base.is_empty() or cand.is_empty():
        empty = base_id if base.is_empty() else cand_id
        raise BenchError(
            f"run {empty} has no samples{f' of {tool}' if tool else ''}", fix="check --tool and the runs"
        )
    notes = []
    if _fingerprint(store, base_id) != _fingerprint(store, cand_id):
        notes.append(
            "baseline and candidate were measured on different hosts: differences may be the machine's"
        )
    out = stats.compare_runs(stats_frame(base), stats_frame(cand), metric, delta=suite_delta(suite))
    return base_id, cand_id, notes, out
