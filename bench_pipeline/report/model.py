"""The report model: everything a report shows, read from the store (``runs``, ``run_cells``,
``cell_stats_all``, ``samples_all``, ``comparisons``), so every number in any format is traceable to a
table. Its JSON form is the versioned contract ``docs/report-schema.json`` (see ``report.schema``)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import polars as pl
from pydantic import BaseModel, Field

from bench_pipeline import stats
from bench_pipeline.errors import BenchError, SuiteError
from bench_pipeline.fixtures import fixture_for
from bench_pipeline.jsonable import decode_json_text
from bench_pipeline.report.revisions import (
    ReleasePoint,
    RevisionChange,
    ToolBuild,
    builds_of_run,
    release_history,
    revision_changes,
)
from bench_pipeline.store import Store
from bench_pipeline.suite import find_suite, parse_target

# MAJOR.MINOR: MINOR adds optional fields (old readers keep working); MAJOR renames or removes.
# 1.2: quantiles q1/q3/iqr per cell × metric, fixtures (sizes), history and scaling sections.
# 1.4: builds (tools obtained from their build recipe) and revisions (what a newer revision changed).
SCHEMA_VERSION = "1.4"
METRIC_WORDS = {"wall": "time", "cpu": "CPU time", "rss": "peak memory"}

# q1/q3 over the same samples as cell_stats (timed, ``ok``), with the same interpolation (Hyndman &
# Fan type 7 = DuckDB's quantile_cont), so q1 ≤ median ≤ q3 hold against the stored medians.
QUARTILES_SQL = """
SELECT tool, operation, fixture,
       quantile_cont(wall_ns, [0.25, 0.75]) AS wall,
       quantile_cont(user_ns + sys_ns, [0.25, 0.75]) AS cpu,
       quantile_cont(peak_rss_bytes, [0.25, 0.75]) AS rss
FROM samples_all WHERE run_id = ? AND ok
GROUP BY tool, operation, fixture
"""


class MetricSummary(BaseModel):
    """One metric of one cell over its successful timed samples; times in ns, memory in bytes."""

    n: int = Field(description="successful timed samples")
    median: float | None = None
    mean: float | None = None
    std: float | None = None
    cv: float | None = Field(default=None, description="coefficient of variation, std / mean")
    min: float | None = None
    max: float | None = None
    p5: float | None = None
    p95: float | None = None
    p99: float | None = None
    q1: float | None = Field(
        default=None, description="25th percentile (null when raw samples are no longer kept)"
    )
    q3: float | None = Field(
        default=None, description="75th percentile (null when raw samples are no longer kept)"
    )
    iqr: float | None = Field(default=None, description="interquartile range q3 − q1")
    ci_low: float | None = Field(default=None, description="order-statistic 95% CI of the median (n ≥ 6)")
    ci_high: float | None = None


class TargetResult(BaseModel):
    target: str  # as written in the suite, e.g. "p99"
    metric: str
    stat: str
    limit: float
    value: float | None
    passed: bool | None  # None: no value to check


class ToolCell(BaseModel):
    """One tool on one operation × fixture: measured, or explicitly why not."""

    status: str = Field(description="measured | failed | na | unavailable")
    reason: str = ""
    n_ok: int = 0
    n_failed: int = 0
    stop: str = ""
    valid: bool | None = None  # False: the resulting state differs from the reference tool's
    equivalence: str | None = None
    similarity: float | None = None
    metrics: dict[str, MetricSummary] = Field(default_factory=dict)  # wall, cpu, rss
    warnings: list[str] = Field(default_factory=list)
    targets: list[TargetResult] = Field(default_factory=list)


class OperationRow(BaseModel):
    """One operation on one fixture, with a cell for every tool of the run (never a gap)."""

    operation: str
    category: str
    fixture: str
    tools: dict[str, ToolCell]


class Comparison(BaseModel):
    """Tool B relative to tool A on one cell: ratio = median_b / median_a."""

    operation: str
    fixture: str
    metric: str
    tool_a: str
    tool_b: str
    median_a: float | None
    median_b: float | None
    ratio: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_adjusted: float | None
    verdict: str  # faster | slower | equivalent | inconclusive (B relative to A); invalid: a state differs
    n_a: int
    n_b: int


class PairSummary(BaseModel):
    """Geometric mean of the B/A ratios over a pair's valid cells, with its CI, and verdict counts."""

    tool_a: str
    tool_b: str
    metric: str
    cells: int
    geomean_ratio: float | None
    ci_low: float | None
    ci_high: float | None
    verdicts: dict[str, int]


class FixtureSize(BaseModel):
    """The size of a fixture tier, for scaling curves (null for fixtures that are not generated tiers)."""

    name: str
    commits: int | None = None
    files: int | None = None
    file_size_median: int | None = Field(default=None, description="bytes")


class HistoryPoint(BaseModel):
    run_id: str
    started_at: str
    median: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    git_tag: str | None = None


class ChangePoint(BaseModel):
    """A persistent level shift in a cell's series of run medians; ``run_id`` is the first run at the new level."""

    run_id: str
    started_at: str
    before_median: float | None
    after_median: float | None
    ratio: float | None = Field(description="after_median / before_median")
    direction: str | None = Field(default=None, description="regression or improvement")
    p_value: float | None = Field(default=None, description="significance of the change (E-divisive)")


class Trend(BaseModel):
    slope_per_run: float | None = Field(default=None, description="Theil–Sen slope of the medians, per run")
    p_value: float | None = Field(default=None, description="Mann–Kendall test")
    significant: bool = False


class HistorySeries(BaseModel):
    """One cell's medians across runs (oldest first), with detected change points."""

    operation: str
    fixture: str
    tool: str
    metric: str
    points: list[HistoryPoint]
    change_points: list[ChangePoint] = Field(default_factory=list)
    trend: Trend | None = None

    @classmethod
    def from_cell(cls, cell: Any) -> HistorySeries:
        """From a history analysis result (object or dict) holding ``series`` or ``points`` of runs,
        ``change_points`` and ``trend``; timestamps may be datetimes."""
        data = cell if isinstance(cell, dict) else cell.model_dump()
        raw_points = data.get("series") if isinstance(data.get("series"), list) else data.get("points")

        def stamped(item: dict) -> dict:
            at = item.get("started_at")
            return {**item, "started_at": at.isoformat() if isinstance(at, datetime) else str(at)}

        return cls(
            operation=data["operation"],
            fixture=data["fixture"],
            tool=data["tool"],
            metric=data["metric"],
            points=[HistoryPoint.model_validate(stamped(p)) for p in raw_points or []],
            change_points=[ChangePoint.model_validate(stamped(c)) for c in data.get("change_points") or []],
            trend=Trend.model_validate(data["trend"]) if data.get("trend") else None,
        )


class ScalingPoint(BaseModel):
    fixture: str
    n: float = Field(description="the size in the fit's basis (e.g. the fixture's commits)")
    median: float | None
    label: str | None = Field(
        default=None, description="the cell's operation name (with parameters) or fixture"
    )
    run_id: str | None = None


class ScalingFit(BaseModel):
    """The cost of one (tool, operation) against size: median(n) ≈ fixed + slope·g(n), g given by
    ``growth``; ``fixture`` is set when the sizes are values of an operation's parameter."""

    tool: str
    operation: str
    fixture: str | None = None
    metric: str
    basis: str = Field(default="commits", description="commits | files (fixture tiers) or a parameter name")
    sizes: list[ScalingPoint]
    growth: str = Field(description="constant | log | linear | n log n | quadratic | unknown")
    exponent: float | None = Field(default=None, description="slope of log(median) against log(n)")
    r_squared: float | None = Field(default=None, description="fit quality of the chosen growth class")
    fit_p: float | None = Field(default=None, description="χ² goodness-of-fit p-value")
    aic_margin: float | None = Field(default=None, description="next class's AIC minus the chosen one's")
    clear: bool = Field(default=False, description="aic_margin ≥ 2: the class is clearly the best")
    fixed: float | None = Field(default=None, description="fitted fixed cost a")
    slope: float | None = Field(default=None, description="fitted b of a + b·g(n)")


class RunInfo(BaseModel):
    run_id: str
    suite: str
    status: str
    started_at: str
    finished_at: str | None
    trigger: str
    backend: str | None
    git_tag: str | None
    git_commit: str | None
    quick: bool
    tools: list[str]
    sizes: list[str]
    tool_versions: dict[str, str]
    host: dict[str, Any]
    settings: dict[str, Any]
    seconds: float | None


class UnavailableTool(BaseModel):
    tool: str
    action: str = Field(description="unavailable (cannot be had here) | skip (building refused) | failed")
    reason: str
    fix: str = Field(description="the one command (or step) that makes the tool available")


class Report(BaseModel):
    """A bench-pipeline report of one run of a suite (times in ns, memory in bytes, ratios B/A)."""

    schema_version: str = Field(
        default=SCHEMA_VERSION,
        pattern=r"^[0-9]+\.[0-9]+$",
        description="MAJOR.MINOR of this schema: a MINOR bump only adds optional fields; "
        "a MAJOR bump renames or removes fields",
    )
    generated_at: str
    suite: str
    run: RunInfo
    cell_counts: dict[str, int]
    samples: int
    delta: float = 0.03
    findings: list[str] = Field(default_factory=list)  # verdict sentences, largest effects first
    pairs: list[PairSummary] = Field(default_factory=list)
    operations: list[OperationRow]
    comparisons: list[Comparison] = Field(default_factory=list)
    not_measured: list[str]
    warnings: list[str]
    fixtures: dict[str, FixtureSize] = Field(default_factory=dict, description="sizes of the run's fixtures")
    history: list[HistorySeries] = Field(
        default_factory=list, description="medians across runs and change points; empty: not computed"
    )
    scaling: list[ScalingFit] = Field(
        default_factory=list, description="growth of cost with fixture size; empty: not computed"
    )
    unavailable_tools: list[UnavailableTool] = Field(
        default_factory=list,
        description="tools the run could not use, with why and the fix (since 1.3)",
    )
    builds: list[ToolBuild] = Field(
        default_factory=list,
        description="tools obtained from their build recipe: cached, built now, failed (since 1.4)",
    )
    revisions: list[RevisionChange] = Field(
        default_factory=list,
        description="what each newer revision of a tool changed against an older one in this run (since 1.4)",
    )
    releases: list[ReleasePoint] = Field(
        default_factory=list,
        description="every revision of this run's revised tools measured so far: its newest median (since 1.4)",
    )


def _finite(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else float(value)


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
) -> Report:
    """The report of one run; ``history`` and ``scaling`` come from the analyses that compute them."""
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
        fields = {k: _finite(stat.get(k)) for k in MetricSummary.model_fields if k != "n"}
        q = (quartiles.get(key) or {}).get(stat["metric"])
        if q and int(stat["n"] or 0) > 0:
            fields["q1"], fields["q3"] = _finite(q[0]), _finite(q[1])
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
            similarity=_finite(c.get("similarity")),
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
                median_a=_finite(r["median_a"]),
                median_b=_finite(r["median_b"]),
                ratio=_finite(r["ratio"]),
                ci_low=_finite(r["ci_low"]),
                ci_high=_finite(r["ci_high"]),
                p_value=_finite(r["p_value"]),
                p_adjusted=_finite(r["p_adjusted"]),
                verdict="invalid" if broken else r["verdict"],
                n_a=int(r["n_a"] or 0),
                n_b=int(r["n_b"] or 0),
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
    )


def times(ratio: float) -> str:
    return f"{ratio:.2f}×" if ratio < 10 else f"{ratio:.0f}×"


def finding(c: Comparison) -> str:
    """A sentence a maintainer can paste: B vs A, by how much, how sure (the CI)."""
    what = METRIC_WORDS.get(c.metric, c.metric)
    assert c.ratio and c.ci_low and c.ci_high
    if c.metric not in METRIC_WORDS:
        # an extra metric (tokens, cost, a score) has no direction we could call better: the ratio
        return (
            f"{c.tool_b} has {times(c.ratio)} the {c.metric} of {c.tool_a} at `{c.operation}` on {c.fixture} "
            f"(95% CI {c.ci_low:.2f}–{c.ci_high:.2f}×, p_adj {c.p_adjusted:.2g})"
        )
    if c.verdict == "faster":
        adj = "faster" if c.metric != "rss" else "lighter"
        factor, lo, hi = 1 / c.ratio, 1 / c.ci_high, 1 / c.ci_low
    else:
        adj = "slower" if c.metric != "rss" else "heavier"
        factor, lo, hi = c.ratio, c.ci_low, c.ci_high
    return (
        f"{c.tool_b} is {times(factor)} {adj} than {c.tool_a} at `{c.operation}` on {c.fixture} "
        f"({what}; 95% CI {lo:.2f}–{hi:.2f}×, p_adj {c.p_adjusted:.2g})"
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
                geomean_ratio=_finite(r["geomean_ratio"]),
                ci_low=_finite(r["ci_low"]),
                ci_high=_finite(r["ci_high"]),
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
