"""Building a run's ``Report`` from the store: cells, statistics, comparisons, verdict sentences."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import polars as pl

from bench_pipeline import stats
from bench_pipeline.errors import BenchError, SuiteError
from bench_pipeline.fixtures import fixture_for

# MAJOR.MINOR: MINOR adds optional fields (old readers keep working); MAJOR renames or removes.
# 1.2: quantiles q1/q3/iqr per cell × metric, fixtures (sizes), history and scaling sections.
# 1.5: recommendations, error_clusters, quality, similar_runs (patterns.findings).
from bench_pipeline.jsonable import decode_json_text, finite_float
from bench_pipeline.patterns.findings import RunFindings
from bench_pipeline.report.model import (
    METRIC_WORDS,
    Comparison,
    FixtureSize,
    HistorySeries,
    MetricSummary,
    OperationRow,
    PairSummary,
    Report,
    RunInfo,
    ScalingFit,
    TargetResult,
    ToolCell,
    UnavailableTool,
)
from bench_pipeline.report.revisions import builds_of_run, release_history, revision_changes
from bench_pipeline.store import Store
from bench_pipeline.suite import find_suite, parse_target

QUARTILES_SQL = """
SELECT tool, operation, fixture,
       quantile_cont(wall_ns, [0.25, 0.75]) AS wall,
       quantile_cont(user_ns + sys_ns, [0.25, 0.75]) AS cpu,
       quantile_cont(peak_rss_bytes, [0.25, 0.75]) AS rss
FROM samples_all WHERE run_id = ? AND ok
GROUP BY tool, operation, fixture
"""


def _suite_targets(suite: str) -> tuple[dict[str, dict[str, str]], float]:
    """Targets per (base) operation and δ from the current suite file (empty when it is gone)."""
    try:
        definition = find_suite(suite)
    except SuiteError:
        return {}, 0.03
    return {op.name: op.targets for op in definition.operations if op.targets}, definition.settings.delta


def _targets(spec: dict[str, str], metrics: dict[str, MetricSummary]) -> list[TargetResult]:
    out = []
    for key, limit_text in spec.items():
        metric, stat, limit = parse_target(key, limit_text)
        summary = metrics.get(metric)
        value = getattr(summary, stat, None) if summary else None
        out.append(
            TargetResult(
                target=f"{key} < {limit_text}",
                metric=metric,
                stat=stat,
                limit=limit,
                value=value,
                passed=None if value is None else value < limit,
            )
        )
    return out


def _fixture_sizes(names: set[str]) -> dict[str, FixtureSize]:
    """Sizes of the generated tiers among ``names``, smallest first; other fixtures without sizes."""
    out = {}
    for name in names:
        try:
            spec = fixture_for(name)
        except BenchError:
            out[name] = FixtureSize(name=name)
            continue
        out[name] = FixtureSize(
            name=name, commits=spec.commits, files=spec.files, file_size_median=spec.file_size_median
        )
    return dict(sorted(out.items(), key=lambda kv: (kv[1].commits is None, kv[1].commits or 0, kv[0])))


def build_report(
    store: Store,
    suite: str,
    run_id: str,
    *,
    history: list[HistorySeries] | None = None,
    scaling: list[ScalingFit] | None = None,
    findings: RunFindings | None = None,
) -> Report:
    """The report of one run; ``history``, ``scaling`` and ``findings`` come from the analyses that
    compute them."""
    run = store.run(run_id)
    targets, delta = _suite_targets(suite)
    cells = store.query(
        "SELECT * FROM run_cells WHERE run_id = ? ORDER BY operation, fixture, tool", [run_id]
    )
    cell_stats = store.query("SELECT * FROM cell_stats_all WHERE run_id = ?", [run_id])
    compared = store.query(
        "SELECT * FROM comparisons WHERE run_id = ? ORDER BY operation, fixture, metric", [run_id]
    )
    n_samples = store.query("SELECT count(*) AS n FROM samples_all WHERE run_id = ?", [run_id]).item(0, 0)
    quartiles = {
        (r["tool"], r["operation"], r["fixture"]): r
        for r in store.query(QUARTILES_SQL, [run_id]).iter_rows(named=True)
    }

    by_cell: dict[tuple[str, str, str], dict[str, MetricSummary]] = {}
    warnings_by_cell: dict[tuple[str, str, str], list[str]] = {}
    for stat in cell_stats.iter_rows(named=True):
        key = (stat["tool"], stat["operation"], stat["fixture"])
        fields = {k: finite_float(stat.get(k)) for k in MetricSummary.model_fields if k != "n"}
        q = (quartiles.get(key) or {}).get(stat["metric"])
        if q and int(stat["n"] or 0) > 0:
            fields["q1"], fields["q3"] = finite_float(q[0]), finite_float(q[1])
        by_cell.setdefault(key, {})[stat["metric"]] = MetricSummary(n=int(stat["n"] or 0), **fields)
        if stat["metric"] == "wall":
            warnings_by_cell[key] = list(stat.get("warnings") or [])

    rows: dict[tuple[str, str], OperationRow] = {}
    invalid: set[tuple[str, str, str]] = set()
    for c in cells.iter_rows(named=True):
        row = rows.setdefault(
            (c["operation"], c["fixture"]),
            OperationRow(
                operation=c["operation"], category=c["category"] or "", fixture=c["fixture"], tools={}
            ),
        )
        key = (c["tool"], c["operation"], c["fixture"])
        metrics = by_cell.get(key, {})
        if c.get("valid") is False:
            invalid.add(key)
        row.tools[c["tool"]] = ToolCell(
            status=c["status"],
            reason=c["reason"] or "",
            n_ok=c["n_ok"] or 0,
            n_failed=c["n_failed"] or 0,
            stop=c["stop"] or "",
            valid=c.get("valid"),
            equivalence=c.get("equivalence"),
            similarity=finite_float(c.get("similarity")),
            metrics=metrics,
            warnings=warnings_by_cell.get(key, []),
            targets=_targets(targets.get(c.get("base_operation") or c["operation"], {}), metrics),
        )

    comparisons = []
    for r in compared.iter_rows(named=True):
        broken = (r["tool_a"], r["operation"], r["fixture"]) in invalid or (
            r["tool_b"],
            r["operation"],
            r["fixture"],
        ) in invalid
        comparisons.append(
            Comparison(
                operation=r["operation"],
                fixture=r["fixture"],
                metric=r["metric"],
                tool_a=r["tool_a"],
                tool_b=r["tool_b"],
                median_a=finite_float(r["median_a"]),
                median_b=finite_float(r["median_b"]),
                ratio=finite_float(r["ratio"]),
                ci_low=finite_float(r["ci_low"]),
                ci_high=finite_float(r["ci_high"]),
                p_value=finite_float(r["p_value"]),
                p_adjusted=finite_float(r["p_adjusted"]),
                verdict="invalid" if broken else r["verdict"],
                n_a=int(r["n_a"] or 0),
                n_b=int(r["n_b"] or 0),
                estimator=r.get("estimator"),
                ci_level=finite_float(r.get("ci_level")),
                decision=r.get("decision"),
                n_rounds=r.get("n_rounds"),
            )
        )
    if not compared.is_empty():
        delta = float(compared["delta"][0])

    counts: dict[str, int] = {}
    for status in cells["status"].to_list():
        counts[status] = counts.get(status, 0) + 1
    info = RunInfo(
        run_id=run["run_id"],
        suite=run["suite"],
        status=run["status"],
        started_at=str(run["started_at"]),
        finished_at=str(run["finished_at"]) if run["finished_at"] else None,
        trigger=run["trigger"],
        backend=run["backend"],
        git_tag=run["git_tag"],
        git_commit=run["git_commit"],
        quick=bool(run["quick"]),
        tools=decode_json_text(run["tools"]) or [],
        sizes=decode_json_text(run["sizes"]) or [],
        tool_versions=decode_json_text(run["tool_versions"]) or {},
        host=decode_json_text(run["host"]) or {},
        settings=decode_json_text(run["settings"]) or {},
        seconds=run["seconds"],
        measuring=decode_json_text(run.get("measuring")) or {},
    )
    return Report(
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        suite=suite,
        run=info,
        cell_counts=counts,
        samples=int(n_samples),
        delta=delta,
        unavailable_tools=[
            UnavailableTool(
                tool=tool,
                action=str(v.get("action", "unavailable")),
                reason=str(v.get("reason", "")),
                fix=str(v.get("fix", "")),
            )
            for tool, v in sorted((decode_json_text(run.get("unavailable")) or {}).items())
        ],
        builds=builds_of_run(store, run_id),
        revisions=revision_changes(compared, info.tools, invalid),
        releases=release_history(store, suite, info.tools),
        findings=_findings(comparisons),
        pairs=_pairs(compared, comparisons),
        operations=list(rows.values()),
        comparisons=comparisons,
        not_measured=_not_measured(info, cells, bool(comparisons), history=bool(history)),
        warnings=_warnings(rows),
        fixtures=_fixture_sizes({*info.sizes, *(r.fixture for r in rows.values())}),
        history=history or [],
        scaling=scaling or [],
        recommendations=findings.recommendations if findings else [],
        error_clusters=findings.error_clusters if findings else [],
        quality=findings.quality if findings else None,
        similar_runs=findings.similar_runs if findings else [],
    )


def times(ratio: float) -> str:
    return f"{ratio:.2f}×" if ratio < 10 else f"{ratio:.0f}×"


def finding(c: Comparison) -> str:
    """A sentence a maintainer can paste: B vs A, by how much, how sure (the CI)."""
    what = METRIC_WORDS.get(c.metric, c.metric)
    assert c.ratio and c.ci_low and c.ci_high
    level = f"{c.ci_level:.1%}".replace(".0%", "%") if c.ci_level else "95%"
    if c.metric not in METRIC_WORDS:
        # an extra metric (tokens, cost, a score) has no direction we could call better: the ratio
        return (
            f"{c.tool_b} has {times(c.ratio)} the {c.metric} of {c.tool_a} at `{c.operation}` on {c.fixture} "
            f"({level} CI {c.ci_low:.2f}–{c.ci_high:.2f}×, p_adj {c.p_adjusted:.2g})"
        )
    if c.verdict == "faster":
        adj = "faster" if c.metric != "rss" else "lighter"
        factor, lo, hi = 1 / c.ratio, 1 / c.ci_high, 1 / c.ci_low
    else:
        adj = "slower" if c.metric != "rss" else "heavier"
        factor, lo, hi = c.ratio, c.ci_low, c.ci_high
    return (
        f"{c.tool_b} is {times(factor)} {adj} than {c.tool_a} at `{c.operation}` on {c.fixture} "
        f"({what}; {level} CI {lo:.2f}–{hi:.2f}×, p_adj {c.p_adjusted:.2g})"
    )


def _findings(comparisons: list[Comparison]) -> list[str]:
    significant = [
        c
        for c in comparisons
        if c.verdict in ("faster", "slower")
        and c.ratio
        and c.ci_low
        and c.ci_high
        and c.p_adjusted is not None
    ]
    significant.sort(key=lambda c: (c.metric != "wall", -abs(math.log(c.ratio or 1))))
    return [finding(c) for c in significant]


def _pairs(compared: pl.DataFrame, comparisons: list[Comparison]) -> list[PairSummary]:
    if compared.is_empty():
        return []
    valid_keys = {
        (c.operation, c.fixture, c.metric, c.tool_a, c.tool_b) for c in comparisons if c.verdict != "invalid"
    }
    frame = compared.filter(
        pl.struct("operation", "fixture", "metric", "tool_a", "tool_b").map_elements(
            lambda s: (s["operation"], s["fixture"], s["metric"], s["tool_a"], s["tool_b"]) in valid_keys,
            return_dtype=pl.Boolean,
        )
    )
    if frame.is_empty():
        return []
    summary = stats.geomean_ratios(frame)
    out = []
    for r in summary.iter_rows(named=True):
        verdicts = {k[2:]: int(v) for k, v in r.items() if k.startswith("n_") and k != "n_cells" and v}
        out.append(
            PairSummary(
                tool_a=r["tool_a"],
                tool_b=r["tool_b"],
                metric=r["metric"],
                cells=int(r["n_cells"]),
                geomean_ratio=finite_float(r["geomean_ratio"]),
                ci_low=finite_float(r["ci_low"]),
                ci_high=finite_float(r["ci_high"]),
                verdicts=verdicts,
            )
        )
    return out


def _not_measured(info: RunInfo, cells: pl.DataFrame, compared: bool, *, history: bool) -> list[str]:
    notes = []
    missing_sizes = [s for s in ("small", "medium", "large") if s not in info.sizes]
    if missing_sizes:
        notes.append(f"Fixture sizes not run: {', '.join(missing_sizes)}.")
    if info.quick:
        notes.append(
            "Quick mode: few runs per cell, so confidence intervals are wide; use a full run for verdicts."
        )
    for status, label in (("na", "not applicable"), ("unavailable", "unavailable"), ("failed", "failed")):
        items = sorted(
            {
                f"{c['tool']}/{c['operation']} ({c['fixture']})"
                for c in cells.iter_rows(named=True)
                if c["status"] == status
            }
        )
        if items:
            notes.append(
                f"{label.capitalize()} cells ({len(items)}): {', '.join(items[:20])}"
                + (f" and {len(items) - 20} more" if len(items) > 20 else "")
                + "."
            )
    bad = sorted(
        {
            f"{c['tool']}/{c['operation']} ({c['fixture']})"
            for c in cells.iter_rows(named=True)
            if c.get("valid") is False
        }
    )
    if bad:
        notes.append(
            f"Invalid cells ({len(bad)}): the resulting state differs from the reference tool's, so no "
            f"verdict is given: {', '.join(bad[:20])}."
        )
    if not compared and len(info.tools) > 1:
        notes.append("No comparisons between tools were computed for this run.")
    if not history:
        notes.append("History across runs (change points, trends) is not part of this report.")
    return notes


def _warnings(rows: dict) -> list[str]:
    out = []
    noisy = [
        f"{t}/{r.operation} ({r.fixture})"
        for r in rows.values()
        for t, c in r.tools.items()
        if "wall" in c.metrics and (c.metrics["wall"].cv or 0) >= 0.10
    ]
    if noisy:
        out.append(
            f"{len(noisy)} cell(s) have CV ≥ 10%: {', '.join(noisy[:10])}{' …' if len(noisy) > 10 else ''}"
        )
    missed = [
        f"{t}/{r.operation} ({r.fixture}): {x.target}"
        for r in rows.values()
        for t, c in r.tools.items()
        for x in c.targets
        if x.passed is False
    ]
    if missed:
        out.append(
            f"{len(missed)} target(s) missed: {', '.join(missed[:10])}{' …' if len(missed) > 10 else ''}"
        )
    return out
