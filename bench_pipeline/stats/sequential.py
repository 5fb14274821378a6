"""Sampling to a verdict: group-sequential comparisons of tools measured in the same rounds.

A run measures cells in interleaved rounds (every active cell once per round, random order) and
examines each tool pair at a few planned *looks*; a pair stops when its verdict is decided, a cell
when all its pairs are. Here: the statistics of one look (:func:`decide`), the look schedule
(:func:`looks`, :class:`SequentialDesign`), the report's FDR step (:func:`finalize`), the bookkeeping
of a measuring loop (:class:`SequentialTracker`) and that loop in miniature on simulated timings
(:func:`simulate`). Defaults and measured error rates: ``docs/methods.md``, "Sampling to a verdict".

**Model.** In round r the runs of tool A and tool B on a cell give log times
log a_r = μ_A + u_r + ε_Ar and log b_r = μ_B + u'_r + ε_Br: u is the machine's state (drift, shared
by whatever runs at that moment), ε the run's own noise (heavy tails and outliers allowed). The paired
log ratio d_r = log b_r − log a_r = θ + (u'_r − u_r) + ε_Br − ε_Ar sheds the shared state.
Assumption: the d_r are independent and symmetric about θ. Under A/A this holds exactly (the random
order within a round makes a_r and b_r exchangeable), and under a shift model (B's noise distributed as
A's), where θ = log(median B / median A) = log(geometric mean B / geometric mean A).

**Estimator** (chosen by simulation, ``benchmarks/bench_sequential.py``): the one-sample
Hodges–Lehmann estimate θ̂ = median{(d_i + d_j)/2 : i ≤ j} over the N = n(n + 1)/2 Walsh averages
(Hodges & Lehmann 1963); ``ratio`` = e^θ̂, the typical per-round ratio B/A — not the ratio of medians
of ``compare.py``, which needs ≈ 1.4× the rounds for lognormal noise and ≈ 2× under drift. Its
efficiency is 3/π ≈ 0.95 of the mean's for normal noise, its breakdown point 29 %.

**Interval and tests** (Wilcoxon 1945; Bauer 1972; Hollander, Wolfe & Chicken 2014 §3.3): with
W₍₁₎ ≤ … ≤ W₍N₎ the sorted Walsh averages, F_n the exact null CDF of the signed-rank statistic
(:func:`~bench_pipeline.stats._ranktests.signed_rank_null_cdf`) and k = #{t ≥ 0 : F_n(t) ≤ a/2},
CI_a = [W₍k₎, W₍N+1−k₎] (±∞ when k = 0) covers θ with probability ≥ 1 − a for every n,
distribution-free. #{W ≤ θ₀} is the signed-rank statistic T⁻ of d − θ₀, so interval and tests agree
exactly; with m = log(1 + δ)::

    p_slower = 2·F_n(#{W ≤ m})                             ≤ a  ⇔  CI_a wholly above 1 + δ
    p_faster = 2·F_n(#{W ≥ −m})                            ≤ a  ⇔  CI_a wholly below 1/(1 + δ)
    p_equiv  = max(2·F_n(#{W ≤ −m}), 2·F_n(#{W ≥ m}))     ≤ a  ⇔  CI_a inside the band

(each capped at 1); at most one holds for a < 1. The smallest possible p is 2^(1−n).

**Looks and spending.** Looks at n_k = ⌈n_{k−1}·growth⌉ from ``min_n`` to ``max_n`` (geometric: each
look adds a like share of information, so a few looks serve effects of every size). Look k decides at
level a_k = γ·α·s_k, where the shares s_k (Σ s_k = 1) are the increments of a Lan–DeMets (1983)
spending function at the information fraction t_k = n_k/max_n: Pocock-type ln(1 + (e − 1)·t)
(default), or equal shares. (The O'Brien–Fleming type spends almost nothing early, so large effects
could not stop at the first look.) The first look is at the first n ≥ ``min_n`` whose smallest
possible p-value, 2^(1−n), is within its level (n = 10 for the defaults). A run stopped between looks
(time budget) takes one last look spending every remaining share.

**Why the error rate holds under optional stopping.** A wrong verdict needs an interval that misses
θ: *slower* claims θ > m and is wrong only if θ ≤ m < W₍k₎; likewise *faster*; *equivalent* is wrong
only if |θ| ≥ m while the interval lies inside (−m, m). By the union bound (Bonferroni over looks),
P(some CI_{a_k} misses θ) ≤ Σ_k a_k = γα, whatever the dependence between looks and whatever rule
decides to go on: only the number of looks and their levels are fixed in advance, not their sample
sizes. The exact group-sequential boundaries of Pocock (1977) and O'Brien & Fleming (1979) would use the
correlation between looks for slightly narrower intervals, but assume the canonical Brownian joint
distribution, which a rank statistic has only asymptotically; anytime-valid confidence sequences
(Howard, Ramdas, McAuliffe & Sekhon 2021) allow a look after every round but are wider at the planned
looks (the normal-mixture boundary is ≈ 1.4× the width, ≈ 1.9× the rounds). The same bound makes
``p_value`` = p_verdict / s_k (s_k: the share its look spent) a valid p-value under optional stopping:
P(wrong verdict with p_value ≤ u) ≤ Σ_k u·s_k = u.

**FDR across the report** (:func:`finalize`): Benjamini–Hochberg (1995) over the pairs' ``p_value``
(1 for undecided pairs: they claim nothing) at level α; a verdict is stored iff BH keeps it, otherwise
the pair is *inconclusive*, never given another verdict. Decisions are taken at γα, so when a share
≥ γ of the report's pairs is decided BH keeps every decision (step-up: R p-values ≤ γα ≤ α·R/m).
A pair's looks do not depend on other pairs (both its cells are measured in every round until it is
decided; only a budget stop is shared), so pairs on disjoint cells are independent; pairs sharing a cell (A–B, A–C) are positively
dependent, under which BH is proven for one-sided statistics (PRDS; Benjamini & Yekutieli 2001) and
checked here by simulation. ``method="by"`` (Benjamini–Yekutieli) holds under any dependence at a cost
of a factor Σ_{i≤m} 1/i; e-BH (Wang & Ramdas 2022) would need e-values instead of p-values.

Cost of a look: O(P·n²) for P pairs at n rounds (Walsh averages and a partial sort): ≈ 25 ms for
200 pairs at n = 60, ≈ 50 ms at n = 120.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations
from typing import Literal

import numpy as np
import polars as pl
from scipy import signal
from scipy import stats as sps

from bench_pipeline.stats._ranktests import signed_rank_null_cdf
from bench_pipeline.stats._schema import StatsInputError
from bench_pipeline.stats.mtc import benjamini_hochberg

DEFAULT_DELTA = 0.03
DEFAULT_ALPHA = 0.05
DEFAULT_MIN_N = 10
DEFAULT_MAX_N = 120
DEFAULT_GROWTH = 1.5
#: decisions are taken at γ·α: BH across the report keeps them all when ≥ γ of its pairs are decided
DEFAULT_FDR_SHARE = 0.8
#: at most this many Walsh averages are held in memory at once (pairs × n(n + 1)/2)
CHUNK_ELEMENTS = 4_000_000

Spending = Literal["pocock", "equal"]
VERDICTS = ("slower", "faster", "equivalent", "undecided")
#: columns :func:`decide` adds to the pairs frame
LOOK_COLUMNS: tuple[str, ...] = (
    "look",
    "n_a",
    "n_b",
    "n_rounds",
    "ratio",
    "ci_low",
    "ci_high",
    "level",
    "alpha_spent",
    "p_value",
    "verdict",
)
_LOOK_SCHEMA: dict[str, type[pl.DataType]] = {
    c: pl.String if c == "verdict" else pl.Int64 if c in ("look", "n_a", "n_b", "n_rounds") else pl.Float64
    for c in LOOK_COLUMNS
}


def looks(
    min_n: int = DEFAULT_MIN_N, max_n: int = DEFAULT_MAX_N, growth: float = DEFAULT_GROWTH
) -> list[int]:
    """Rounds at which pairs are examined: min_n, ⌈min_n·growth⌉, … up to max_n (always the last);
    a step to max_n shorter than √growth is merged into the last look."""
    if not (1 <= min_n <= max_n) or growth <= 1:
        raise StatsInputError(
            f"looks(min_n={min_n}, max_n={max_n}, growth={growth})",
            where="sequential design",
            fix="use 1 ≤ min_n ≤ max_n and growth > 1",
        )
    sizes = [min_n]
    while sizes[-1] < max_n:
        sizes.append(min(max_n, max(sizes[-1] + 1, math.ceil(sizes[-1] * growth))))
    if len(sizes) > 2 and sizes[-1] / sizes[-2] < math.sqrt(growth):
        del sizes[-2]
    return sizes


def spending_shares(sizes: list[int], spending: Spending = "pocock") -> np.ndarray:
    """Share s_k of the error budget spent at each look (Σ s_k = 1): increments of a Lan–DeMets
    (1983) spending function at the information fractions t_k = n_k / n_K."""
    t = np.asarray(sizes, dtype=np.float64) / sizes[-1]
    if spending == "equal":
        cum = np.arange(1, t.size + 1) / t.size
    elif spending == "pocock":  # Lan & DeMets (1983): Pocock-type
        cum = np.log1p((math.e - 1) * t)
    else:
        raise StatsInputError(
            f"unknown spending {spending!r}", where="sequential design", fix="pocock or equal"
        )
    cum = cum / cum[-1]
    return np.diff(np.concatenate([[0.0], cum]))


@dataclass(frozen=True)
class SequentialDesign:
    """The planned looks and error budget of a run (module docstring)."""

    min_n: int = DEFAULT_MIN_N
    max_n: int = DEFAULT_MAX_N
    delta: float = DEFAULT_DELTA
    alpha: float = DEFAULT_ALPHA
    growth: float = DEFAULT_GROWTH
    fdr_share: float = DEFAULT_FDR_SHARE
    spending: Spending = "pocock"

    def __post_init__(self) -> None:
        if not (
            0 < self.alpha < 1
            and self.delta > 0
            and 0 < self.fdr_share <= 1
            and 1 <= self.min_n <= self.max_n
        ):
            raise StatsInputError(
                f"alpha={self.alpha}, delta={self.delta}, fdr_share={self.fdr_share}, min_n={self.min_n}, "
                f"max_n={self.max_n}",
                where="sequential design",
                fix="use 0 < alpha < 1, delta > 0, 0 < fdr_share ≤ 1, 1 ≤ min_n ≤ max_n",
            )
        if self.looks[-1] > self.max_n:
            least = self.smallest_n(self.fdr_share * self.alpha)  # one look spending everything
            raise StatsInputError(
                f"max_n = {self.max_n} rounds can never decide: the smallest p-value of n rounds is 2^(1 − n), "
                f"above the level {self.fdr_share * self.alpha:.2g} until n = {least}",
                where="sequential design",
                fix=f"allow at least {least} rounds (more for several looks)",
            )

    @cached_property
    def looks(self) -> tuple[int, ...]:
        """:func:`looks` from the first n ≥ ``min_n`` at which the first look can decide (its level is
        at least the smallest possible p-value, 2^(1 − n)); raising n₀ only raises the first share."""
        first = self.min_n
        while True:
            sizes = looks(first, max(first, self.max_n), self.growth)
            need = self.smallest_n(self.fdr_share * self.alpha * spending_shares(sizes, self.spending)[0])
            if first >= need:
                return tuple(sizes)
            first = need

    @cached_property
    def shares(self) -> np.ndarray:
        return spending_shares(list(self.looks), self.spending)

    @property
    def margin(self) -> float:
        """m = log(1 + δ): the band on the log scale is (−m, m)."""
        return math.log1p(self.delta)

    def share(self, look: int, final: bool = False) -> float:
        """s_k: the share look ``look`` spends; a final look spends every remaining share."""
        if not 0 <= look < len(self.looks):
            raise StatsInputError(
                f"look {look} outside 0..{len(self.looks) - 1}",
                where="sequential design",
                fix="count looks from 0; the last look is final",
            )
        return float(self.shares[look:].sum() if final else self.shares[look])

    def level(self, look: int, final: bool = False) -> float:
        """a_k = γ·α·s_k: the (two-sided) error level of look ``look``'s intervals and tests."""
        return self.fdr_share * self.alpha * self.share(look, final)

    def alpha_spent(self, look: int, final: bool = False) -> float:
        """γ·α·Σ_{j ≤ k} s_j: the error budget used up to and including look ``look``."""
        return self.fdr_share * self.alpha * (1.0 if final else float(self.shares[: look + 1].sum()))

    @staticmethod
    def smallest_n(level: float) -> int:
        """The fewest rounds whose smallest possible p-value, 2·2^(−n), is ≤ ``level``."""
        return max(1, math.ceil(1 - math.log2(level)))


# ---------------------------------------------------------------------------------------------------
# one look


def _paired_log_ratios(
    samples: pl.DataFrame, pairs: pl.DataFrame
) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """Per pair (row index ``_pair``): n_a, n_b (rounds with a valid value per side), and the sorted
    d = log b − log a of the rounds both sides have (pair index and d, grouped by pair)."""
    for frame, cols, what in (
        (samples, ("cell", "round", "value"), "samples"),
        (pairs, ("cell_a", "cell_b"), "pairs"),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise StatsInputError(
                f"{what} frame lacks column(s) {', '.join(missing)}",
                where="sequential.decide",
                fix="samples: cell, round, value (wall ns); pairs: cell_a, cell_b",
            )
    logs = (
        samples.lazy()
        .select("cell", "round", pl.col("value").cast(pl.Float64))
        .filter(pl.col("value").is_finite() & (pl.col("value") > 0))
        .group_by("cell", "round")
        .agg(pl.col("value").log().mean().alias("_log"))  # several samples in one round: one value
    )
    cell = samples.schema["cell"]
    ids = pairs.lazy().select(pl.int_range(pl.len()).alias("_pair"), pl.col("cell_a", "cell_b").cast(cell))
    counts = logs.group_by("cell").agg(pl.len().alias("_n"))
    sizes = (
        ids.join(counts.rename({"cell": "cell_a", "_n": "n_a"}), on="cell_a", how="left")
        .join(counts.rename({"cell": "cell_b", "_n": "n_b"}), on="cell_b", how="left")
        .select("_pair", pl.col("n_a").fill_null(0).cast(pl.Int64), pl.col("n_b").fill_null(0).cast(pl.Int64))
        .sort("_pair")
        .collect()
    )
    d = (
        ids.join(logs.rename({"cell": "cell_a", "_log": "_la"}), on="cell_a")
        .join(logs.rename({"cell": "cell_b", "_log": "_lb"}), on=["cell_b", "round"])
        .select("_pair", (pl.col("_lb") - pl.col("_la")).alias("_d"))
        .sort("_pair", "_d")
        .collect()
    )
    return sizes, d["_pair"].to_numpy(), d["_d"].to_numpy()


def _look_statistics(
    pair: np.ndarray, d: np.ndarray, n_pairs: int, level: float, margin: float
) -> dict[str, np.ndarray]:
    """θ̂, CI_a and the three p-values of every pair from its sorted paired log ratios (docstring)."""
    n = np.bincount(pair, minlength=n_pairs)
    start = np.cumsum(n) - n
    out = {key: np.full(n_pairs, np.nan) for key in ("theta", "lo", "hi")}
    out |= {key: np.ones(n_pairs) for key in ("p_slower", "p_faster", "p_equiv")}
    for size in (int(v) for v in np.unique(n[n > 0])):
        rows_all = np.flatnonzero(n == size)
        total = size * (size + 1) // 2
        iu, ju = np.triu_indices(size)
        cdf = signed_rank_null_cdf(size)
        k = int(np.searchsorted(cdf, level / 2, side="right"))  # #{t : F_n(t) ≤ a/2}
        ranks = sorted({(total - 1) // 2, total // 2, *((k - 1, total - k) if k else ())})
        step = max(1, CHUNK_ELEMENTS // total)
        for c in range(0, rows_all.size, step):
            rows = rows_all[c : c + step]
            block = d[start[rows, None] + np.arange(size)]
            walsh = (block[:, iu] + block[:, ju]) * 0.5
            walsh.partition(ranks, axis=1)  # order statistics at those ranks, O(N) per pair
            out["theta"][rows] = (walsh[:, (total - 1) // 2] + walsh[:, total // 2]) * 0.5
            out["lo"][rows] = walsh[:, k - 1] if k else -np.inf
            out["hi"][rows] = walsh[:, total - k] if k else np.inf
            two_sided = 2.0 * cdf  # p of a count c: min(1, 2·F_n(c))
            out["p_slower"][rows] = np.minimum(1.0, two_sided[(walsh <= margin).sum(axis=1)])
            out["p_faster"][rows] = np.minimum(1.0, two_sided[(walsh >= -margin).sum(axis=1)])
            out["p_equiv"][rows] = np.minimum(
                1.0,
                np.maximum(
                    two_sided[(walsh <= -margin).sum(axis=1)], two_sided[(walsh >= margin).sum(axis=1)]
                ),
            )
    out["n"] = n
    return out


def decide(
    samples: pl.DataFrame,
    pairs: pl.DataFrame,
    design: SequentialDesign,
    look: int,
    *,
    final: bool = False,
) -> pl.DataFrame:
    """Examine every pair of ``pairs`` at look ``look`` (0-based) of ``design``.

    ``samples``: one row per timed, successful run: ``cell`` (any id), ``round`` (int), ``value``
    (> 0, e.g. wall ns); other columns are ignored. ``pairs``: ``cell_a``, ``cell_b`` (ratio = B/A) and
    any label columns, which are kept. ``final``: the run stops after this look (budget, or the last
    planned look, which is always final): spend every remaining share.

    Returns ``pairs`` with :data:`LOOK_COLUMNS`: ``verdict`` ∈ slower / faster / equivalent /
    undecided; ``ratio`` = e^θ̂; ``ci_low``, ``ci_high`` the interval at this look's ``level`` (the
    one the verdict used; ±inf when n is too small for any interval); ``p_value`` valid under optional
    stopping (of the verdict, or of the closest verdict when undecided); ``alpha_spent`` up to this
    look; ``n_a``, ``n_b`` rounds with a value per side, ``n_rounds`` the rounds both have (used).
    """
    final = final or look == len(design.looks) - 1
    level = design.level(look, final)
    share = design.share(look, final)
    sizes, pair, d = _paired_log_ratios(samples, pairs)
    st = _look_statistics(pair, d, pairs.height, level, design.margin)
    p_all = np.stack([st["p_slower"], st["p_faster"], st["p_equiv"]])
    best = np.argmin(p_all, axis=0)
    p_best = p_all[best, np.arange(pairs.height)]
    decided = p_best <= level
    verdict = np.where(decided, np.asarray(VERDICTS[:3], dtype=object)[best], "undecided")
    stats = pl.DataFrame(
        {
            "look": np.full(pairs.height, look, dtype=np.int64),
            "n_a": sizes["n_a"].to_numpy(),
            "n_b": sizes["n_b"].to_numpy(),
            "n_rounds": st["n"].astype(np.int64),
            "ratio": np.exp(st["theta"]),
            "ci_low": np.exp(st["lo"]),
            "ci_high": np.exp(st["hi"]),
            "level": np.full(pairs.height, level),
            "alpha_spent": np.full(pairs.height, design.alpha_spent(look, final)),
            "p_value": np.minimum(1.0, p_best / share),
            "verdict": verdict.astype(str),
        },
        schema=_LOOK_SCHEMA,
    )
    return pl.concat([pairs.drop([c for c in LOOK_COLUMNS if c in pairs.columns]), stats], how="horizontal")


# ---------------------------------------------------------------------------------------------------
# the report


def finalize(
    results: pl.DataFrame, alpha: float = DEFAULT_ALPHA, method: Literal["bh", "by"] = "bh"
) -> pl.DataFrame:
    """Stored verdicts of a report from each pair's last look (its deciding look, or its final one).

    ``p_adjusted``: Benjamini–Hochberg (``method="bh"``) or Benjamini–Yekutieli (``"by"``) over the
    pairs' ``p_value``, 1 for undecided pairs. ``decision`` keeps the stopping decision; ``verdict`` is
    it where ``p_adjusted ≤ alpha``, else *inconclusive* (undecided, or not kept by the FDR step).
    """
    if "verdict" not in results.columns or "p_value" not in results.columns:
        raise StatsInputError(
            "results lack verdict / p_value",
            where="sequential.finalize",
            fix="pass the rows decide() returned",
        )
    decision = results["verdict"].fill_null("undecided")
    claims = decision.to_numpy() != "undecided"
    p = np.where(claims, results["p_value"].fill_null(1.0).fill_nan(1.0).to_numpy(), 1.0)
    if method == "bh":
        p_adj = benjamini_hochberg(p)
    elif method == "by":
        p_adj = sps.false_discovery_control(p, method="by") if p.size else p
    else:
        raise StatsInputError(
            f"unknown method {method!r}", where="sequential.finalize", fix='use "bh" or "by"'
        )
    kept = claims & (p_adj <= alpha * (1 + 1e-12))  # rounding must not drop p = γα at a share of exactly γ
    return results.drop("verdict").with_columns(
        decision.alias("decision"),
        pl.Series("p_adjusted", p_adj, dtype=pl.Float64),
        pl.Series("verdict", np.where(kept, decision.to_numpy(), "inconclusive"), dtype=pl.String),
    )


# ---------------------------------------------------------------------------------------------------
# the bookkeeping of a measuring loop


class SequentialTracker:
    """Which pairs are still undecided, which cells must still be measured, and when to look.

    The measuring loop::

        tracker = SequentialTracker(pairs, design)           # pairs: cell_a, cell_b, labels
        rounds = 0
        while not tracker.done:
            run every cell of tracker.active_cells() once, in random order; rounds += 1
            out_of_time = ...
            if tracker.due(rounds) or out_of_time:
                tracker.update(samples, final=out_of_time)   # all samples so far: cell, round, value
        report = tracker.report()                            # stored verdicts, FDR across the report
    """

    def __init__(self, pairs: pl.DataFrame, design: SequentialDesign) -> None:
        for c in ("cell_a", "cell_b"):
            if c not in pairs.columns:
                raise StatsInputError(
                    f"pairs lack column {c}", where="SequentialTracker", fix="pass cell_a, cell_b (+ labels)"
                )
        self.design = design
        self.pairs = pairs.with_row_index("_pair")
        self.look = 0  # the next look's index
        self._undecided = self.pairs
        self._rows: list[pl.DataFrame] = []  # decided (frozen) rows
        self._last = self.pairs.clear()  # the latest rows of undecided pairs
        self._final = False

    @property
    def done(self) -> bool:
        return self._final or self._undecided.height == 0

    @property
    def next_n(self) -> int | None:
        """Rounds at the next planned look (None when done)."""
        return None if self.done else self.design.looks[self.look]

    def due(self, rounds: int) -> bool:
        """A look is due after ``rounds`` rounds."""
        return not self.done and rounds >= self.design.looks[self.look]

    def active_cells(self) -> pl.Series:
        """Cells of the undecided pairs: the ones the next round must run."""
        u = self._undecided
        return pl.concat([u["cell_a"], u["cell_b"]]).unique(maintain_order=True).alias("cell")

    def update(self, samples: pl.DataFrame, *, final: bool = False) -> pl.DataFrame:
        """Take the next look at the undecided pairs; decided pairs are frozen, the run's last look
        (planned, or ``final``: out of budget) freezes everyone. Returns this look's rows."""
        if self.done:
            raise StatsInputError(
                "no undecided pairs left", where="SequentialTracker.update", fix="check .done"
            )
        final = final or self.look == len(self.design.looks) - 1
        out = decide(samples, self._undecided, self.design, self.look, final=final)
        decided = out["verdict"].to_numpy() != "undecided"
        self._rows.append(out.filter(decided | final))
        self._last = out.filter(~decided & (not final))
        self._undecided = self._undecided.filter(~decided)
        self.look += 1
        self._final = final
        return out.drop("_pair")

    def undecided(self) -> pl.DataFrame:
        """The pairs still undecided (with their ``_pair`` index)."""
        return self._undecided

    def stop_pairs(self, pair_ids: list[int], samples: pl.DataFrame) -> pl.DataFrame:
        """A final look now for these undecided pairs (the budget cannot carry them to the next look):
        each spends its remaining shares (as the final look of a run stopped between looks) and is
        frozen. The other pairs go on; their error budget is untouched."""
        chosen = self._undecided.filter(pl.col("_pair").is_in(pair_ids))
        if chosen.height == 0 or self.done:
            return chosen.clear()
        look = min(self.look, len(self.design.looks) - 1)
        out = decide(samples, chosen, self.design, look, final=True)
        self._rows.append(out)
        self._undecided = self._undecided.filter(~pl.col("_pair").is_in(pair_ids))
        self._last = self._last.filter(~pl.col("_pair").is_in(pair_ids))
        return out.drop("_pair")

    def stop_cells(self, cells: list[int], samples: pl.DataFrame) -> pl.DataFrame:
        """Stop every undecided pair that involves one of ``cells`` (e.g. a cell that keeps failing)."""
        u = self._undecided
        ids = u.filter(pl.col("cell_a").is_in(cells) | pl.col("cell_b").is_in(cells))["_pair"].to_list()
        return self.stop_pairs(ids, samples)

    def decidable_at(self, n_next: int) -> pl.Series:
        """Undecided pairs whose latest interval, narrowed by √(n/n_next) (the rate of the signed-rank
        interval), would clear the band or fit inside it at ``n_next`` rounds — the ones the budget
        should favour; pairs not examined yet count as decidable (nothing says otherwise)."""
        m = self.design.margin
        last = self._last.filter(pl.col("n_rounds") > 0) if self._last.height else self._last
        hopeful: set[int] = set(self._undecided["_pair"].to_list()) - set(last["_pair"].to_list())
        if last.height:
            lo, hi = np.log(last["ci_low"].to_numpy()), np.log(last["ci_high"].to_numpy())
            theta = np.log(last["ratio"].to_numpy())
            with np.errstate(invalid="ignore", divide="ignore"):
                shrink = np.sqrt(last["n_rounds"].to_numpy() / max(1, n_next))
                lo2 = theta - (theta - lo) * shrink
                hi2 = theta + (hi - theta) * shrink
            ok = (lo2 > m) | (hi2 < -m) | ((lo2 > -m) & (hi2 < m))
            hopeful |= set(last["_pair"].filter(pl.Series(np.nan_to_num(ok, nan=0).astype(bool))).to_list())
        return pl.Series("_pair", sorted(hopeful), dtype=self.pairs["_pair"].dtype)

    def report(self, method: Literal["bh", "by"] = "bh") -> pl.DataFrame:
        """Every pair, in input order, with its last look and the stored verdict (:func:`finalize`);
        a pair never examined has null statistics and is *undecided*."""
        seen = [r.select("_pair", *LOOK_COLUMNS) for r in (*self._rows, self._last) if r.height]
        looked = pl.concat(seen) if seen else pl.DataFrame(schema={"_pair": pl.UInt32, **_LOOK_SCHEMA})
        rows = self.pairs.join(looked, on="_pair", how="left").sort("_pair")
        return finalize(
            rows.with_columns(pl.col("verdict").fill_null("undecided")).drop("_pair"),
            self.design.alpha,
            method,
        )


# ---------------------------------------------------------------------------------------------------
# the loop in miniature


def blocked_order(blocks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The order of one round: positions into ``blocks`` (one block label per active cell), the
    blocks in random order and the cells of a block adjacent, in random order among themselves.

    A block is one operation × fixture, whose cells are the tools a pair compares: the two runs of a
    paired round are then moments apart instead of anywhere in the round, so the machine's drift
    between them (what the paired log ratio cannot shed) shrinks with the time between them. Every
    cell still runs once per round, and which tool of a block goes first is random, so A/A runs stay
    exchangeable.
    """
    labels, index = np.unique(np.asarray(blocks), return_inverse=True)
    rank = rng.permutation(labels.size)[index].astype(np.float64)
    return np.argsort(rank + rng.random(index.size) * 0.5, kind="stable")


def simulate(
    effects: np.ndarray,
    design: SequentialDesign,
    *,
    cv: float = 0.03,
    drift: float = 0.0,
    drift_rounds: float = 5.0,
    outliers: float = 0.0,
    blocked: bool = True,
    seed: int | tuple[int, ...] | np.random.SeedSequence = 0,
) -> pl.DataFrame:
    """One report measured by the sampling-to-a-verdict loop on simulated timings.

    ``effects[o, t]``: the true median of tool t on operation o (relative; only ratios matter); every
    pair of tools is compared per operation, ``true_ratio`` = effects[o, b] / effects[o, a]. A run's
    log time is log(median) + ε + u + o: ε ~ N(0, σ²) with σ² = log(1 + cv²) (lognormal noise of that
    CV); u the machine's drift, a stationary AR(1) over the sequence of runs with standard deviation
    ``drift`` and a correlation time of ``drift_rounds`` rounds (runs close in time share it, runs of
    one round mostly); o = log U(1.5, 3) for a share ``outliers`` of the runs (slow outliers), else 0. Rounds run the active
    cells in random order, an operation's tools adjacent (:func:`blocked_order`) unless ``blocked`` is false; looks, stopping, the max_n cap and the FDR step are those of
    :class:`SequentialTracker`. Returns :meth:`SequentialTracker.report` plus ``operation``,
    ``tool_a``, ``tool_b``, ``true_ratio``.
    """
    rng = np.random.default_rng(seed)
    eff = np.asarray(effects, dtype=np.float64)
    n_ops, n_tools = eff.shape
    n_cells = n_ops * n_tools
    log_median = np.log(eff).ravel() + np.repeat(rng.uniform(np.log(1e6), np.log(1e9), n_ops), n_tools)
    a, b = np.array(list(combinations(range(n_tools), 2))).T
    op = np.repeat(np.arange(n_ops), a.size)
    pairs = pl.DataFrame(
        {
            "operation": op,
            "tool_a": np.tile(a, n_ops),
            "tool_b": np.tile(b, n_ops),
            "cell_a": op * n_tools + np.tile(a, n_ops),
            "cell_b": op * n_tools + np.tile(b, n_ops),
            "true_ratio": eff[op, np.tile(b, n_ops)] / eff[op, np.tile(a, n_ops)],
        }
    )
    sigma = math.sqrt(math.log1p(cv**2))
    phi = math.exp(-1.0 / (drift_rounds * n_cells))
    state = np.array([rng.normal(0.0, drift)]) * phi
    values = np.full((n_cells, design.max_n), np.nan)
    tracker = SequentialTracker(pairs, design)
    rounds = 0
    while not tracker.done:
        active = tracker.active_cells().to_numpy()
        order = active[blocked_order(active // n_tools, rng)] if blocked else rng.permutation(active)
        x = log_median[order] + rng.normal(0.0, sigma, order.size)
        if drift > 0:
            u, state = signal.lfilter(
                [drift * math.sqrt(1 - phi**2)], [1.0, -phi], rng.normal(size=order.size), zi=state
            )
            x += u
        if outliers > 0:
            hit = rng.random(order.size) < outliers
            x[hit] += np.log(rng.uniform(1.5, 3.0, int(hit.sum())))
        values[order, rounds] = np.exp(x)
        rounds += 1
        if tracker.due(rounds):
            cell, rnd = np.nonzero(np.isfinite(values[:, :rounds]))
            tracker.update(pl.DataFrame({"cell": cell, "round": rnd, "value": values[cell, rnd]}))
    return tracker.report()
