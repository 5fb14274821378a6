"""Recommendations from a run's data, each with the evidence that triggered it (SPEC §6).

* **bottleneck**: in one cell (operation × fixture), a tool that the ``comparisons`` table finds
  significantly slower than *every* other tool measured there (verdict ``slower`` of B vs A, i.e.
  Brunner–Munzel p after Benjamini–Hochberg < α and the whole BCa ratio CI above 1 + δ). Score: the
  smallest of its ratios, i.e. how much slower it is than the next-fastest tool.
* **hot-path**: the operations that take most of a tool's time on a fixture: share = the cell's
  median / Σ medians of that tool × fixture (one execution of each operation). The largest shares
  whose cumulative sum reaches 50 % are reported (at most 5 per tool × fixture), each ≥ 10 %.
* **config**: settings whose effect the measurements point at; each fires only on its evidence:
  - git ``commit-graph`` (with ``--changed-paths``) when a git tool's history operation
    (category ``history``, or a name starting ``log``) clearly grows at least linearly with the
    fixture's commits (``patterns.scaling``, AIC margin ≥ 2) and costs ≥ 20 ms on the largest one;
  - git ``feature.manyFiles`` (index v4, untracked cache) when a git tool's ``status`` clearly grows
    at least linearly with the fixture's files and costs ≥ 20 ms on the largest one;
  - jj ``--ignore-working-copy`` for scripted read-only commands when jj's working-copy snapshot
    (an operation named ``snapshot``) costs ≥ 30 % of the median of jj's read-only operations
    (categories inspect, history, diff, files) on the same fixture.
  The generated fixtures already enable commit-graph and manyFiles (``git_tuning``); the advice is
  then for repositories that do not, and says so.
"""

from __future__ import annotations

import polars as pl
from pydantic import BaseModel, Field

from bench_pipeline.patterns.scaling import RANK, ScalingFit, classify_growth, fixture_sizes
from bench_pipeline.store import Store

HOT_SHARE = 0.10
HOT_CUMULATIVE = 0.50
HOT_TOP = 5
SLOW_NS = 20e6
SNAPSHOT_SHARE = 0.30
READ_ONLY = ("inspect", "history", "diff", "files")


class Recommendation(BaseModel):
    kind: str  # bottleneck | hot-path | config
    title: str
    detail: str
    tool: str | None = None
    operation: str | None = None
    fixture: str | None = None
    score: float = Field(0.0, description="kind-specific strength (ratio, share, growth exponent)")
    evidence: dict = Field(default_factory=dict)


# ------------------------------------------------------------------------------ bottlenecks
def bottlenecks(store: Store, run_id: str, metric: str = "wall") -> list[Recommendation]:
    rows = store.query(
        """SELECT operation, fixture, tool_a, tool_b, ratio, ci_low, ci_high, p_adjusted, verdict
           FROM comparisons WHERE run_id = ? AND metric = ? AND ratio > 0""",
        [run_id, metric],
    )
    if rows.is_empty():
        return []
    # each comparison seen from both tools: "X vs Y" with ratio = X / Y
    both = pl.concat(
        [
            rows.select(
                "operation", "fixture", pl.col("tool_b").alias("tool"), pl.col("tool_a").alias("other"),
                "ratio", "ci_low", "ci_high", "p_adjusted", (pl.col("verdict") == "slower").alias("slower"),
            ),
            rows.select(
                "operation", "fixture", pl.col("tool_a").alias("tool"), pl.col("tool_b").alias("other"),
                (1 / pl.col("ratio")).alias("ratio"), (1 / pl.col("ci_high")).alias("ci_low"),
                (1 / pl.col("ci_low")).alias("ci_high"), "p_adjusted", (pl.col("verdict") == "faster").alias("slower"),
            ),
        ]
    )  # fmt: skip
    slowest = (
        both.group_by("operation", "fixture", "tool")
        .agg(
            pl.col("slower").all().alias("all_slower"),
            pl.col("ratio").min().alias("margin"),
            pl.struct("other", "ratio", "ci_low", "ci_high", "p_adjusted").alias("against"),
        )
        .filter(pl.col("all_slower"))
        .sort("margin", descending=True)
    )
    out = []
    for r in slowest.iter_rows(named=True):
        against = ", ".join(f"×{a['ratio']:.2f} vs {a['other']}" for a in r["against"])
        out.append(
            Recommendation(
                kind="bottleneck",
                title=f"{r['tool']} is the slowest at {r['operation']} ({r['fixture']})",
                detail=f"{r['tool']} {r['operation']} on {r['fixture']}: {against} (all significant, beyond δ)",
                tool=r["tool"],
                operation=r["operation"],
                fixture=r["fixture"],
                score=r["margin"],
                evidence={"metric": metric, "against": r["against"]},
            )
        )
    return out


# ------------------------------------------------------------------------------ hot paths
def hot_paths(store: Store, run_id: str, metric: str = "wall") -> list[Recommendation]:
    cells = store.query(
        """SELECT tool, fixture, operation, median,
                  median / sum(median) OVER (PARTITION BY tool, fixture) AS share
           FROM cell_stats_all WHERE run_id = ? AND metric = ? AND median > 0
           ORDER BY tool, fixture, share DESC""",
        [run_id, metric],
    )
    out = []
    for (tool, fixture), group in cells.group_by(["tool", "fixture"], maintain_order=True):
        if group.height < 2:
            continue
        cumulative = 0.0
        for r in group.head(HOT_TOP).iter_rows(named=True):
            if cumulative >= HOT_CUMULATIVE or r["share"] < HOT_SHARE:
                break
            cumulative += r["share"]
            out.append(
                Recommendation(
                    kind="hot-path",
                    title=f"{r['operation']} takes {r['share']:.0%} of {tool}'s time on {fixture}",
                    detail=f"{tool} on {fixture}: {r['operation']} median {r['median'] / 1e6:.1f} ms, "
                    f"{r['share']:.0%} of the {group.height} operations' total ({cumulative:.0%} with the ones above)",
                    tool=tool,
                    operation=r["operation"],
                    fixture=fixture,
                    score=r["share"],
                    evidence={
                        "metric": metric,
                        "median": r["median"],
                        "share": r["share"],
                        "cumulative": cumulative,
                        "operations": group.height,
                    },
                )  # fmt: skip
            )
    return out


# ------------------------------------------------------------------------------ configuration
def _fixtures_tuned(fixtures: list[str]) -> bool:
    from bench_pipeline.errors import FixtureError
    from bench_pipeline.fixtures import fixture_for

    try:
        return all(fixture_for(f).git_tuning for f in fixtures)
    except FixtureError:
        return False


def _is_git(tool: str) -> bool:
    return tool == "git" or tool.startswith("git-")


def _fit_evidence(fit: ScalingFit) -> dict:
    return {
        "growth": fit.growth,
        "basis": fit.basis,
        "exponent": fit.exponent,
        "aic_margin": fit.aic_margin,
        "r_squared": fit.r_squared,
        "sizes": {p.fixture: p.median for p in fit.sizes},
    }


def config_suggestions(
    store: Store, suite: str, run_id: str, fits: list[ScalingFit], metric: str = "wall"
) -> list[Recommendation]:
    out: list[Recommendation] = []
    categories = dict(
        store.query(
            "SELECT DISTINCT operation, category FROM run_cells WHERE suite = ? AND category IS NOT NULL",
            [suite],
        ).iter_rows()
    )
    fixture_fits = [f for f in fits if f.fixture is None and f.metric == metric and _is_git(f.tool)]
    for fit in fixture_fits:
        largest = fit.sizes[-1]
        tuned = _fixtures_tuned([p.fixture for p in fit.sizes])
        note = (
            " The benchmark fixtures already have it, so this growth is with it; a repository without it "
            "grows faster."
            if tuned
            else ""
        )
        history_op = categories.get(fit.operation) == "history" or fit.operation.startswith("log")
        if (
            history_op
            and fit.clear
            and RANK.get(fit.growth, 0) >= RANK["linear"]
            and largest.median >= SLOW_NS
        ):
            out.append(
                Recommendation(
                    kind="config",
                    title=f"git commit-graph for {fit.operation}",
                    detail=f"{fit.tool} {fit.operation} grows {fit.growth} with history (exponent "
                    f"{fit.exponent:.2f}; {largest.median / 1e6:.0f} ms on {largest.fixture}). "
                    "`git commit-graph write --reachable --changed-paths` with core.commitGraph=true and "
                    "fetch.writeCommitGraph=true lets commit walks and path-limited logs skip parsing commits "
                    "and trees." + note,
                    tool=fit.tool,
                    operation=fit.operation,
                    score=fit.exponent or 0.0,
                    evidence=_fit_evidence(fit) | {"fixtures_have_it": tuned},
                )
            )
        if "status" in fit.operation:
            sizes = [p.fixture for p in fit.sizes]
            files = fixture_sizes(sizes)
            by_files = classify_growth(
                [files[p.fixture][1] for p in fit.sizes if p.fixture in files],
                [p.median for p in fit.sizes if p.fixture in files],
            )
            if (
                by_files.aic_margin is not None
                and by_files.aic_margin >= 2
                and RANK.get(by_files.growth, 0) >= RANK["linear"]
                and largest.median >= SLOW_NS
            ):
                out.append(
                    Recommendation(
                        kind="config",
                        title=f"git feature.manyFiles for {fit.operation}",
                        detail=f"{fit.tool} {fit.operation} grows {by_files.growth} with the number of files "
                        f"({largest.median / 1e6:.0f} ms on {largest.fixture}). `git config feature.manyFiles true` "
                        "(index v4, untracked cache) and core.fsmonitor cut the per-file work of status."
                        + note,
                        tool=fit.tool,
                        operation=fit.operation,
                        score=by_files.exponent or 0.0,
                        evidence={
                            "growth": by_files.growth,
                            "basis": "files",
                            "exponent": by_files.exponent,
                            "aic_margin": by_files.aic_margin,
                            "fixtures_have_it": tuned,
                            "sizes": {p.fixture: p.median for p in fit.sizes},
                        },
                    )  # fmt: skip
                )
    out += _jj_snapshot(store, run_id, categories, metric)
    return out


def _jj_snapshot(store: Store, run_id: str, categories: dict, metric: str) -> list[Recommendation]:
    cells = store.query(
        "SELECT tool, operation, fixture, median FROM cell_stats_all WHERE run_id = ? AND metric = ? AND median > 0 "
        "AND (tool = 'jj' OR tool LIKE 'jj-%')",
        [run_id, metric],
    )
    out = []
    for (tool, fixture), group in cells.group_by(["tool", "fixture"], maintain_order=True):
        snap = group.filter(pl.col("operation").str.contains("snapshot"))
        reads = group.filter(
            pl.col("operation").is_in([op for op, c in categories.items() if c in READ_ONLY])
            & ~pl.col("operation").str.contains("snapshot")
        )
        if snap.is_empty() or reads.is_empty():
            continue
        snapshot = float(snap["median"].cast(pl.Float64).min())  # type: ignore[arg-type]
        typical = float(reads["median"].cast(pl.Float64).median())  # type: ignore[arg-type]
        share = snapshot / typical
        if share < SNAPSHOT_SHARE:
            continue
        out.append(
            Recommendation(
                kind="config",
                title=f"{tool} --ignore-working-copy for scripted read-only commands",
                detail=f"On {fixture}, {tool}'s working-copy snapshot alone takes {snapshot / 1e6:.1f} ms, "
                f"{share:.0%} of the median read-only command ({typical / 1e6:.1f} ms over {reads.height} "
                "operations). Scripts and prompts that only read (log, status in a loop, file show) can pass "
                "`--ignore-working-copy` to skip it; interactive use should keep snapshotting.",
                tool=tool,
                fixture=fixture,
                operation="snapshot",
                score=share,
                evidence={
                    "snapshot_median": snapshot,
                    "read_only_median": typical,
                    "share": share,
                    "read_only_operations": sorted(reads["operation"].to_list()),
                },
            )  # fmt: skip
        )
    return out


def recommend(
    store: Store, suite: str, run_id: str, fits: list[ScalingFit] | None = None, metric: str = "wall"
) -> list[Recommendation]:
    """Bottlenecks, hot paths and configuration suggestions for ``run_id`` of ``suite``."""
    if fits is None:
        from bench_pipeline.patterns.scaling import scaling_fits

        fits = scaling_fits(store, suite, metric)
    return (
        bottlenecks(store, run_id, metric)
        + hot_paths(store, run_id, metric)
        + config_suggestions(store, suite, run_id, fits, metric)
    )
