"""Robust noise model of a series of run medians: outlier clipping, AR(1) scale and long-run variance.

Model
    x_t = m_t + e_t, t = 0 … n−1, where m_t is the signal (level shifts, a slow trend) and e_t is
    stationary AR(1) noise, e_t = φ·e_{t−1} + u_t, with marginal variance γ = Var(e_t), plus a few
    gross outliers (a slow run, a noisy night).

Outliers (``clip_outliers``): r_t = x_t − med₅(x)_t, the residual around a running median of 5 runs
(a local level: a step moves it within 2 runs, a one- or two-run spike does not move it at all);
x_t is pulled back to med₅(x)_t ± c·ŝ_r with ŝ_r = 1.4826·MAD(r) and c = 3 (winsorising, Huber's
idea applied to the data; Fearnhead & Rigaill 2019 show why a bounded loss matters for change points).

Scale and autocorrelation (``noise_model``), from differences at lags k = 1 … K (K = min(8, n // 5)):
for AR(1) noise, Var(x_{t+k} − x_t) = 2γ(1 − φ^k) wherever no level shift lies between t and t + k,
and a linear trend only moves the differences' centre. Each v_k is estimated robustly as
(1.4826·MAD of the lag-k differences)², which ignores the few differences that straddle a step, and
(γ, φ) minimise Σ_k (ln v_k − ln 2γ(1 − φ^k))² over a grid of φ ∈ [−0.5, 0.95] (ln γ in closed
form). This is the robust lagged-difference estimator of Romano, Rigaill, Runge & Fearnhead (2022,
*J. Amer. Statist. Assoc.* 117:2147, "DeCAFS"), reduced to AR(1) noise. First differences alone
(lag 1) see only 2γ(1 − φ): on a smooth (strongly autocorrelated) series they make the noise look
tiny and every wiggle significant — the failure of the previous detector.

Long-run variance: a mean of m consecutive points of AR(1) noise has variance ≈ σ²_LR/m with
σ²_LR = γ·(1 + φ)/(1 − φ) (e.g. Brockwell & Davis 1991, §7.1). Change-point costs divided by σ²_LR
keep the false-alarm rate of independent noise on dependent noise (Lavielle & Moulines 2000 show the
least-squares change-point estimate stays consistent under such dependence). φ < 0 is not credited
(σ²_LR = γ then): the model errs towards fewer alarms. Seasonality that the model does not fit
explicitly raises v_k at the lags it spans and so enters γ and φ: it widens the noise, it does not
create change points.

Cost O(K·n log n) (medians by partition), vectorised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter

MAD_TO_SD = 1.4826
CLIP = 3.0
LOCAL_WINDOW = 5
MAX_LAG = 8
PHI_GRID = np.round(np.arange(-0.5, 0.951, 0.01), 2)


@dataclass(frozen=True)
class NoiseModel:
    """σ = √γ (marginal sd of the noise), φ (lag-1 autocorrelation), σ_LR (long-run sd)."""

    sigma: float
    phi: float
    long_run_sigma: float


def robust_sd(x: np.ndarray) -> float:
    """1.4826·MAD(x): the standard deviation of normal data, insensitive to a minority of outliers."""
    if len(x) == 0:
        return 0.0
    return MAD_TO_SD * float(np.median(np.abs(x - np.median(x))))


def local_level(x: np.ndarray, window: int = LOCAL_WINDOW) -> np.ndarray:
    """Running median of ``window`` points (edges mirrored: d c b | a b c d, so the newest point is
    one of five, and a spike there is clipped like any other)."""
    return median_filter(np.asarray(x, dtype=float), size=min(window, max(1, len(x))), mode="mirror")


def clip_outliers(x: np.ndarray, c: float = CLIP, window: int = LOCAL_WINDOW) -> np.ndarray:
    """x winsorised at c robust sds of its residuals around the running median (see module docstring)."""
    x = np.asarray(x, dtype=float)
    if len(x) < window:
        return x.copy()
    level = local_level(x, window)
    r = x - level
    s = robust_sd(r)
    if not s > 0:
        return x.copy()
    return level + np.clip(r, -c * s, c * s)


def lag_variances(x: np.ndarray, max_lag: int = MAX_LAG) -> np.ndarray:
    """v_k = (1.4826·MAD of x_{t+k} − x_t)² for k = 1 … K."""
    return np.array([robust_sd(x[k:] - x[:-k]) ** 2 for k in range(1, max_lag + 1)])


def noise_model(x: np.ndarray, max_lag: int = MAX_LAG) -> NoiseModel:
    """(σ, φ, σ_LR) of the AR(1) noise fitted to the robust lag-k variances (module docstring)."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    k_max = int(min(max_lag, max(2, n // 5)))
    if n < 4:
        s = float(np.std(x, ddof=1)) if n > 1 else 0.0
        return NoiseModel(s, 0.0, s)
    v = lag_variances(x, min(k_max, n - 1))
    if not np.all(v > 0):  # quantised or constant series: fall back to the plain sd
        s = float(np.std(np.diff(x), ddof=1) / math.sqrt(2)) if n > 2 else 0.0
        return NoiseModel(s, 0.0, s)
    k = np.arange(1, len(v) + 1)
    a = 2.0 * (1.0 - PHI_GRID[:, None] ** k[None, :])  # grid × lags
    resid = np.log(v)[None, :] - np.log(a)
    log_gamma = resid.mean(axis=1)
    best = int(np.argmin(((resid - log_gamma[:, None]) ** 2).sum(axis=1)))
    phi = float(PHI_GRID[best])
    gamma = math.exp(float(log_gamma[best]))
    factor = (1 + phi) / (1 - phi) if phi > 0 else 1.0
    return NoiseModel(math.sqrt(gamma), phi, math.sqrt(gamma * factor))
