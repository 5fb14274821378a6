"""The learning store: what the analyses found, kept across runs, and what it teaches the next run.

Tables (migration 006): ``performance_trends`` (per cell × metric at a run: trend, forecast, change
points, gate), ``benchmark_patterns`` (scaling classes, growth differences, failure clusters,
anomalies), ``recommendations``, ``run_quality``. Rows belong to the run the analysis was made at (the
suite's newest); writing again replaces that run's rows in one transaction (idempotent).

Similarity ("runs most like this one"), computed in DuckDB: each run is the vector of its cells'
log-medians, centred per cell on the mean over the suite's runs, dᵣ,c = ln medianᵣ,c − mean_r' ln medianᵣ',c;
the score of run r against run q is the cosine over their shared cells::

    cos(r, q) = Σ_c dᵣ,c·d_q,c / (‖dᵣ‖·‖d_q‖)

Centring matters: raw log-medians share a large common offset (ln 10⁷ ≈ 16 for every cell), so
their cosines are all ≈ 1; the centred vectors compare which cells were slow or fast in a run.

Run quality (0–1), the mean of the components that can be computed for the run:

* noise = mean over cells (wall) of max(0, 1 − CV / 10 %) — 1 for a perfectly steady cell, 0 at the
  CV at which a cell gets the ``high_cv`` warning;
* completeness = measured cells with ≥ 1 successful sample / planned cells that are not n/a
  (``run_cells``);
* significance = the share of the run's tool comparisons (wall) that reached a verdict (faster,
  slower or equivalent, not inconclusive); for a run with one tool, the share of cells whose median
  CI half-width met the suite's target (default 2 %).

Adaptive run count (``suggested_min_runs``). The runner stops a cell once the 95% CI of its median is
within ± target_ci (t) of the median. The median's standard error is ≈ √(π/2)·σ/√n (normal
asymptotics, Kendall & Stuart), and the runner's order-statistic CI spans ≈ ±1.96 of them, so with a
relative spread c the half-width reaches t at::

    n = ⌈(1.96 · √(π/2) · c / t)²⌉ = ⌈(2.4566 · c / t)²⌉,  clamped to [3, max_runs]

c is the cell's robust CV, 1.4826·MAD / median (the CV falls back when MAD is missing), as the
median over its newest 10 non-quick succeeded runs (≥ 3 needed): one noisy night does not double
its cost. E.g. t = 2 %: c = 1 % → 3 (clamped from 2), c = 2 % → 7, c = 3 % → 14, c = 5 % → 38 → max_runs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl
from pydantic import BaseModel

from bench_pipeline.errors import BenchError, RunNotFound
from bench_pipeline.history import METRICS, CellHistory, ChangePoint, analyse_history, suite_delta
from bench_pipeline.patterns import (
    Anomaly,
    ErrorCluster,
    GrowthDifference,
    ScalingFit,
    error_clusters,
    find_anomalies,
    growth_differences,
    scaling_fits,
)
from bench_pipeline.patterns.recommend import Recommendation, recommend
from bench_pipeline.store import Store

CV_MAX = 0.10
Z_MEDIAN = 1.959964 * math.sqrt(math.pi / 2)  # 2.4566
MIN_RUNS_FLOOR = 3
LOOKBACK = 10
MIN_HISTORY = 3
HISTORY_KINDS = ("gate", "fresh-change", "drift")
PATTERN_KINDS = ("scaling", "growth-differs", "error", "timeout", "oom")

SIMILAR_SQL = """
WITH v AS (
    SELECT run_id, tool, operation, fixture, ln(median) AS x
    FROM cell_stats_all
    WHERE suite = (SELECT suite FROM runs WHERE run_id = ?) AND metric = ? AND median > 0
),
d AS (SELECT run_id, tool, operation, fixture, x - avg(x) OVER (PARTITION BY tool, operation, fixture) AS dx FROM v),
me AS (SELECT tool, operation, fixture, dx FROM d WHERE run_id = ?)
SELECT d.run_id, r.started_at, r.git_tag,
       sum(d.dx * me.dx) / nullif(sqrt(sum(d.dx * d.dx)) * sqrt(sum(me.dx * me.dx)), 0) AS cosine,
       count(*) AS shared_cells,
       avg(abs(d.dx - me.dx)) AS mean_abs_log_diff
FROM d JOIN me USING (tool, operation, fixture) JOIN runs r ON r.run_id = d.run_id
WHERE d.run_id <> ?
GROUP BY d.run_id, r.started_at, r.git_tag
HAVING count(*) >= ?
ORDER BY cosine DESC NULLS LAST, mean_abs_log_diff, d.run_id
LIMIT ?
"""

CV_HISTORY_SQL = """
WITH ranked AS (
    SELECT c.tool, c.operation, c.fixture,
           coalesce(1.4826 * c.mad / c.median, c.cv) AS rcv,
           row_number() OVER (PARTITION BY c.tool, c.operation, c.fixture
                              ORDER BY r.started_at DESC, c.run_id DESC) AS age
    FROM cell_stats_all c JOIN runs r USING (run_id)
    WHERE c.suite = ? AND c.metric = 'wall' AND r.status = 'succeeded' AND NOT coalesce(r.quick, FALSE)
      AND c.n >= 3 AND c.median > 0
)
SELECT tool, operation, fixture, median(rcv) AS cv, count(*) AS runs
FROM ranked WHERE age <= ? AND rcv IS NOT NULL
GROUP BY tool, operation, fixture
HAVING count(*) >= ?
"""


# ------------------------------------------------------------------------------ similarity
def similar_runs(
    store: Store, run_id: str, *, metric: str = "wall", limit: int = 5, min_shared: int = 3
) -> pl.DataFrame:
    """The runs of ``run_id``'s suite most like it: run_id, started_at, git_tag, cosine, shared_cells,
    mean_abs_log_diff — best first."""
    store.run(run_id)  # RunNotFound for an unknown id
    return store.query(SIMILAR_SQL, [run_id, metric, run_id, run_id, min_shared, limit])


# ------------------------------------------------------------------------------ quality
class RunQuality(BaseModel):
    run_id: str
    suite: str
    quality: float | None
    noise: float | None
    completeness: float | None
    significance: float | None
    detail: dict


def run_quality(
    store: Store, run_id: str, *, cv_max: float = CV_MAX, target_ci: float | None = None
) -> RunQuality:
    """The 0–1 quality score of a run (module docstring), with its components and their counts."""
    run = store.run(run_id)
    if target_ci is None:
        target_ci = _suite_setting(run["suite"], "target_ci", 0.02)
    cells = store.query(
        """SELECT count(*) AS cells,
                  avg(greatest(0, 1 - cv / ?)) AS noise,
                  avg(CASE WHEN (ci_high - ci_low) / 2 <= ? * median THEN 1.0 ELSE 0.0 END) AS precise
           FROM cell_stats_all WHERE run_id = ? AND metric = 'wall' AND median > 0 AND cv IS NOT NULL""",
        [cv_max, target_ci, run_id],
    ).row(0, named=True)
    planned = store.query(
        """SELECT count(*) FILTER (WHERE status <> 'na') AS planned,
                  count(*) FILTER (WHERE status = 'measured' AND coalesce(n_ok, 0) > 0) AS measured
           FROM run_cells WHERE run_id = ?""",
        [run_id],
    ).row(0, named=True)
    verdicts = store.query(
        """SELECT count(*) AS compared, count(*) FILTER (WHERE verdict <> 'inconclusive') AS conclusive
           FROM comparisons WHERE run_id = ? AND metric = 'wall'""",
        [run_id],
    ).row(0, named=True)
    noise = cells["noise"] if cells["cells"] else None
    completeness = planned["measured"] / planned["planned"] if planned["planned"] else None
    if verdicts["compared"]:
        significance = verdicts["conclusive"] / verdicts["compared"]
    else:
        significance = cells["precise"] if cells["cells"] else None
    parts = [v for v in (noise, completeness, significance) if v is not None]
    return RunQuality(
        run_id=run_id,
        suite=run["suite"],
        quality=sum(parts) / len(parts) if parts else None,
        noise=noise,
        completeness=completeness,
        significance=significance,
        detail={"cells": cells["cells"], **planned, **verdicts, "cv_max": cv_max, "target_ci": target_ci},
    )


# ------------------------------------------------------------------------------ adaptive run count
def _suite_setting(suite: str, name: str, default: float) -> float:
    from bench_pipeline.suite import find_suite

    try:
        return getattr(find_suite(suite).settings, name)
    except BenchError:
        return default


def min_runs_for(cv: float, target_ci: float, max_runs: int, floor: int = MIN_RUNS_FLOOR) -> int:
    """n = ⌈(1.96·√(π/2)·cv / target_ci)²⌉ clamped to [floor, max_runs]."""
    if not cv >= 0 or not math.isfinite(cv):
        return max_runs
    n = math.ceil((Z_MEDIAN * cv / target_ci) ** 2 - 1e-9)
    return max(floor, min(max_runs, n))


def suggested_min_runs(
    store: Store,
    suite: str,
    *,
    target_ci: float | None = None,
    max_runs: int | None = None,
    lookback: int = LOOKBACK,
    min_history: int = MIN_HISTORY,
) -> dict[tuple[str, str, str], int]:
    """Each cell's next ``min_runs`` from its historical robust CV: {(tool, operation, fixture): n}.

    Cells with fewer than ``min_history`` non-quick runs are absent: use the suite's setting for them.
    ``target_ci`` and ``max_runs`` default to the suite's settings (2 % and 30 without a suite file).
    """
    target_ci = target_ci or _suite_setting(suite, "target_ci", 0.02)
    max_runs = max_runs or int(_suite_setting(suite, "max_runs", 30))
    rows = store.query(CV_HISTORY_SQL, [suite, lookback, min_history])
    return {
        (r["tool"], r["operation"], r["fixture"]): min_runs_for(r["cv"], target_ci, max_runs)
        for r in rows.iter_rows(named=True)
    }


# ------------------------------------------------------------------------------ writing
def _replace(
    store: Store, table: str, run_id: str, suite: str, rows: list[dict], kinds: tuple[str, ...] | None = None
) -> int:
    """Replace ``table``'s rows of (run_id, suite[, kind in kinds]) by ``rows``, in one transaction."""
    assert table in ("benchmark_patterns", "performance_trends", "recommendations", "run_quality")
    where, params = "run_id = ? AND suite = ?", [run_id, suite]
    if kinds is not None:
        where += f" AND kind IN ({', '.join('?' for _ in kinds)})"
        params += list(kinds)
    frame = pl.DataFrame(rows, infer_schema_length=None) if rows else None
    with store.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"DELETE FROM {table} WHERE {where}", params)
            if frame is not None:
                con.register("learning_rows", frame.to_arrow())
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM learning_rows")
                con.unregister("learning_rows")
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return len(rows)


def _pattern_row(run_id: str, suite: str, now: datetime, kind: str, model: BaseModel, **cols) -> dict:
    return {
        "run_id": run_id,
        "suite": suite,
        "kind": kind,
        "tool": cols.get("tool"),
        "operation": cols.get("operation"),
        "fixture": cols.get("fixture"),
        "metric": cols.get("metric"),
        "label": cols.get("label"),
        "score": cols.get("score"),
        "detail": cols.get("detail"),
        "data": model.model_dump_json(),
        "created_at": now,
    }


def _trend_row(run_id: str, now: datetime, c: CellHistory) -> dict:
    return {
        "run_id": run_id,
        "suite": c.suite,
        "tool": c.tool,
        "operation": c.operation,
        "fixture": c.fixture,
        "metric": c.metric,
        "points": c.points,
        "latest_median": c.latest_median,
        "slope_per_run": c.trend.slope_per_run,
        "p_value": c.trend.p_value,
        "forecast": c.trend.forecast,
        "forecast_low": c.trend.forecast_low,
        "forecast_high": c.trend.forecast_high,
        "change_points": json.dumps([cp.model_dump(mode="json") for cp in c.change_points]),
        "last_change_run_id": c.change_points[-1].run_id if c.change_points else None,
        "gate_outside": c.gate.outside,
        "gate_alert": c.gate.alert,
        "gate_ratio": c.gate.ratio,
        "gate_low": c.gate.low,
        "gate_high": c.gate.high,
        "created_at": now,
    }


# ------------------------------------------------------------------------------ the two asset bodies
def _markdown_table(header: list[str], rows: list[list]) -> str:
    if not rows:
        return ""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass
class HistoryRecord:
    suite: str
    run_id: str | None = None
    cells: dict[str, list[CellHistory]] = field(default_factory=dict)
    anomalies: list[Anomaly] = field(default_factory=list)
    trends_written: int = 0

    @property
    def change_points(self) -> list[tuple[CellHistory, ChangePoint]]:
        return [(c, cp) for cells in self.cells.values() for c in cells for cp in c.change_points]

    def markdown(self, limit: int = 30) -> str:
        if self.run_id is None:
            return f"no succeeded (non-quick) runs of {self.suite} yet"
        counts = ", ".join(f"{m}: {len(v)} cells" for m, v in self.cells.items())
        out = [f"History of **{self.suite}** as of run `{self.run_id}` ({counts})."]
        cps = sorted(self.change_points, key=lambda x: x[1].started_at, reverse=True)[:limit]
        table = _markdown_table(
            ["cell", "metric", "run", "before", "after", "ratio"],
            [[c.cell, c.metric, cp.run_id, f"{cp.before_median:.4g}", f"{cp.after_median:.4g}", f"{cp.ratio:.3f}"]
             for c, cp in cps],
        )  # fmt: skip
        out.append("\n**Change points** (newest first)\n\n" + table if table else "\nNo change points.")
        table = _markdown_table(
            ["kind", "cell", "metric", "ratio"],
            [
                [a.kind, f"{a.tool}/{a.operation} ({a.fixture})", a.metric, f"{a.ratio:.3f}"]
                for a in self.anomalies[:limit]
            ],
        )
        out.append("\n**Anomalies**\n\n" + table if table else "\nNo anomalies.")
        return "\n".join(out)


def _newest_run(cells: dict[str, list[CellHistory]]) -> str | None:
    points = [c.series[-1] for v in cells.values() for c in v if c.series]
    return max(points, key=lambda p: (p.started_at, p.run_id)).run_id if points else None


def suite_metrics(store: Store, suite: str) -> tuple[str, ...]:
    """wall, cpu, rss and the extra metrics (ingested keys: tokens, score, …) the suite's cells have."""
    extras = store.query(
        f"""SELECT DISTINCT metric FROM cell_stats_all
            WHERE suite = ? AND metric NOT IN ({", ".join("?" for _ in METRICS)}) ORDER BY metric""",
        [suite, *METRICS],
    )
    return (*METRICS, *extras["metric"].to_list())


def record_history(store: Store, suite: str, metrics: tuple[str, ...] | None = None) -> HistoryRecord:
    """Analyse every cell's history (``analyse_history``) for ``metrics`` (default: ``suite_metrics``),
    store the trends and the anomalies under the newest analysed run, and return what was found."""
    metrics = metrics or suite_metrics(store, suite)
    record = HistoryRecord(suite, cells={m: analyse_history(store, suite, metric=m) for m in metrics})
    record.run_id = _newest_run(record.cells)
    if record.run_id is None:
        return record
    now = datetime.now(UTC)
    delta = suite_delta(suite)
    everything = [c for v in record.cells.values() for c in v]
    record.anomalies = find_anomalies(everything, delta)
    record.trends_written = _replace(
        store,
        "performance_trends",
        record.run_id,
        suite,
        [_trend_row(record.run_id, now, c) for c in everything],
    )
    rows = [
        _pattern_row(record.run_id, suite, now, a.kind, a, tool=a.tool, operation=a.operation, fixture=a.fixture,
                     metric=a.metric, label=a.kind, score=a.ratio, detail=a.detail)
        for a in record.anomalies
    ]  # fmt: skip
    _replace(store, "benchmark_patterns", record.run_id, suite, rows, kinds=HISTORY_KINDS)
    return record


@dataclass
class PatternsRecord:
    suite: str
    run_id: str | None = None
    fits: list[ScalingFit] = field(default_factory=list)
    differences: list[GrowthDifference] = field(default_factory=list)
    errors: list[ErrorCluster] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    quality: RunQuality | None = None

    def markdown(self, limit: int = 20) -> str:
        if self.run_id is None:
            return f"no finished runs of {self.suite} yet"
        q = self.quality
        score = f"{q.quality:.2f}" if q and q.quality is not None else "–"
        out = [f"Patterns of **{self.suite}** at run `{self.run_id}`: quality {score}."]
        table = _markdown_table(
            ["tool", "operation", "basis", "growth", "exponent", "R²", "clear"],
            [[f.tool, f.operation + (f" ({f.fixture})" if f.fixture else ""), f.basis, f.growth,
              f"{f.exponent:.2f}" if f.exponent is not None else "–",
              f"{f.r_squared:.3f}" if f.r_squared is not None else "–", "yes" if f.clear else "no"]
             for f in self.fits[:limit]],
        )  # fmt: skip
        out.append("\n**Scaling**\n\n" + table if table else "\nNo operation measured at two sizes or more.")
        if self.differences:
            out.append(
                "\n**Growth differs between tools**\n\n"
                + "\n".join(f"- {d.detail}" for d in self.differences)
            )
        table = _markdown_table(
            ["kind", "tool", "operation", "exit", "count", "signature"],
            [[e.kind, e.tool, e.operation, e.exit_code, e.count, e.signature[:80].replace("|", "\\|")]
             for e in self.errors[:limit]],
        )  # fmt: skip
        out.append("\n**Failures**\n\n" + table if table else "\nNo failures.")
        if self.recommendations:
            out.append(
                "\n**Recommendations**\n\n"
                + "\n".join(f"- *{r.kind}*: {r.title}" for r in self.recommendations[:limit])
            )
        return "\n".join(out)


def record_patterns(store: Store, suite: str, metric: str = "wall") -> PatternsRecord:
    """Scaling fits, growth differences, failure clusters, recommendations and the quality score of
    the suite's newest finished run; stored under that run."""
    record = PatternsRecord(suite)
    try:
        record.run_id = store.resolve_run(suite, "latest")
    except RunNotFound:
        return record
    run_id, now = record.run_id, datetime.now(UTC)
    record.fits = scaling_fits(store, suite, metric)
    record.differences = growth_differences(record.fits)
    record.errors = error_clusters(store, suite)
    record.recommendations = recommend(store, suite, run_id, record.fits, metric)
    record.quality = run_quality(store, run_id)
    rows = [
        _pattern_row(run_id, suite, now, "scaling", f, tool=f.tool, operation=f.operation, fixture=f.fixture,
                     metric=f.metric, label=f.growth, score=f.exponent,
                     detail=f"{f.tool} {f.operation}: {f.growth} in {f.basis}")
        for f in record.fits
    ]  # fmt: skip
    rows += [
        _pattern_row(run_id, suite, now, "growth-differs", d, operation=d.operation, fixture=d.fixture,
                     metric=d.metric, label=d.fastest_growing, detail=d.detail)
        for d in record.differences
    ]  # fmt: skip
    rows += [
        _pattern_row(run_id, suite, now, e.kind, e, tool=e.tool, operation=e.operation, label=e.signature,
                     score=float(e.count), detail=f"{e.tool} {e.operation}: exit {e.exit_code}, {e.count}× "
                     f"in {e.runs} run(s): {e.signature}")
        for e in record.errors
    ]  # fmt: skip
    _replace(store, "benchmark_patterns", run_id, suite, rows, kinds=PATTERN_KINDS)
    _replace(
        store,
        "recommendations",
        run_id,
        suite,
        [
            {"run_id": run_id, "suite": suite, "kind": r.kind, "tool": r.tool, "operation": r.operation,
             "fixture": r.fixture, "title": r.title, "detail": r.detail, "score": r.score,
             "evidence": json.dumps(r.evidence, default=str), "created_at": now}
            for r in record.recommendations
        ],
    )  # fmt: skip
    q = record.quality
    _replace(
        store,
        "run_quality",
        run_id,
        suite,
        [{"run_id": run_id, "suite": suite, "quality": q.quality, "noise": q.noise, "completeness": q.completeness,
          "significance": q.significance, "detail": json.dumps(q.detail), "computed_at": now}],
    )  # fmt: skip
    return record


# ------------------------------------------------------------------------------ for reports
STORED_TRENDS_SQL = """
SELECT tool, operation, fixture, change_points, slope_per_run, p_value
FROM performance_trends
WHERE suite = ? AND metric = ? AND run_id = ?
"""


def stored_history(store: Store, suite: str, run_id: str, metric: str = "wall") -> list[dict]:
    """The report's ``history`` field for ``run_id`` without re-analysing: the series up to that run
    (one query) with the change points and trend that ``record_history`` stored at it. Empty when
    the history asset has not run at ``run_id``."""
    from bench_pipeline.history import load_series

    trends = store.query(STORED_TRENDS_SQL, [suite, metric, run_id])
    if trends.is_empty():
        return []
    cutoff = store.run(run_id)["started_at"]
    series = load_series(store, suite, metric=metric).filter(pl.col("started_at") <= cutoff)
    points = {
        key: group.select("run_id", "started_at", "median", "ci_low", "ci_high")
        for key, group in series.group_by(["tool", "operation", "fixture"], maintain_order=True)
    }
    out = []
    for t in trends.sort("tool", "operation", "fixture").iter_rows(named=True):
        rows = points.get((t["tool"], t["operation"], t["fixture"]))
        if rows is None:
            continue
        out.append(
            {
                "operation": t["operation"],
                "fixture": t["fixture"],
                "tool": t["tool"],
                "metric": metric,
                "points": [
                    {**p, "started_at": p["started_at"].isoformat()} for p in rows.iter_rows(named=True)
                ],
                "change_points": [
                    {k: cp[k] for k in ("run_id", "started_at", "before_median", "after_median", "ratio")}
                    for cp in json.loads(t["change_points"] or "[]")
                ],
                "trend": {"slope_per_run": t["slope_per_run"], "p_value": t["p_value"]},
            }
        )
    return out
