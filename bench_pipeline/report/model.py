"""The report model: everything a report shows, read from the store (``runs``, ``run_cells``,
``cell_stats_all``, ``samples_all``, ``comparisons``), so every number in any format is traceable to a
table. Its JSON form is the versioned contract ``docs/report-schema.json`` (see ``report.schema``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from bench_pipeline.patterns.errors import ErrorCluster
from bench_pipeline.patterns.findings import SimilarRun
from bench_pipeline.patterns.quality import RunQuality
from bench_pipeline.patterns.recommend import Recommendation
from bench_pipeline.report.revisions import ReleasePoint, RevisionChange, ToolBuild

# MAJOR.MINOR: MINOR adds optional fields (old readers keep working); MAJOR renames or removes.
# 1.2: quantiles q1/q3/iqr per cell × metric, fixtures (sizes), history and scaling sections.
# 1.5: recommendations, error_clusters, quality, similar_runs (patterns.findings).
# 1.6: builds (tools obtained from their build recipe) and revisions (what a newer revision changed).
SCHEMA_VERSION = "1.6"
METRIC_WORDS = {"wall": "time", "cpu": "CPU time", "rss": "peak memory"}

# q1/q3 over the same samples as cell_stats (timed, ``ok``), with the same interpolation (Hyndman &
# Fan type 7 = DuckDB's quantile_cont), so q1 ≤ median ≤ q3 hold against the stored medians.


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
    estimator: str | None = Field(
        default=None,
        description="how ratio and CI were made: median-ratio-bca (fixed n) or paired-hl-sequential "
        "(wall time of a run sampled to a verdict: the paired Hodges–Lehmann ratio B/A) (since 1.4)",
    )
    ci_level: float | None = Field(default=None, description="confidence of the interval (since 1.4)")
    decision: str | None = Field(
        default=None, description="sequential runs: the decision the pair stopped on (since 1.4)"
    )
    n_rounds: int | None = Field(default=None, description="sequential runs: paired rounds used (since 1.4)")


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
    measuring: dict[str, Any] = Field(
        default_factory=dict,
        description="how the run was measured: design, looks, rounds, duty_cycle (timed seconds / seconds "
        "of the rounds), restore_methods, budget_stopped (since 1.4)",
    )


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
        description="tools obtained from their build recipe: cached, built now, failed (since 1.6)",
    )
    revisions: list[RevisionChange] = Field(
        default_factory=list,
        description="what each newer revision of a tool changed against an older one in this run (since 1.6)",
    )
    releases: list[ReleasePoint] = Field(
        default_factory=list,
        description="every revision of this run's revised tools measured so far: its newest median (since 1.6)",
    )
    recommendations: list[Recommendation] = Field(
        default_factory=list,
        description="bottlenecks, hot paths, configuration advice, each with its evidence (since 1.5)",
    )
    error_clusters: list[ErrorCluster] = Field(
        default_factory=list,
        description="this run's failed samples clustered by tool, operation, exit code, stderr (since 1.5)",
    )
    quality: RunQuality | None = Field(
        default=None, description="the run's 0–1 quality score and its components (since 1.5)"
    )
    similar_runs: list[SimilarRun] = Field(
        default_factory=list, description="the earlier runs most like this one, with why (since 1.5)"
    )


def decided_metric(report: Report) -> str:
    """The metric the run sampled its pairs to a verdict on (``runs.measuring.metric``): wall or cpu."""
    metric = report.run.measuring.get("metric", "wall")
    return metric if metric in ("wall", "cpu") else "wall"
