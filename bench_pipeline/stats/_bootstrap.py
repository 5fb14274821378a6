"""Bootstrap of medians without materialising resamples, and the BCa interval.

Statistic: θ = log(median B / median A). Its bootstrap distribution comes from one of two schemes:

*Independent resampling* (Efron 1979). The median of a resample of sorted x₍₁₎ … x₍ₙ₎ drawn with
replacement is an order statistic of n i.i.d. uniform indices I_j = ⌊n·U_j⌋, and ⌊·⌋ is monotone, so
the k-th smallest index is ⌊n·U₍ₖ₎⌋ with U₍ₖ₎ ~ Beta(k, n − k + 1). For even n the next one is
U₍ₖ₊₁₎ = U₍ₖ₎ + (1 − U₍ₖ₎)·Beta(1, n − k) (the minimum of the n − k uniforms above U₍ₖ₎). A bootstrap
median therefore costs O(1) instead of O(n) and has *exactly* the distribution of the median of a
resample (Maritz & Jarrett 1978 give the same distribution in closed form).

*Round-block resampling* (paired bootstrap; Künsch 1989, Efron & Tibshirani 1993 §8.5). When both
tools were measured in the same interleaving rounds, rounds are resampled: the weight of round r in
replicate b is W_br, (W_b·) ~ Multinomial(R; 1/R, …, 1/R), and every sample inherits its round's weight,
so machine drift shared within a round cancels in the ratio. The median of replicate b is the weighted
median of the sorted sample: the position j where the cumulative weight passes the middle ranks
⌊(T_b − 1)/2⌋ and ⌊T_b/2⌋ (T_b the replicate's total weight; the mean of the two values at those ranks, as
``numpy.median``). Only a window around the sample median is scanned: the cumulative weight before the
window is one matrix product W·c (shared by every side on the same rounds), the window is
± 3·σ̂ positions wide, σ̂² = Σ_r y_r² − (Σ_r y_r)²/R with y_r = (samples of round r below the median) −
c_r/2, the variance of the weight imbalance at the median. The rare replicate whose crossing falls
outside the window is recomputed over the whole sample, so the result is exact. Cost O(B·(R + σ̂)) per
side instead of O(B·n·log n).

BCa interval (Efron 1987, "Better bootstrap confidence intervals", JASA 82:171–185; Efron & Tibshirani
1993 §14.3), as ``scipy.stats.bootstrap(method="BCa")``::

    ẑ₀ = Φ⁻¹( (#{θ*_b < θ̂} + #{θ*_b ≤ θ̂}) / 2B )
    â  = Σ_s Σ_i U_si³ / n_s³  /  ( 6 · (Σ_s Σ_i U_si² / n_s²)^{3/2} ),  U_si = (n_s − 1)(θ̄_s(·) − θ̂_s(i))
    α₁ = Φ( ẑ₀ + (ẑ₀ + z_{α/2}) / (1 − â(ẑ₀ + z_{α/2})) ),  α₂ likewise with z_{1−α/2}
    CI = ( quantile(θ*, α₁), quantile(θ*, α₂) )   (linear interpolation)

θ̂_s(i) is the jackknife statistic leaving out item i of sample s: one sample of A or B for independent
resampling (s ∈ {A, B}, as scipy does for two samples), one round for block resampling (one sample
s of rounds). Leave-one-out medians need no recomputation: removing item i of sorted data moves the
middle ranks by at most the number of removed samples, so each is read off directly (O(n)).
Degenerate cases: â = 0 when the jackknife values are all equal; when θ̂ lies outside the bootstrap
distribution (ẑ₀ = ±∞) the percentile interval is returned; a constant θ* gives CI = [θ*, θ*].
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
from scipy import special

#: half-width of the scanned window around the median, in σ̂ of the crossing position
WINDOW_Z = 3.0
#: upper bound on the elements of one replicate × round weight block held in memory
CHUNK_ELEMENTS = 8_000_000


def stable_seed(seed: int, *parts: object) -> np.random.SeedSequence:
    """A seed that depends only on ``seed`` and the labels, so a comparison's draws do not depend on
    what else is analysed in the same call."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return np.random.SeedSequence([seed & 0xFFFFFFFF, int.from_bytes(digest, "little")])


# ---------------------------------------------------------------------------------------------------
# independent resampling


def median_replicates_iid(x: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """n_boot draws of the median of a with-replacement resample of sorted ``x`` (exact, O(n_boot))."""
    n = x.size
    if n == 0:
        return np.full(n_boot, np.nan)
    if n % 2:
        k = (n + 1) // 2
        u = rng.beta(k, n - k + 1, size=n_boot)
        return x[np.minimum((u * n).astype(np.int64), n - 1)]
    k = n // 2
    u1 = rng.beta(k, n - k + 1, size=n_boot)
    u2 = u1 + (1.0 - u1) * rng.beta(1, n - k, size=n_boot)
    i1 = np.minimum((u1 * n).astype(np.int64), n - 1)
    i2 = np.minimum((u2 * n).astype(np.int64), n - 1)
    return (x[i1] + x[i2]) * 0.5


def _median_sorted(x: np.ndarray) -> float:
    n = x.size
    return float((x[(n - 1) // 2] + x[n // 2]) * 0.5) if n else math.nan


def loo_medians_iid(x: np.ndarray) -> np.ndarray:
    """Median of sorted ``x`` without x_i, for every i (O(n))."""
    n = x.size
    if n < 2:
        return np.full(n, np.nan)
    i = np.arange(n)
    q1, q2 = (n - 2) // 2, (n - 1) // 2  # middle ranks of n - 1 values
    return (x[q1 + (q1 >= i)] + x[q2 + (q2 >= i)]) * 0.5


# ---------------------------------------------------------------------------------------------------
# round-block resampling


@dataclass
class BlockSide:
    """One sample (sorted values ``x`` and each value's round as a column ``col`` in 0..R-1)."""

    x: np.ndarray
    col: np.ndarray


def loo_medians_block(side: BlockSide, n_rounds: int) -> np.ndarray:
    """Median of sorted ``x`` without the samples of round r, for r in 0..R-1 (NaN when none remain).

    The reduced array's rank q sits at original position q + t, where t is the number of removed
    positions before it; t ≤ c_r, so each round needs c_r + 1 candidate checks.
    """
    x, col = side.x, side.col
    n = x.size
    counts = np.bincount(col, minlength=n_rounds)
    c_max = int(counts.max()) if n else 0
    if c_max <= 1:  # one sample per round: the leave-one-sample-out medians, placed by round
        out = np.full(n_rounds, _median_sorted(x))
        out[col] = loo_medians_iid(x)
        return out
    # removed positions of each round, ascending, padded with n
    order = np.argsort(col, kind="stable")
    starts = np.cumsum(counts) - counts
    slot = np.arange(n) - np.repeat(starts, counts)
    removed = np.full((n_rounds, max(c_max, 1)), n, dtype=np.int64)
    removed[col[order], slot] = order
    n_left = n - counts

    def position(q: np.ndarray) -> np.ndarray:
        found = np.full(n_rounds, -1, dtype=np.int64)
        for t in range(c_max + 1):
            j = q + t
            before = (removed < j[:, None]).sum(axis=1)
            hit = (before == t) & ~(removed == j[:, None]).any(axis=1) & (found < 0)
            found[hit] = j[hit]
        return found

    q1 = np.maximum((n_left - 1) // 2, 0)
    q2 = n_left // 2
    j1, j2 = position(q1), position(q2)
    ok = (n_left > 0) & (j1 >= 0) & (j2 >= 0) & (j2 < n)
    out = np.full(n_rounds, np.nan)
    out[ok] = (x[j1[ok]] + x[j2[ok]]) * 0.5
    return out


def median_replicates_block(
    sides: list[BlockSide], n_rounds: int, n_boot: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Bootstrap medians of several sides under one draw of round weights (see the module docstring).

    Every side gets the same replicate weights W (B × R), which is what pairs tool A with tool B.
    """
    if not sides:
        return []
    prep = [_window(s, n_rounds) for s in sides]
    # columns of the matrix product: per side the prefix counts before its window, and its per-round
    # counts when they are not all 1 (then T_b = R for every replicate)
    cols: list[np.ndarray] = []
    for p in prep:
        p["col_before"] = len(cols)
        cols.append(p["before"])
        if not p["unit"]:
            p["col_total"] = len(cols)
            cols.append(p["counts"])
    basis = np.stack(cols, axis=1).astype(np.float32)  # R × k
    out = [np.empty(n_boot) for _ in sides]
    # sides of similar window width are scanned together, so that one Python-level loop over window
    # positions serves many sides (the loop, not the arithmetic, would dominate otherwise)
    by_width = sorted(range(len(sides)), key=lambda i: prep[i]["hi"] - prep[i]["lo"])
    widest = prep[by_width[-1]]["hi"] - prep[by_width[-1]]["lo"]
    chunk = max(1, min(n_boot, CHUNK_ELEMENTS // max(n_rounds, 1)))
    rows_done = 0
    while rows_done < n_boot:
        b = min(chunk, n_boot - rows_done)
        draws = rng.integers(0, n_rounds, size=(b, n_rounds))
        draws += (np.arange(b) * n_rounds)[:, None]
        weights = np.bincount(draws.ravel(), minlength=b * n_rounds).reshape(b, n_rounds)
        sums = np.rint(weights.astype(np.float32) @ basis).astype(np.int64)  # b × k
        # window sums fit in int16 (half the memory traffic of int32) unless windows or weights are huge
        small = widest * int(weights.max(initial=0)) < np.iinfo(np.int16).max
        weights_t = np.zeros((n_rounds + 1, b), dtype=np.int16 if small else np.int32)  # R × b + a 0 row
        weights_t[:n_rounds] = weights.T
        batch: list[int] = []
        for pos, i in enumerate(by_width):
            batch.append(i)
            width = prep[i]["hi"] - prep[i]["lo"]
            if (
                pos + 1 < len(by_width)
                and (len(batch) + 1) * width * b * weights_t.itemsize <= CHUNK_ELEMENTS * 2
            ):
                continue
            meds = _weighted_medians(
                [sides[j] for j in batch], [prep[j] for j in batch], weights, weights_t, sums, n_rounds
            )
            for j, med in zip(batch, meds, strict=True):
                out[j][rows_done : rows_done + b] = med
            batch = []
        rows_done += b
    return out


def _window(side: BlockSide, n_rounds: int) -> dict:
    n = side.x.size
    counts = np.bincount(side.col, minlength=n_rounds)
    centre = n // 2
    below_centre = np.bincount(side.col[:centre], minlength=n_rounds)
    y = below_centre - counts / 2.0
    sd = math.sqrt(max(float((y * y).sum() - y.sum() ** 2 / n_rounds), 0.0))
    half = math.ceil(WINDOW_Z * sd) + int(counts.max(initial=0)) + 2
    lo, hi = max(0, centre - half), min(n, centre + half + 1)
    return {
        "counts": counts,
        "unit": bool((counts == 1).all()),
        "lo": lo,
        "hi": hi,
        "before": np.bincount(side.col[:lo], minlength=n_rounds),
        "win_col": side.col[lo:hi],
    }


def _weighted_medians(
    sides: list[BlockSide],
    prep: list[dict],
    weights: np.ndarray,
    weights_t: np.ndarray,
    sums: np.ndarray,
    n_rounds: int,
) -> list[np.ndarray]:
    """Weighted medians of a batch of sides for the b replicates of ``weights`` (b × R).

    ``weights_t`` is weights transposed with one extra zero row (index R) that pads shorter windows:
    a padded position adds no weight, so it can only be "crossed" by a rank beyond the window's total,
    and such replicates are recomputed in full anyway.
    """
    b = weights.shape[0]
    width = max(p["hi"] - p["lo"] for p in prep)
    cols = np.full((len(sides), width), n_rounds, dtype=np.int64)
    for k, p in enumerate(prep):
        cols[k, : p["hi"] - p["lo"]] = p["win_col"]
    cum = weights_t[cols]  # S × w × b: cumulative weight along each window, one column per replicate
    for i in range(1, width):  # position by position: ~4x faster than np.cumsum(axis=1) here
        np.add(cum[:, i], cum[:, i - 1], out=cum[:, i])
    total = np.stack(
        [sums[:, p["col_total"]] if not p["unit"] else np.full(b, n_rounds, dtype=np.int64) for p in prep]
    )
    before = np.stack([sums[:, p["col_before"]] for p in prep])  # S × b
    q1 = (total - 1) // 2  # 0-based middle ranks of each replicate
    q2 = total // 2
    dtype = cum.dtype
    limit = np.iinfo(dtype).max
    r1 = np.clip(q1 - before, -1, limit).astype(dtype)[:, None, :]  # ranks relative to the window start
    r2 = np.clip(q2 - before, -1, limit).astype(dtype)[:, None, :]
    lo = np.array([p["lo"] for p in prep])[:, None]
    j1 = lo + (cum <= r1).sum(axis=1, dtype=np.int64)
    j2 = lo + (cum <= r2).sum(axis=1, dtype=np.int64)
    ok = (r1[:, 0] >= 0) & (r2[:, 0] < cum[:, -1]) if width else np.zeros(total.shape, dtype=bool)
    meds = []
    for k, side in enumerate(sides):
        bad = np.flatnonzero(~ok[k] & (total[k] > 0))
        if bad.size:  # crossing outside the window: scan the whole sample for these replicates
            full = np.cumsum(weights[bad][:, side.col], axis=1)
            j1[k, bad] = np.count_nonzero(full <= q1[k, bad, None], axis=1)
            j2[k, bad] = np.count_nonzero(full <= q2[k, bad, None], axis=1)
        x = side.x
        med = (x[np.minimum(j1[k], x.size - 1)] + x[np.minimum(j2[k], x.size - 1)]) * 0.5
        med[total[k] <= 0] = np.nan
        meds.append(med)
    return meds


# ---------------------------------------------------------------------------------------------------
# BCa


def bca_interval(
    theta_hat: float,
    replicates: np.ndarray,
    jackknife: list[np.ndarray],
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Two-sided 1 − α BCa interval of θ (module docstring); ``jackknife`` holds one array of
    leave-one-out statistics per resampled unit family. Non-finite replicates are ignored."""
    reps = replicates[np.isfinite(replicates)]
    if reps.size == 0 or not math.isfinite(theta_hat):
        return math.nan, math.nan
    if reps[0] == reps[-1] and (reps == reps[0]).all():
        return float(reps[0]), float(reps[0])
    b = reps.size
    pct = (np.count_nonzero(reps < theta_hat) + np.count_nonzero(reps <= theta_hat)) / (2 * b)
    z0 = special.ndtri(pct)
    num = den = 0.0
    for jk in jackknife:
        jk = jk[np.isfinite(jk)]
        n = jk.size
        if n < 2:
            continue
        u = (n - 1) * (jk.mean() - jk)
        num += float((u**3).sum()) / n**3
        den += float((u**2).sum()) / n**2
    a_hat = num / (6.0 * den**1.5) if den > 0 else 0.0
    z_lo = special.ndtri(alpha / 2)
    if math.isfinite(z0):
        levels = [special.ndtr(z0 + (z0 + z) / (1 - a_hat * (z0 + z))) for z in (z_lo, -z_lo)]
    else:  # θ̂ outside the bootstrap distribution: BCa undefined, use the percentile interval
        levels = [alpha / 2, 1 - alpha / 2]
    lo, hi = np.quantile(reps, levels)
    return float(lo), float(hi)
