"""Trend of a cell's run medians: Theil–Sen slope, Mann–Kendall significance, next-run forecast.

Model
    y_t = log(median of run t) = a + b·t + ε_t, t = 0 … n−1 (run index, not calendar time: runs
    are the unit of change), ε_t exchangeable noise of any distribution.

Slope (Theil 1950; Sen 1968): b̂ = median over i < j of (y_j − y_i)/(j − i), with its 95% CI from the
ranks of those pairwise slopes (``scipy.stats.theilslopes``); breakdown point 29 %, so a few slow runs do
not tilt it. Reported as ``slope_per_run`` = exp(b̂) − 1, the relative change per run (0.004: +0.4 %
per run), and ``slope_abs_per_run`` = b̂ × the fitted level, in the metric's units.

Significance (Mann 1945; Kendall 1975): the Mann–Kendall test of "no monotone trend" is Kendall's τ
between t and y_t; ``scipy.stats.kendalltau`` gives τ and its two-sided p-value (exact for small n
without ties, a normal approximation with tie correction otherwise). Theil–Sen estimates how steep,
Mann–Kendall says whether there is a slope at all; ``significant`` needs p < α (0.05).

Autocorrelated noise (``phi`` > 0, the AR(1) coefficient the change-point model fitted): positively
correlated runs make Mann–Kendall's S vary more than under independence, so the plain test finds
"trends" in wandering noise. The variance of S is then multiplied by Hamed & Rao's (1998, *J.
Hydrology* 204:182) factor 1 + 2/(n(n−1)(n−2))·Σ_{k=1}^{n−1} (n−k)(n−k−1)(n−k−2)·ρ_k, with the rank
autocorrelation of AR(1) noise ρ_k = (6/π)·arcsin(φ^k/2), and p = 2·(1 − Φ(|S|/√Var)).

Forecast of the next run t* = n: ŷ = â + b̂·n with â = median(y_t − b̂·t) (Conover's intercept), and the
prediction interval ŷ ± t_{1−α/2, n−2} · ŝ · √(1 + 1/n + (n − t̄)²/Σ(t − t̄)²), ŝ = 1.4826·MAD of the
residuals: the OLS interval with robust centre and scale plugged in (an approximation; Theil–Sen has
no closed-form PI). Returned in the metric's units (exp of the log values).

Cost O(n²) for the pairwise slopes; trivial at the lengths of run histories.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

ALPHA = 0.05
MIN_POINTS = 4


@dataclass(frozen=True)
class TrendFit:
    points: int
    slope_per_run: float | None = None  # exp(b̂) − 1
    slope_low: float | None = None  # 95% CI of slope_per_run
    slope_high: float | None = None
    slope_abs_per_run: float | None = None  # metric units per run at the fitted level
    tau: float | None = None
    p_value: float | None = None
    significant: bool = False
    forecast: float | None = None
    forecast_low: float | None = None
    forecast_high: float | None = None


def robust_scale(x: np.ndarray) -> float:
    """1.4826·MAD, falling back to the standard deviation when MAD is 0 (quantised values)."""
    if len(x) < 2:
        return 0.0
    mad = float(np.median(np.abs(x - np.median(x))))
    return 1.4826 * mad if mad > 0 else float(np.std(x, ddof=1))


def hamed_rao_factor(n: int, phi: float) -> float:
    """Var(S) under AR(1) noise / Var(S) under independence (module docstring)."""
    if phi <= 0 or n < 3:
        return 1.0
    k = np.arange(1, n, dtype=float)
    rho = 6 / math.pi * np.arcsin(phi**k / 2)
    return 1 + 2 / (n * (n - 1) * (n - 2)) * float(np.sum((n - k) * (n - k - 1) * (n - k - 2) * rho))


def trend(log_medians: np.ndarray, *, alpha: float = ALPHA, phi: float = 0.0) -> TrendFit:
    """Theil–Sen slope, Mann–Kendall p-value and next-run forecast of ``log_medians`` (oldest first);
    ``phi`` > 0 corrects the p-value for AR(1) noise."""
    y = np.asarray(log_medians, dtype=float)
    n = len(y)
    if n < MIN_POINTS or not np.all(np.isfinite(y)):
        return TrendFit(points=n)
    t = np.arange(n, dtype=float)
    if np.ptp(y) == 0:
        level = math.exp(y[0])
        return TrendFit(n, 0.0, 0.0, 0.0, 0.0, None, 1.0, False, level, level, level)
    b, a, b_low, b_high = (float(v) for v in sps.theilslopes(y, t, alpha=1 - alpha))
    tau, p = sps.kendalltau(t, y)
    if phi > 0 and p is not None and np.isfinite(p):
        z = float(sps.norm.isf(float(p) / 2))  # |S|/√Var(S) of the test scipy made
        p = float(2 * sps.norm.sf(z / math.sqrt(hamed_rao_factor(n, phi))))
    resid = y - (a + b * t)
    s = robust_scale(resid)
    leverage = 1 + 1 / n + (n - t.mean()) ** 2 / float(np.sum((t - t.mean()) ** 2))
    half = float(sps.t.ppf(1 - alpha / 2, n - 2)) * s * math.sqrt(leverage)
    y_next = a + b * n
    level = math.exp(a + b * (n - 1))
    p = float(p) if p is not None and np.isfinite(p) else 1.0
    return TrendFit(
        points=n,
        slope_per_run=math.expm1(b),
        slope_low=math.expm1(b_low),
        slope_high=math.expm1(b_high),
        slope_abs_per_run=b * level,
        tau=float(tau),
        p_value=p,
        significant=p < alpha,
        forecast=math.exp(y_next),
        forecast_low=math.exp(y_next - half),
        forecast_high=math.exp(y_next + half),
    )
