"""Multiple-testing control: Benjamini–Hochberg adjusted p-values (false discovery rate).

Benjamini & Hochberg (1995), "Controlling the false discovery rate: a practical and powerful approach
to multiple testing", JRSS B 57(1):289–300. With the m finite p-values sorted, p₍₁₎ ≤ … ≤ p₍ₘ₎::

    p̃₍ᵢ₎ = min_{k ≥ i} min(1, m · p₍ₖ₎ / k)

Rejecting every hypothesis with p̃ < q keeps the expected share of false rejections among all
rejections at most q (for independent or positively dependent tests). Same values as
``scipy.stats.false_discovery_control(p, method="bh")``; NaN p-values are left out of m and stay NaN.
O(m log m).
"""

from __future__ import annotations

import numpy as np


def benjamini_hochberg(p_values: np.ndarray | list[float]) -> np.ndarray:
    """BH-adjusted p-values, same order as the input; NaN where the input is NaN."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = finite.size
    if m == 0:
        return out
    order = np.argsort(p[finite], kind="stable")
    scaled = p[finite][order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out[finite[order]] = np.clip(adjusted, 0.0, 1.0)
    return out
