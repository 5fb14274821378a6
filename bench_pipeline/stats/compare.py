"""Two-sample comparisons: tool B vs tool A in one run, or a candidate run vs a baseline run, with verdicts.

For every cell pair (same operation, fixture and metric) over the timed, successful samples:

- **ratio of medians** r = median_B / median_A with a **BCa bootstrap 95 % CI** (Efron 1987) of
  θ = log r, see :mod:`bench_pipeline.stats._bootstrap`. Two tools measured in the same interleaving
  rounds (≥ ``MIN_BLOCKS`` shared rounds holding ≥ ``BLOCK_COVERAGE`` of each tool's samples) are
  compared with a **round-block (paired) bootstrap**: rounds are resampled, so drift common to a round
  cancels. Otherwise, and always across runs (round numbers of two runs are unrelated), the two
  samples are resampled independently.
- **Brunner–Munzel** test (Brunner & Munzel 2000) p-value, the primary test: it compares
  P(B > A) with ½ without assuming equal variances or shapes. **Mann–Whitney U** p (Mann & Whitney
  1947) as a cross-check column.
- effect sizes: **Hodges–Lehmann** shift of log times, median{log b_j − log a_i} (Hodges & Lehmann
  1963; exp(shift) is a ratio robust to outliers), and the **probability of superiority**
  P(B > A) + ½P(B = A) (McGraw & Wong 1992).
- **Benjamini–Hochberg** adjusted p (Benjamini & Hochberg 1995) across *all rows returned*, so pass
  everything that forms one report (all operations, fixtures, metrics) in one call.

Verdict, with practical margin δ (default 3 %) and level α (default 0.05, the FDR)::

    B slower  / regression   ⇔ p_adjusted < α  and  ci_low  > 1 + δ
    B faster  / improvement  ⇔ p_adjusted < α  and  ci_high < 1 / (1 + δ)
    equivalent               ⇔ 1 / (1 + δ) ≤ ci_low  and  ci_high ≤ 1 + δ
    inconclusive             otherwise

Degenerate cells are never significant: n < 2 on either side, a non-positive median, or a NaN p-value
(both samples constant) leave ``p_value`` / ``ci_*`` null and give *inconclusive*. Both samples
constant (near-deterministic metrics such as instruction counts) need no bootstrap: every resample
has the same medians, so the CI is the exact ratio, [r, r], with ``n_boot`` = 0 (the same constant on
both sides: [1, 1], *equivalent*).

Defaults: ``n_boot`` = 2000 resamples (Monte-Carlo error of a BCa endpoint ≈ 3 % of the CI half-width),
``seed`` = 0. Draws are seeded per comparison (or per set of rounds) from the seed and the labels, so a
cell's CI does not change when other cells are added to the call (its ``p_adjusted`` does: BH).

Cost per comparison: O((n_a + n_b) log(n_a + n_b)) for the rank statistics and the Hodges–Lehmann
search, O(n_boot) for an independent bootstrap, O(n_boot·(R + √n)) for a round-block bootstrap whose
weights are shared by all cells measured in the same rounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import polars as pl
from scipy import special

from bench_pipeline.stats import _bootstrap as bs
from bench_pipeline.stats import _ranktests as rt
from bench_pipeline.stats._schema import (
    CELL_KEYS,
    SAMPLE_COLUMNS,
    StatsInputError,
    cell_id_expr,
    included_expr,
    metric_expr,
    metric_names,
    require_columns,
)
from bench_pipeline.stats.mtc import benjamini_hochberg

DEFAULT_DELTA = 0.03
DEFAULT_ALPHA = 0.05
DEFAULT_N_BOOT = 2000
DEFAULT_SEED = 0
#: round-block bootstrap needs at least this many rounds shared by both tools ...
MIN_BLOCKS = 10
#: ... holding at least this share of each tool's samples
BLOCK_COVERAGE = 0.8

TOOL_COLUMNS: tuple[str, ...] = (
    "suite",
    "run_id",
    "operation",
    "fixture",
    "metric",
    "tool_a",
    "tool_b",
    "median_a",
    "median_b",
    "ratio",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "verdict",
    "n_a",
    "n_b",
    "hl_shift_log",
    "prob_superiority",
    "p_mannwhitney",
    "paired",
    "n_boot",
)
RUN_COLUMNS: tuple[str, ...] = (
    "suite",
    "tool",
    "operation",
    "fixture",
    "metric",
    "baseline_run",
    "candidate_run",
    "baseline_median",
    "candidate_median",
    "ratio",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "verdict",
    "n_a",
    "n_b",
    "hl_shift_log",
    "prob_superiority",
    "p_mannwhitney",
    "paired",
    "n_boot",
)


# ---------------------------------------------------------------------------------------------------
# samples grouped into sides: one (cell, metric), values sorted


@dataclass
class _Sides:
    """Sorted values and rounds per side (cell × metric); ``meta`` row i describes side i."""

    meta: pl.DataFrame
    x: list[np.ndarray] = field(default_factory=list)
    rounds: list[np.ndarray] = field(default_factory=list)
    _unique_rounds: dict[int, np.ndarray] = field(default_factory=dict)

    def unique_rounds(self, side: int) -> np.ndarray:
        if side not in self._unique_rounds:
            r = np.sort(self.rounds[side])
            self._unique_rounds[side] = r[np.concatenate([[True], r[1:] != r[:-1]])] if r.size else r
        return self._unique_rounds[side]


def _sides(df: pl.DataFrame, names: list[str], *, what: str) -> _Sides:
    require_columns(df, SAMPLE_COLUMNS, what=what)
    k = len(names)
    base = (
        df.lazy()
        .with_row_index("_row")
        .with_columns(included_expr().alias("_inc"), cell_id_expr().alias("_cell"))
    )
    meta_lf = (
        base.group_by("_cell")
        .agg(*[pl.col(c).first() for c in CELL_KEYS])
        .join(pl.LazyFrame({"metric": names, "_m": list(range(k))}), how="cross")
        .with_columns((pl.col("_cell") * k + pl.col("_m")).alias("_g"))
        .drop("_cell", "_m")
    )
    long = (
        pl.concat(
            [
                base.filter(pl.col("_inc")).select(
                    (pl.col("_cell") * k + i).alias("_g"),
                    pl.col("round").cast(pl.Int64).fill_null(-1),  # no round: one pseudo-round, never blocked
                    metric_expr(m).alias("_x"),
                )
                for i, m in enumerate(names)
            ]
        )
        .filter(pl.col("_x").is_not_null())
        .sort("_g")
        .collect()
    )
    meta = meta_lf.collect().sort("_g")
    g = long["_g"].to_numpy()
    x_all = long["_x"].to_numpy()
    r_all = long["round"].to_numpy()
    ids = meta["_g"].to_numpy()
    lo = np.searchsorted(g, ids, "left")
    hi = np.searchsorted(g, ids, "right")
    sides = _Sides(meta=meta.with_row_index("_side").drop("_g"))
    for a, b in zip(lo, hi, strict=True):
        xs = x_all[a:b]
        order = np.argsort(xs, kind="stable")
        sides.x.append(xs[order])
        sides.rounds.append(r_all[a:b][order])
    return sides


# ---------------------------------------------------------------------------------------------------
# the comparison engine


@dataclass
class _Job:
    """One comparison: side ``a`` of ``sides[sa]`` against side ``b`` of ``sides[sb]`` (None: no samples)."""

    a: int | None
    b: int | None
    label: tuple  # seeds the independent bootstrap
    paired_allowed: bool
    sa: int = 0
    sb: int = 0


@dataclass
class _Plan:
    job: _Job
    xa: np.ndarray
    xb: np.ndarray
    testable: bool  # n ≥ 2 on both sides and positive medians: a CI and a test make sense
    rounds_key: bytes | None = None  # set of rounds for the block bootstrap, None: independent
    constant: bool = False  # both sides constant: the CI is the exact ratio, no bootstrap


def _median(x: np.ndarray) -> float:
    n = x.size
    return float((x[(n - 1) // 2] + x[n // 2]) / 2) if n else math.nan


def _round_union(ra: np.ndarray, ua: np.ndarray, rb: np.ndarray, ub: np.ndarray) -> np.ndarray | None:
    """Rounds to resample if A and B (rounds ra, rb; distinct rounds ua, ub) form a blocked design."""
    if ua.size == ub.size and np.array_equal(ua, ub):  # the usual case: same rounds
        return ua if ua.size >= MIN_BLOCKS else None
    first, last = min(ua[0], ub[0]), max(ua[-1], ub[-1])
    span = int(last - first) + 1
    if span <= 8 * (ua.size + ub.size):  # round numbers are dense: presence arrays
        in_a = np.zeros(span, dtype=bool)
        in_b = np.zeros(span, dtype=bool)
        in_a[ua - first] = True
        in_b[ub - first] = True
        both = in_a & in_b
        if np.count_nonzero(both) < MIN_BLOCKS:
            return None
        if both[ra - first].mean() < BLOCK_COVERAGE or both[rb - first].mean() < BLOCK_COVERAGE:
            return None
        return np.flatnonzero(in_a | in_b) + first
    shared = ua[_member(ua, ub)]
    if shared.size < MIN_BLOCKS:
        return None
    if _member(ra, shared).mean() < BLOCK_COVERAGE or _member(rb, shared).mean() < BLOCK_COVERAGE:
        return None
    both = np.sort(np.concatenate([ua, ub]))
    return both[np.concatenate([[True], both[1:] != both[:-1]])]


def _member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """values ∈ sorted_set, elementwise (binary search; np.isin hashes, which is slower here)."""
    if sorted_set.size == 0:
        return np.zeros(values.size, dtype=bool)
    idx = np.minimum(np.searchsorted(sorted_set, values), sorted_set.size - 1)
    return sorted_set[idx] == values


def _plan(job: _Job, sides: list[_Sides], unions: dict[bytes, np.ndarray]) -> _Plan:
    """Pick the bootstrap scheme of one job; a blocked job's round set is registered in ``unions``."""
    side_a, side_b = sides[job.sa], sides[job.sb]
    xa = side_a.x[job.a] if job.a is not None else np.empty(0)
    xb = side_b.x[job.b] if job.b is not None else np.empty(0)
    testable = xa.size >= 2 and xb.size >= 2 and _median(xa) > 0 and _median(xb) > 0
    constant = testable and xa[0] == xa[-1] and xb[0] == xb[-1]
    plan = _Plan(job, xa, xb, testable, constant=constant)
    if testable and job.paired_allowed and not constant:
        assert job.a is not None and job.b is not None  # testable: both sides have samples
        union = _round_union(
            side_a.rounds[job.a],
            side_a.unique_rounds(job.a),
            side_b.rounds[job.b],
            side_b.unique_rounds(job.b),
        )
        if union is not None:
            plan.rounds_key = union.tobytes()
            unions.setdefault(plan.rounds_key, union)
    return plan


def _block_replicates(
    plans: list[_Plan], sides: list[_Sides], unions: dict[bytes, np.ndarray], n_boot: int, seed: int
):
    """Bootstrap and leave-one-round-out medians of every side of a blocked job, keyed by
    (round set, sides index, side); one draw of round weights per round set, shared by its sides."""
    members: dict[bytes, dict[tuple[int, int], None]] = {key: {} for key in unions}
    for plan in plans:
        a, b = plan.job.a, plan.job.b
        if plan.rounds_key is not None and a is not None and b is not None:
            members[plan.rounds_key][(plan.job.sa, a)] = None
            members[plan.rounds_key][(plan.job.sb, b)] = None
    out: dict[tuple[bytes, int, int], tuple[np.ndarray, np.ndarray]] = {}
    for key, union in unions.items():
        keys = list(members[key])
        blocks = [
            bs.BlockSide(sides[si].x[side], np.searchsorted(union, sides[si].rounds[side]))
            for si, side in keys
        ]
        rng = np.random.default_rng(bs.stable_seed(seed, "rounds", union.size, key.hex(), n_boot))
        reps = bs.median_replicates_block(blocks, union.size, n_boot, rng)
        for (si, side), block, rep in zip(keys, blocks, reps, strict=True):
            out[(key, si, side)] = (rep, bs.loo_medians_block(block, union.size))
    return out


def _compare_one(plan: _Plan, block_reps: dict, n_boot: int, seed: int, alpha: float) -> dict:
    """Medians, ratio, rank tests, effect sizes and the BCa CI of one job."""
    job, xa, xb = plan.job, plan.xa, plan.xb
    med_a, med_b = _median(xa), _median(xb)
    row = {
        "median_a": med_a,
        "median_b": med_b,
        "ratio": med_b / med_a if med_a > 0 and med_b >= 0 else math.nan,
        "n_a": int(xa.size),
        "n_b": int(xb.size),
        "ci_low": math.nan,
        "ci_high": math.nan,
        "p_value": math.nan,
        "hl_shift_log": math.nan,
        "prob_superiority": math.nan,
        "p_mannwhitney": math.nan,
        "paired": plan.rounds_key is not None,
        "n_boot": 0,
    }
    if xa.size and xb.size:
        p, q, cross_ties = rt.placements(xa, xb)
        row["prob_superiority"] = rt.prob_superiority(q, xa.size)
        row["p_mannwhitney"] = rt.mann_whitney_p(xa, xb, p, cross_ties)
        row["p_value"] = rt.brunner_munzel(xa, xb, p, q)[2]
        if xa[0] > 0 and xb[0] > 0:
            row["hl_shift_log"] = rt.hodges_lehmann(np.log(xa), np.log(xb))
    if not plan.testable:
        return row
    if plan.constant:  # every bootstrap replicate would be this ratio
        row["ci_low"] = row["ci_high"] = row["ratio"]
        return row
    theta = math.log(med_b) - math.log(med_a)
    with np.errstate(divide="ignore", invalid="ignore"):  # a zero median replicate is dropped by BCa
        if plan.rounds_key is not None:
            rep_a, loo_a = block_reps[(plan.rounds_key, job.sa, job.a)]
            rep_b, loo_b = block_reps[(plan.rounds_key, job.sb, job.b)]
            reps = np.log(rep_b) - np.log(rep_a)
            jack = [np.log(loo_b) - np.log(loo_a)]
        else:
            rng = np.random.default_rng(bs.stable_seed(seed, "iid", *job.label, n_boot))
            reps = np.log(bs.median_replicates_iid(xb, n_boot, rng)) - np.log(
                bs.median_replicates_iid(xa, n_boot, rng)
            )
            jack = [
                math.log(med_b) - np.log(bs.loo_medians_iid(xa)),
                np.log(bs.loo_medians_iid(xb)) - math.log(med_a),
            ]
    lo, hi = bs.bca_interval(theta, reps, jack, alpha)
    row["ci_low"], row["ci_high"] = math.exp(lo), math.exp(hi)
    row["n_boot"] = n_boot
    return row


def _run_jobs(sides: list[_Sides], jobs: list[_Job], n_boot: int, seed: int, alpha: float) -> list[dict]:
    unions: dict[bytes, np.ndarray] = {}
    plans = [_plan(job, sides, unions) for job in jobs]
    block_reps = _block_replicates(plans, sides, unions, n_boot, seed)
    return [_compare_one(plan, block_reps, n_boot, seed, alpha) for plan in plans]


_STAT_SCHEMA = {
    "median_a": pl.Float64,
    "median_b": pl.Float64,
    "ratio": pl.Float64,
    "n_a": pl.Int64,
    "n_b": pl.Int64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "p_value": pl.Float64,
    "hl_shift_log": pl.Float64,
    "prob_superiority": pl.Float64,
    "p_mannwhitney": pl.Float64,
    "paired": pl.Boolean,
    "n_boot": pl.Int64,
}


def _finish(labels: pl.DataFrame, rows: list[dict], *, delta: float, alpha: float, words: tuple[str, str]):
    """Attach statistics to labels, adjust p-values (BH over all rows), decide verdicts."""
    stats = (
        pl.DataFrame(rows, schema=_STAT_SCHEMA, orient="row") if rows else pl.DataFrame(schema=_STAT_SCHEMA)
    )
    out = pl.concat([labels, stats], how="horizontal")
    p_adj = benjamini_hochberg(out["p_value"].to_numpy())
    out = out.with_columns(pl.Series("p_adjusted", p_adj, dtype=pl.Float64))
    # NaN (undefined) -> null, so that no comparison with a threshold can succeed by accident
    out = out.with_columns([pl.col(c).fill_nan(None) for c, t in out.schema.items() if t == pl.Float64])
    return out.with_columns(verdict_expr(delta=delta, alpha=alpha, words=words).alias("verdict"))


def verdict_expr(
    *, delta: float = DEFAULT_DELTA, alpha: float = DEFAULT_ALPHA, words=("faster", "slower")
) -> pl.Expr:
    """The verdict rule of the module docstring over columns ratio, ci_low, ci_high, p_adjusted."""
    faster, slower = words
    upper, lower = 1.0 + delta, 1.0 / (1.0 + delta)
    significant = (pl.col("p_adjusted") < alpha).fill_null(False)
    return (
        pl.when(significant & (pl.col("ci_low") > upper).fill_null(False))
        .then(pl.lit(slower))
        .when(significant & (pl.col("ci_high") < lower).fill_null(False))
        .then(pl.lit(faster))
        .when(((pl.col("ci_low") >= lower) & (pl.col("ci_high") <= upper)).fill_null(False))
        .then(pl.lit("equivalent"))
        .otherwise(pl.lit("inconclusive"))
    )


# ---------------------------------------------------------------------------------------------------
# public API


def compare_tools(
    df: pl.DataFrame,
    pairs: Sequence[tuple[str, str]] | None = None,
    metric: str | Sequence[str] = "wall",
    *,
    delta: float = DEFAULT_DELTA,
    alpha: float = DEFAULT_ALPHA,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> pl.DataFrame:
    """Tool B vs tool A per (suite, run_id, operation, fixture, metric); ratio = median_B / median_A.

    ``pairs``: (tool_a, tool_b) to compare; None → every pair of tools present, tool_a < tool_b by
    name. A pair is reported when at least one of its tools has samples of the cell (the other then has
    n = 0 and the verdict is *inconclusive*). ``metric``: one name or several ("wall", "cpu", "rss");
    BH runs across all rows returned. Columns: :data:`TOOL_COLUMNS`.
    """
    names = metric_names(metric, df.columns)
    sides = _sides(df, names, what="compare_tools")
    meta = sides.meta
    group_keys = ["suite", "run_id", "operation", "fixture", "metric"]
    label_rows: list[dict] = []
    jobs: list[_Job] = []
    grouped = meta.group_by(group_keys, maintain_order=True).agg(pl.col("tool"), pl.col("_side"))
    for row in grouped.sort(group_keys).iter_rows(named=True):
        present = dict(zip(row["tool"], row["_side"], strict=True))
        wanted = list(combinations(sorted(present), 2)) if pairs is None else list(pairs)
        for tool_a, tool_b in wanted:
            if tool_a not in present and tool_b not in present:
                continue
            labels = {k: row[k] for k in group_keys} | {"tool_a": tool_a, "tool_b": tool_b}
            label_rows.append(labels)
            jobs.append(
                _Job(present.get(tool_a), present.get(tool_b), tuple(labels.values()), paired_allowed=True)
            )
    rows = _run_jobs([sides], jobs, n_boot, seed, alpha)
    labels_df = pl.DataFrame(label_rows, schema={k: pl.String for k in [*group_keys, "tool_a", "tool_b"]})
    out = _finish(labels_df, rows, delta=delta, alpha=alpha, words=("faster", "slower"))
    return out.select(TOOL_COLUMNS)


def compare_runs(
    baseline_df: pl.DataFrame,
    candidate_df: pl.DataFrame,
    metric: str | Sequence[str] = "wall",
    *,
    tools: Sequence[str] | None = None,
    delta: float = DEFAULT_DELTA,
    alpha: float = DEFAULT_ALPHA,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> pl.DataFrame:
    """Candidate run vs baseline run per (suite, tool, operation, fixture, metric); ratio = candidate /
    baseline; verdicts regression / improvement / equivalent / inconclusive.

    Each frame must hold one run. Samples are resampled independently (rounds of two runs are not
    blocks). ``n_a`` is the baseline n, ``n_b`` the candidate n. Columns: :data:`RUN_COLUMNS`.
    """
    names = metric_names(metric, set(baseline_df.columns) & set(candidate_df.columns))
    base = _sides(baseline_df, names, what="compare_runs(baseline)")
    cand = _sides(candidate_df, names, what="compare_runs(candidate)")
    runs = []
    for which, s in (("baseline", base), ("candidate", cand)):
        ids = s.meta["run_id"].unique().to_list()
        if len(ids) > 1:
            raise StatsInputError(
                f"{which} frame holds {len(ids)} runs ({', '.join(map(str, ids[:5]))})",
                where=f"compare_runs({which})",
                fix="filter each frame to one run_id",
            )
        runs.append(ids[0] if ids else None)
    keys = ["suite", "tool", "operation", "fixture", "metric"]
    joined = (
        base.meta.select(*keys, pl.col("_side").alias("_a"))
        .join(cand.meta.select(*keys, pl.col("_side").alias("_b")), on=keys, how="full", coalesce=True)
        .sort(keys)
    )
    if tools is not None:
        joined = joined.filter(pl.col("tool").is_in(list(tools)))
    jobs = []
    for row in joined.iter_rows(named=True):
        label = (*(row[k] for k in keys), runs[0], runs[1])
        jobs.append(_Job(row["_a"], row["_b"], label, paired_allowed=False, sa=0, sb=1))
    rows = _run_jobs([base, cand], jobs, n_boot, seed, alpha)
    labels_df = joined.select(keys).with_columns(
        pl.lit(runs[0], dtype=pl.String).alias("baseline_run"),
        pl.lit(runs[1], dtype=pl.String).alias("candidate_run"),
    )
    out = _finish(labels_df, rows, delta=delta, alpha=alpha, words=("improvement", "regression"))
    return out.rename({"median_a": "baseline_median", "median_b": "candidate_median"}).select(RUN_COLUMNS)


def geomean_ratios(
    comparisons: pl.DataFrame,
    *,
    alpha: float = DEFAULT_ALPHA,
    method: str = "se",
    n_boot: int = 10_000,
    seed: int = DEFAULT_SEED,
) -> pl.DataFrame:
    """Geometric mean of the ratios per tool pair (or per tool and run pair) and metric, with a CI.

    G = exp( (1/k) Σ log r_i ) over the k cells with a finite ratio and CI. CI:

    - ``method="se"`` (default): measurement uncertainty of this fixed set of cells. Each cell's
      standard error on the log scale is read off its BCa interval, s_i = (log hi_i − log lo_i) /
      (2·z_{1−α/2}); cells are independent, so SE(log G) = √(Σ s_i²) / k and the CI is
      exp(log G ± z_{1−α/2}·SE) (delta method).
    - ``method="cells"``: spread across cells (operations/fixtures treated as a sample of possible
      ones): percentile bootstrap over the k log ratios (``n_boot`` resamples, ``seed``). Wider; answers
      "how much faster on a typical operation".

    Also: n_cells, min_ratio, max_ratio and the count of each verdict (n_<verdict>).
    """
    if method not in ("se", "cells"):
        raise StatsInputError(f"unknown method {method!r}", where="geomean_ratios", fix='use "se" or "cells"')
    keys: list[str]
    if "tool_a" in comparisons.columns:
        keys = [k for k in ("suite", "run_id", "tool_a", "tool_b", "metric") if k in comparisons.columns]
    else:
        keys = [
            k
            for k in ("suite", "tool", "baseline_run", "candidate_run", "metric")
            if k in comparisons.columns
        ]
    require_columns(comparisons, [*keys, "ratio", "ci_low", "ci_high", "verdict"], what="geomean_ratios")
    z = float(-special.ndtri(alpha / 2))
    usable = ((pl.col("ratio") > 0) & (pl.col("ci_low") > 0) & (pl.col("ci_high") > 0)).fill_null(False)
    frame = comparisons.with_columns(
        usable.alias("_use"),
        pl.col("ratio").log().alias("_lr"),
        ((pl.col("ci_high").log() - pl.col("ci_low").log()) / (2 * z)).alias("_se"),
    )
    verdicts = sorted(v for v in comparisons["verdict"].unique().to_list() if v is not None)
    agg = (
        frame.group_by(keys, maintain_order=True)
        .agg(
            pl.col("_use").sum().cast(pl.Int64).alias("n_cells"),
            pl.col("_lr").filter(pl.col("_use")).mean().alias("_mean"),
            (pl.col("_se").filter(pl.col("_use")).pow(2).sum().sqrt() / pl.col("_use").sum()).alias("_se_g"),
            pl.col("_lr").filter(pl.col("_use")),
            pl.col("ratio").filter(pl.col("_use")).min().alias("min_ratio"),
            pl.col("ratio").filter(pl.col("_use")).max().alias("max_ratio"),
            *[(pl.col("verdict") == v).sum().cast(pl.Int64).alias(f"n_{v}") for v in verdicts],
        )
        .sort(keys)
    )
    if method == "se":
        agg = agg.with_columns(
            (pl.col("_mean") - z * pl.col("_se_g")).exp().alias("ci_low"),
            (pl.col("_mean") + z * pl.col("_se_g")).exp().alias("ci_high"),
        )
    else:
        lows: list[float | None] = []
        highs: list[float | None] = []
        for i, lr in enumerate(agg["_lr"].to_list()):
            arr = np.asarray(lr, dtype=np.float64)
            if arr.size < 2:
                lows.append(None)
                highs.append(None)
                continue
            rng = np.random.default_rng(bs.stable_seed(seed, "geomean", i, arr.size))
            means = arr[rng.integers(0, arr.size, size=(n_boot, arr.size))].mean(axis=1)
            lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
            lows.append(math.exp(lo))
            highs.append(math.exp(hi))
        agg = agg.with_columns(
            pl.Series("ci_low", lows, dtype=pl.Float64), pl.Series("ci_high", highs, dtype=pl.Float64)
        )
    return agg.with_columns(
        pl.col("_mean").exp().alias("geomean_ratio"), pl.lit(method).alias("ci_method")
    ).select(
        *keys,
        "n_cells",
        "geomean_ratio",
        "ci_low",
        "ci_high",
        "ci_method",
        "min_ratio",
        "max_ratio",
        *[f"n_{v}" for v in verdicts],
    )
