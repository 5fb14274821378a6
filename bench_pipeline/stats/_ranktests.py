"""Rank statistics of two samples from their *placements*: Brunner–Munzel, Mann–Whitney U, P(B > A),
Hodges–Lehmann; and the signed-rank null distribution of paired designs.

Every function takes two **sorted** float arrays, x (tool/run A) and y (B). The placement of x_i in y
is P_i = #{y_j < x_i} + ½·#{y_j = x_i} (Orban & Wolfe 1982); Q_j is that of y_j in x. Because the
combined mid-rank of x_i equals its mid-rank within x plus P_i, every rank statistic below needs only
four ``searchsorted`` calls on the sorted samples: O((m + n) log(m + n)), no joint ranking.

Brunner & Munzel (2000), "The nonparametric Behrens–Fisher problem: asymptotic theory and a
small-sample approximation", Biometrical Journal 42(1):17–25. With the mean combined ranks
R̄_x = (m + 1)/2 + P̄ and R̄_y = (n + 1)/2 + Q̄, S²_x = Σ(P_i − P̄)²/(m − 1), S²_y = Σ(Q_j − Q̄)²/(n − 1)::

    W = m·n·(R̄_y − R̄_x) / ( (m + n)·√(m·S²_x + n·S²_y) )
    ν = (m·S²_x + n·S²_y)² / ( (m·S²_x)²/(m − 1) + (n·S²_y)²/(n − 1) )
    p = 2·F_t(−|W|; ν)

as ``scipy.stats.brunnermunzel(x, y)``. It tests H₀: p = ½ without assuming equal shapes or
variances (unlike Mann–Whitney). Degenerate cases, where scipy returns NaN: both samples constant →
p = NaN (no evidence either way); complete separation (S²_x = S²_y = 0, p̂ ∈ {0, 1}) → the exact
permutation p-value of the most extreme arrangement, 2 / C(m + n, m) (Neubert & Brunner 2007).

Mann–Whitney U (Mann & Whitney 1947) as in ``scipy.stats.mannwhitneyu(x, y)`` (two-sided, method
"auto"): U₁ = ΣP_i; normal approximation with tie and continuity corrections, exact distribution when
min(m, n) ≤ 8 and there are no ties.

Probability of superiority (McGraw & Wong 1992; Vargha & Delaney 2000: A₁₂):
P(Y > X) + ½·P(Y = X) = ΣQ_j / (m·n).

Hodges–Lehmann shift (Hodges & Lehmann 1963, "Estimates of location based on rank tests", Ann. Math.
Statist. 34:598–611): Δ̂ = median{ y_j − x_i : all i, j }. Computed exactly without forming the m·n
differences when m·n is large: interpolation search on the value t with the exact count
C(t) = #{y_j − x_i ≤ t} = Σ_j (m − searchsorted(x, y_j − t)) narrows a bracket until it holds at most
~8(m + n) differences, which are then enumerated and selected. O((m + n) log(m + n)) per step, ~5–10
steps.

Signed-rank null distribution (Wilcoxon 1945), for one-sample / paired rank procedures: under H₀ (n
continuous values symmetric about 0) T⁺ = Σ rank(|d_i|)·[d_i > 0] is distributed as the sum of a
random subset of {1, …, n}, so its probabilities are the coefficients of Π_{i=1..n} (1 + xⁱ)/2,
built by the recursion that ``scipy.stats.wilcoxon(method="exact")`` also uses (O(n³) once per n,
cached); above ``SIGNED_RANK_EXACT_MAX`` the normal approximation with continuity correction,
mean n(n + 1)/4, variance n(n + 1)(2n + 1)/24.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import special
from scipy import stats as sps

#: below this many pairwise differences the Hodges–Lehmann estimate enumerates them all
HL_BRUTE_FORCE_PAIRS = 50_000
#: up to this n the signed-rank null distribution is exact (n(n + 1)/2 + 1 support points)
SIGNED_RANK_EXACT_MAX = 400


def placements(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """(P, Q, ties): placement of each x_i in y and of each y_j in x (ties count one half), and
    whether the two samples share any value."""
    left = np.searchsorted(y, x, "left")
    right = np.searchsorted(y, x, "right")
    q = (np.searchsorted(x, y, "left") + np.searchsorted(x, y, "right")) * 0.5
    return (left + right) * 0.5, q, bool((left != right).any())


def brunner_munzel(x: np.ndarray, y: np.ndarray, p: np.ndarray, q: np.ndarray) -> tuple[float, float, float]:
    """(W, ν, p-value) of the two-sided Brunner–Munzel test; see the module docstring."""
    m, n = x.size, y.size
    if m < 2 or n < 2 or (x[0] == x[-1] and y[0] == y[-1]):
        return math.nan, math.nan, math.nan
    sx = float(np.var(p, ddof=1))
    sy = float(np.var(q, ddof=1))
    p_hat = float(q.mean()) / m
    if sx == 0.0 and sy == 0.0:
        if p_hat in (0.0, 1.0):
            w = math.copysign(math.inf, p_hat - 0.5)
            log_comb = math.lgamma(m + n + 1) - math.lgamma(m + 1) - math.lgamma(n + 1)
            return w, math.nan, min(1.0, 2.0 * math.exp(-log_comb))
        return math.nan, math.nan, math.nan
    mean_rank_x = (m + 1) / 2 + float(p.mean())
    mean_rank_y = (n + 1) / 2 + float(q.mean())
    v = m * sx + n * sy
    w = m * n * (mean_rank_y - mean_rank_x) / ((m + n) * math.sqrt(v))
    nu = v * v / ((m * sx) ** 2 / (m - 1) + (n * sy) ** 2 / (n - 1))
    return w, nu, float(2.0 * special.stdtr(nu, -abs(w)))


def mann_whitney_p(x: np.ndarray, y: np.ndarray, p: np.ndarray, cross_ties: bool) -> float:
    """Two-sided Mann–Whitney U p-value, as ``scipy.stats.mannwhitneyu(x, y)`` (method "auto")."""
    m, n = x.size, y.size
    if m == 0 or n == 0:
        return math.nan
    # ties: within x, within y, or across (a half in a placement); the common tie-free case is cheap
    has_ties = cross_ties or bool((np.diff(x) == 0).any() or (np.diff(y) == 0).any())
    if has_ties:
        both = np.sort(np.concatenate([x, y]), kind="stable")
        edges = np.flatnonzero(np.diff(both)) + 1
        ties = np.diff(np.concatenate([[0], edges, [both.size]]))
    else:
        ties = np.ones(1)
    if min(m, n) <= 8 and not has_ties:
        return float(sps.mannwhitneyu(x, y, method="exact").pvalue)
    u1 = float(p.sum())
    u = max(u1, m * n - u1)
    total = m + n
    tie_term = float((ties.astype(np.float64) ** 3 - ties).sum())
    s2 = m * n / 12 * ((total + 1) - tie_term / (total * (total - 1)))
    if s2 <= 0:
        return math.nan
    z = (u - m * n / 2 - 0.5) / math.sqrt(s2)
    return float(min(1.0, 2.0 * special.ndtr(-z)))


def prob_superiority(q: np.ndarray, m: int) -> float:
    """P(Y > X) + ½·P(Y = X) from the placements Q of y in x."""
    n = q.size
    return float(q.sum()) / (m * n) if m and n else math.nan


def hodges_lehmann(x: np.ndarray, y: np.ndarray) -> float:
    """median{ y_j − x_i } for sorted x, y (exact; see the module docstring)."""
    m, n = x.size, y.size
    total = m * n
    if total == 0:
        return math.nan
    k1, k2 = (total - 1) // 2, total // 2  # 0-based ranks whose mean is the median
    if total <= HL_BRUTE_FORCE_PAIRS:
        d = np.subtract.outer(y, x).ravel()
        d.partition((k1, k2))
        return float((d[k1] + d[k2]) / 2)

    if x[0] == x[-1] and y[0] == y[-1]:
        return float(y[0] - x[0])

    def count_le(t: float) -> int:
        # pairs with y_j - x_i <= t  <=>  x_i >= y_j - t
        return int(total - np.searchsorted(x, y - t, "left").sum())

    # bracket (lo, hi] holding rank k1: count_le(lo) <= k1 < count_le(hi); start near the median shift
    centre = (y[(n - 1) // 2] + y[n // 2] - x[(m - 1) // 2] - x[m // 2]) / 2
    # about two standard errors of the estimate: (IQR_x + IQR_y) / √min(m, n); widened below if needed
    iqr = float(x[(3 * m) // 4] - x[m // 4] + y[(3 * n) // 4] - y[n // 4])
    if iqr <= 0:
        iqr = float(x[-1] - x[0] + y[-1] - y[0])
    step = max(iqr, 1e-300) / math.sqrt(min(m, n))
    lo, hi = centre - step, centre + step
    c_lo, c_hi = count_le(lo), count_le(hi)
    while c_lo > k1:
        step *= 4
        lo = centre - step
        c_lo = count_le(lo)
    while c_hi <= k1:
        step *= 4
        hi = centre + step
        c_hi = count_le(hi)
    limit = 8 * (m + n)
    for _ in range(200):
        if c_hi - c_lo <= limit:
            break
        # interpolate the count linearly, staying inside the middle 90 % of the bracket
        frac = (k1 + 0.5 - c_lo) / (c_hi - c_lo)
        t = lo + (hi - lo) * min(0.95, max(0.05, frac))
        if not lo < t < hi:
            break
        c = count_le(t)
        if c <= k1:
            lo, c_lo = t, c
        else:
            hi, c_hi = t, c
    # the smallest difference above lo, per row j: y_j - x[stop_j - 1]
    stop = np.searchsorted(x, y - lo, "left")  # x[stop_j:] give differences <= lo
    has = stop > 0
    d_next = float(np.min(y[has] - x[stop[has] - 1]))
    if count_le(d_next) > k2:  # ties: ranks k1 and k2 both sit on that one value
        return d_next
    # enumerate the differences in (lo, hi] and select
    start = np.searchsorted(x, y - hi, "left")
    lengths = stop - start
    below = total - int(stop.sum())
    j = np.repeat(np.arange(n), lengths)
    offs = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    d = y[j] - x[start[j] + offs]
    r1, r2 = k1 - below, k2 - below
    if r2 < d.size:
        d.partition((r1, r2))
        return float((d[r1] + d[r2]) / 2)
    # k2 is the first difference above hi
    d.partition(r1)
    has = start > 0
    above = float(np.min(y[has] - x[start[has] - 1]))
    return float((d[r1] + above) / 2)


@functools.lru_cache(maxsize=256)
def signed_rank_null_cdf(n: int) -> np.ndarray:
    """P(T⁺ ≤ t) for t = 0 … n(n + 1)/2 under H₀ (see the module docstring); read-only, cached."""
    size = n * (n + 1) // 2 + 1
    if n <= SIGNED_RANK_EXACT_MAX:
        pmf = np.ones(1)
        for k in range(1, n + 1):  # multiply by (1 + x^k)/2
            nxt = np.zeros(pmf.size + k)
            nxt[: pmf.size] = pmf * 0.5
            nxt[k:] += pmf * 0.5
            pmf = nxt
        cdf = np.minimum(np.cumsum(pmf), 1.0)
    else:
        t = np.arange(size, dtype=np.float64)
        mean, sd = n * (n + 1) / 4, math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
        cdf = special.ndtr((t + 0.5 - mean) / sd)
    cdf[-1] = 1.0
    cdf.setflags(write=False)
    return cdf
