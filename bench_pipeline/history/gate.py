"""Same-run gate: is the newest run's median plausible given the cell's last N runs?

Model
    the log-medians of the last N runs of the current regime, y_1 … y_N, and the newest y_new are
    draws from one normal distribution N(μ, σ²) (log-medians of runs are close to normal: each is a
    median of ≥ 5 samples and logs remove the skew).

Prediction interval (e.g. Hahn & Meeker 1991, *Statistical Intervals*, §4.7): with ȳ and s the mean and
standard deviation (ddof 1) of the N reference points::

    ȳ ± t_{1−α/2, N−1} · s · √(1 + 1/N)

holds y_new with probability 1 − α when nothing changed. ``p_value`` is the two-sided tail probability of
T = (y_new − ȳ) / (s·√(1 + 1/N)) under t_{N−1}. Defaults: N = 10 (two weeks of nightly runs: recent
enough to follow a drifting machine, long enough that t_{9} is not much wider than normal) and
α = 0.01: a suite has hundreds of cells per run, so a 95 % interval would put a dozen of them
outside by chance every night. ``alert`` additionally needs |ratio − 1| > δ (the practical margin
of SPEC §5), so a quiet cell with a tiny s cannot alert on a 1 % wobble.

Reference points: the up-to-N runs before the newest one, but not earlier than the last confirmed
change point (mixing two levels would widen the interval), and never fewer than the last 3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

WINDOW = 10
ALPHA = 0.01
MIN_REFERENCE = 3


@dataclass(frozen=True)
class GateResult:
    reference_points: int
    newest: float | None = None  # the newest median (metric units)
    expected: float | None = None  # exp(ȳ)
    low: float | None = None  # prediction interval, metric units
    high: float | None = None
    ratio: float | None = None  # newest / expected
    p_value: float | None = None
    outside: bool = False
    alert: bool = False
    direction: str | None = None  # "higher" / "lower" than expected, when outside


def same_run_gate(
    log_medians: np.ndarray,
    *,
    window: int = WINDOW,
    alpha: float = ALPHA,
    delta: float = 0.03,
    regime_start: int = 0,
) -> GateResult:
    """Judge the last point of ``log_medians`` against up to ``window`` points before it."""
    y = np.asarray(log_medians, dtype=float)
    if len(y) < MIN_REFERENCE + 1 or not np.all(np.isfinite(y)):
        return GateResult(reference_points=max(len(y) - 1, 0))
    newest = y[-1]
    start = max(len(y) - 1 - window, min(regime_start, len(y) - 1 - MIN_REFERENCE), 0)
    ref = y[start:-1]
    mean, s = float(ref.mean()), float(ref.std(ddof=1))
    k = len(ref)
    ratio = math.exp(newest - mean)
    if not s > 0:  # identical reference medians: anything else is outside
        outside = newest != mean
        return GateResult(
            k, math.exp(newest), math.exp(mean), math.exp(mean), math.exp(mean), ratio,
            0.0 if outside else 1.0, outside, outside and abs(ratio - 1) > delta,
            ("higher" if newest > mean else "lower") if outside else None,
        )  # fmt: skip
    scale = s * math.sqrt(1 + 1 / k)
    half = float(sps.t.ppf(1 - alpha / 2, k - 1)) * scale
    p = float(2 * sps.t.sf(abs(newest - mean) / scale, k - 1))
    outside = abs(newest - mean) > half
    return GateResult(
        reference_points=k,
        newest=math.exp(newest),
        expected=math.exp(mean),
        low=math.exp(mean - half),
        high=math.exp(mean + half),
        ratio=ratio,
        p_value=p,
        outside=outside,
        alert=outside and abs(ratio - 1) > delta,
        direction=("higher" if newest > mean else "lower") if outside else None,
    )
