"""Data-quality and gate checks on a run, as plain functions (the Dagster asset checks wrap them).

Each returns a ``CheckOutcome``: passed, a one-line summary and the offending cells.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from bench_pipeline.errors import BenchError, RunNotFound
from bench_pipeline.store import Store
from bench_pipeline.suite import find_suite, parse_target

NOISE_CV = 0.10


@dataclass
class CheckOutcome:
    passed: bool
    summary: str
    cells: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)


def newest_run(store: Store, suite: str) -> str | None:
    try:
        return store.resolve_run(suite, "latest")
    except RunNotFound:
        return None


def _cells(df, fmt: str = "{tool}/{operation} ({fixture})") -> list[str]:
    return [fmt.format(**r) for r in df.iter_rows(named=True)]


def noise(store: Store, run_id: str, tool: str | None = None, threshold: float = NOISE_CV) -> CheckOutcome:
    clause, params = (" AND tool = ?", [tool]) if tool else ("", [])
    df = store.query(
        "SELECT tool, operation, fixture, cv FROM cell_stats_all WHERE run_id = ? AND metric = 'wall' "
        "AND cv >= ?" + clause + " ORDER BY cv DESC",
        [run_id, threshold, *params],
    )
    cells = [f"{c} CV {cv:.0%}" for c, cv in zip(_cells(df), df["cv"].to_list(), strict=True)]
    return CheckOutcome(
        not cells, f"{len(cells)} cell(s) with CV ≥ {threshold:.0%}" if cells else "no noisy cell", cells
    )


def sanity(store: Store, run_id: str, tool: str | None = None) -> CheckOutcome:
    clause, params = (" AND tool = ?", [tool]) if tool else ("", [])
    df = store.query(
        """SELECT tool, operation, fixture, count(*) AS bad FROM samples_all
           WHERE run_id = ? AND ok AND (wall_ns <= 0 OR user_ns < 0 OR sys_ns < 0 OR peak_rss_bytes <= 0)"""
        + clause
        + " GROUP BY ALL ORDER BY ALL",
        [run_id, *params],
    )
    cells = _cells(df)
    return CheckOutcome(not cells, f"{int(df['bad'].sum()) if cells else 0} impossible value(s)", cells)


def completeness(store: Store, run_id: str, tool: str | None = None) -> CheckOutcome:
    """Every planned cell has successful samples or an explicit state (failed, n/a, unavailable)."""
    clause, params = (" AND c.tool = ?", [tool]) if tool else ("", [])
    df = store.query(
        """SELECT c.tool, c.operation, c.fixture FROM run_cells c
           WHERE c.run_id = ? AND c.status = 'measured'"""
        + clause
        + """
             AND NOT EXISTS (SELECT 1 FROM samples_all s WHERE s.run_id = c.run_id AND s.tool = c.tool
                             AND s.operation = c.operation AND s.fixture = c.fixture AND s.ok)
           ORDER BY ALL""",
        [run_id, *params],
    )
    planned = store.query(
        "SELECT count(*) n FROM run_cells c WHERE c.run_id = ?" + clause, [run_id, *params]
    ).item()
    cells = _cells(df)
    return CheckOutcome(
        planned > 0 and not cells,
        f"{planned} planned cell(s), {len(cells)} without samples" if planned else "no planned cells",
        cells,
    )


def equivalence(store: Store, run_id: str) -> CheckOutcome:
    df = store.query(
        "SELECT tool, operation, fixture, similarity, reason FROM run_cells WHERE run_id = ? "
        "AND valid = FALSE ORDER BY ALL",
        [run_id],
    )
    checked = store.query(
        "SELECT count(*) FROM run_cells WHERE run_id = ? AND valid IS NOT NULL", [run_id]
    ).item()
    cells = _cells(df)
    return CheckOutcome(
        not cells,
        f"{checked} cell(s) checked, {len(cells)} with a different resulting state",
        cells,
        {"reasons": df["reason"].to_list()},
    )


def targets(store: Store, suite: str, run_id: str) -> CheckOutcome:
    try:
        spec = {op.name: op.targets for op in find_suite(suite).operations if op.targets}
    except BenchError:
        spec = {}
    if not spec:
        return CheckOutcome(True, "the suite sets no targets")
    df = store.query(
        """SELECT c.tool, c.operation, c.fixture, c.metric, c.median, c.mean, c.p95, c.p99, c.max,
                               coalesce(r.base_operation, c.operation) AS base
                        FROM cell_stats_all c LEFT JOIN run_cells r USING (run_id, tool, operation, fixture)
                        WHERE c.run_id = ?""",
        [run_id],
    )
    missed, checked = [], 0
    for row in df.iter_rows(named=True):
        for key, limit_text in spec.get(row["base"], {}).items():
            metric, stat, limit = parse_target(key, limit_text)
            if metric != row["metric"] or row[stat] is None:
                continue
            checked += 1
            if row[stat] >= limit:
                missed.append(f"{row['tool']}/{row['operation']} ({row['fixture']}): {key} < {limit_text}")
    return CheckOutcome(not missed, f"{checked} target(s) checked, {len(missed)} missed", missed)


def baseline_for(store: Store, suite: str, run_id: str) -> str | None:
    """The run a new run is judged against: for a tag run the previous tag run, else the previous
    finished full (non-quick) run of the suite on the same host — the same host class (a fleet's
    classes are never compared, docs/scaling.md) and the same machine fingerprint."""
    run = store.run(run_id)
    host = (run.get("host_class") or "local", json.loads(run["host"] or "{}").get("fingerprint"))
    tagged = "AND git_tag IS NOT NULL" if run["git_tag"] else ""
    df = store.query(
        f"""SELECT run_id, host, coalesce(host_class, 'local') FROM runs WHERE suite = ? AND status = 'succeeded'
            AND NOT quick AND started_at < ? {tagged} ORDER BY started_at DESC LIMIT 20""",
        [suite, run["started_at"]],
    )
    for rid, h, host_class in df.iter_rows():
        if (host_class, json.loads(h or "{}").get("fingerprint")) == host:
            return str(rid)
    return None


def regression_gate(store: Store, suite: str, run_id: str, metric: str = "wall") -> CheckOutcome:
    """Blocking: fails on a *confirmed* regression (``bench_pipeline.history.gate``: a regression against
    the baseline run that the cell's history agrees with, or one with too little history to ask)."""
    from bench_pipeline.analysis import compare_run_to_baseline
    from bench_pipeline.history import gate, suite_delta

    if store.run(run_id)["quick"]:
        return CheckOutcome(True, "quick run: not gated (too few runs for verdicts)")
    base = baseline_for(store, suite, run_id)
    if base is None:
        return CheckOutcome(True, "no comparable baseline run yet")
    delta = suite_delta(suite)
    _, _, notes, frame = compare_run_to_baseline(store, suite, base, run_id, None, metric)
    levels = gate.history_levels(store, suite, run_id, metric, delta=delta)
    decision = gate.decide(gate.with_history(frame, levels, delta=delta))
    failed = [gate.describe(r) for r in decision.failed]
    details = failed + [f"not confirmed by history: {gate.describe(r)}" for r in decision.unconfirmed]
    details += [f"history alert (not blocking): {gate.describe(r)}" for r in decision.history_alerts]
    message = (
        f"{len(failed)} confirmed regression(s) against {base}; {len(decision.unconfirmed)} not "
        f"confirmed by history; {len(decision.history_alerts)} history alert(s)"
    )
    return CheckOutcome(
        not failed,
        message,
        details,
        {
            "baseline": base,
            "confirmed": len(failed),
            "unconfirmed": len(decision.unconfirmed),
            "history_alerts": len(decision.history_alerts),
        },
    )
