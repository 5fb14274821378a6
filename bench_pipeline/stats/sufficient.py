"""Statistics from per-cell aggregates instead of raw samples: merged moments, Welch's test, log histograms.

The warm and cold storage tiers (``bench_pipeline.ops.tiering``) keep, per cell × metric, the sufficient
statistics (n, mean, M2 = Σ(x − mean)²), the quantiles :data:`QUANTILES` and a sparse log histogram.

Merging moments (Chan, Golub & LeVeque 1979, "Updating formulae and a pairwise algorithm for
computing sample variances", pairwise update), exact for any number of parts::

    n = n_a + n_b,  δ = mean_b − mean_a,  mean = mean_a + δ·n_b/n,  M2 = M2_a + M2_b + δ²·n_a·n_b/n

Welch's two-sided t-test (Welch 1947, "The generalization of Student's problem when several different
population variances are involved"; Welch–Satterthwaite degrees of freedom), exact from the moments::

    t = (mean_b − mean_a) / √(s²_a/n_a + s²_b/n_b)
    df = (s²_a/n_a + s²_b/n_b)² / ((s²_a/n_a)²/(n_a − 1) + (s²_b/n_b)²/(n_b − 1))

Log histograms: bin b holds values in [2^(b/32), 2^((b+1)/32)) (:data:`HIST_BINS_PER_OCTAVE` = 32
bins per octave; bin −1 holds values below 1). A quantile of merged histograms is interpolated
log-linearly inside its bin, so its relative error is below one bin width, 2^(1/32) − 1 ≈ 2.2 %
(:data:`HIST_RELATIVE_ERROR`; typically a few tenths of a percent). Quantiles of one cell are stored
exactly; only quantiles of a *pooled* set of cells come from histograms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: the quantiles stored per cell (type 7, as ``cell_stats``): p5, p25, p50, p75, p95, p99
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
HIST_BINS_PER_OCTAVE = 32
#: upper bound of the relative error of a quantile read from a histogram (one bin width)
HIST_RELATIVE_ERROR = 2 ** (1 / HIST_BINS_PER_OCTAVE) - 1


@dataclass(frozen=True)
class Moments:
    """Sufficient statistics of a sample for means and variances: n, mean and M2 = Σ(x − mean)²."""

    n: int
    mean: float
    m2: float

    @property
    def variance(self) -> float:
        return self.m2 / (self.n - 1) if self.n > 1 else math.nan


def merge_moments(parts: Sequence[Moments]) -> Moments:
    """Moments of the union of several samples, exact (Chan, Golub & LeVeque 1979, pairwise update):
    n = n_a + n_b, δ = mean_b − mean_a, mean = mean_a + δ·n_b/n, M2 = M2_a + M2_b + δ²·n_a·n_b/n."""
    n, mean, m2 = 0, 0.0, 0.0
    for p in parts:
        if p.n == 0:
            continue
        total = n + p.n
        delta = p.mean - mean
        mean += delta * p.n / total
        m2 += p.m2 + delta * delta * n * p.n / total
        n = total
    return Moments(n, mean if n else math.nan, m2)


@dataclass(frozen=True)
class WelchResult:
    t: float
    df: float
    p_value: float
    mean_ratio: float  # mean_b / mean_a


def welch_test(a: Moments, b: Moments) -> WelchResult:
    """Welch's two-sided t-test from sufficient statistics (Welch 1947; Welch–Satterthwaite df).

    t = (mean_b − mean_a) / √(s²_a/n_a + s²_b/n_b), df = (s²_a/n_a + s²_b/n_b)² /
    ((s²_a/n_a)²/(n_a − 1) + (s²_b/n_b)²/(n_b − 1)). Identical to
    ``scipy.stats.ttest_ind(x_a, x_b, equal_var=False)`` on the raw samples.
    """
    from scipy import stats as sps

    if a.n < 2 or b.n < 2:
        return WelchResult(math.nan, math.nan, math.nan, b.mean / a.mean if a.mean else math.nan)
    va, vb = a.variance / a.n, b.variance / b.n
    se2 = va + vb
    ratio = b.mean / a.mean if a.mean else math.nan
    if se2 == 0:
        return WelchResult(math.nan, math.nan, math.nan, ratio)
    t = (b.mean - a.mean) / math.sqrt(se2)
    df = se2 * se2 / (va * va / (a.n - 1) + vb * vb / (b.n - 1))
    return WelchResult(t, df, float(2 * sps.t.sf(abs(t), df)), ratio)


def histogram_bin(x: float) -> int:
    """The bin of a value: ⌊log2(x)·32⌋ for x ≥ 1, −1 below (the SQL of the warm move uses the same rule)."""
    return math.floor(math.log2(x) * HIST_BINS_PER_OCTAVE) if x >= 1 else -1


def merge_histograms(hists: Sequence[tuple[Sequence[int], Sequence[int]]]) -> dict[int, int]:
    """Sum of sparse histograms given as (bins, counts) pairs."""
    merged: dict[int, int] = {}
    for bins, counts in hists:
        if bins is None or counts is None:  # a cell without successful samples
            continue
        for b, c in zip(bins, counts, strict=True):
            merged[int(b)] = merged.get(int(b), 0) + int(c)
    return merged


def histogram_quantile(hist: dict[int, int], q: float) -> float:
    """Quantile q of the values counted in ``hist`` (type 7, as the exact quantiles), approximately.

    The k-th smallest value (0-based) of a bin holding c values, of which ``before`` are in lower bins,
    is placed at 2^((b + (k − before + ½)/c)/32): the values of a bin are spread evenly in log space.
    Relative error below one bin width (:data:`HIST_RELATIVE_ERROR`).
    """
    n = sum(hist.values())
    if n == 0:
        return math.nan
    h = (n - 1) * q
    lo, frac = int(math.floor(h)), h - math.floor(h)
    ordered = sorted(hist.items())

    def order_stat(k: int) -> float:
        before = 0
        for b, c in ordered:
            if k < before + c:
                if b < 0:
                    return 0.0
                return 2 ** ((b + (k - before + 0.5) / c) / HIST_BINS_PER_OCTAVE)
            before += c
        raise AssertionError("rank beyond the histogram")

    x_lo = order_stat(lo)
    return x_lo if frac == 0 else x_lo + frac * (order_stat(min(lo + 1, n - 1)) - x_lo)
