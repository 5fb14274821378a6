"""Change points in a cell's series of run medians: level shifts on top of drift, season and AR(1) noise.

Model
    y_t = log(median of run t), t = run index (oldest first; a missing run is a gap in t)::

        y_t = μ_t + g(t) + e_t,    e_t = φ·e_{t−1} + u_t,  u_t ~ N(0, σ_u²)  (plus a few outliers)

    μ_t is piecewise constant — the level shifts τ_1 < … < τ_K are the change points; g(t) is a
    common smooth part, chosen among none, a linear drift b·t, a harmonic a·cos(2πt/P) + c·sin(2πt/P),
    or both; e_t is stationary AR(1) noise, 0 ≤ φ ≤ 0.95. Logs make a step a ratio, so one margin δ
    serves cells of 1 ms and of 10 s alike. A drift is g, not a staircase of steps; a season is g,
    not a series of alternating steps; wandering (autocorrelated) noise is e, not steps.

Objective (for given φ and g): PELT (Killick, Fearnhead & Eckley 2012, *JASA* 107:1590) finds the
exact minimiser of

    Σ_k C_φ(r[τ_k:τ_{k+1}]) + β·σ̂_u²·K,   r = y − g,
    C_φ(s) = min_μ (1 − φ²)(s_0 − μ)² + Σ_{i≥1} ((s_i − μ) − φ(s_{i−1} − μ))²

C_φ is σ_u² × −2 log-likelihood of a stationary AR(1) segment with its own mean (φ = 0: the L2
cost Σ(sᵢ − s̄)²): prewhitening inside the cost, as in Chakar, Lebarbier, Lévy-Leduc & Robin (2017,
*Bernoulli* 23:1408, "AR1seg"). σ̂_u = 1.4826·MAD(Δz)/√2 with z_t = r_t − φ·r_{t−1}: within a regime
Δz is a difference of two innovations, so a step or a spike moves only a few of them (first
differences of y itself understate the noise of a smooth series: the previous detector's failure).

Penalty: β = 3·ln n per change, the modified BIC of Zhang & Siegmund (2007, *Biometrics* 63:22):
ln n for the new level and 2·ln n for searching its location (R changepoint's default "MBIC").
Model choice: φ, the form of g and the cuts minimise the penalised likelihood with σ_u profiled out,

    n·ln(RSS_φ/n) − (K + 1)·ln(1 − φ²) + β·(K + p_g) + ln n·[φ > 0]

(RSS_φ = Σ C_φ of the regimes; p_g = 1 for a drift, 3 for a harmonic: two coefficients and its
searched period). φ: coarse grid 0, 0.3, 0.6, 0.9 refined by ±0.1 and ±0.05 (more than 500 points:
coordinate descent from the robust lagged-difference estimate of ``noise.noise_model``). g's
coefficients: the pooled within-regime least-squares fit, alternated with PELT until the cuts settle.
Season periods (3 … n/2 runs, at least two cycles): the highest periodogram peaks of y − drift and of
the residuals, each refined within ±25 % by the within-regime harmonic fit; a season must lower the
criterion by more than its 3·ln n.

Outliers: y is first winsorised at 3 robust sds of its residuals around a running median of 5 runs
(``noise.clip_outliers``), so one slow run is bounded, not a regime.

Confirmation (what turns a statistical change into an alert). With levels the means of the
clipped, de-trended regimes on either side (bounded by the other changes), a change must

* persist: ≥ 2 runs after the step, at least max(2, ⌈m/2⌉) of the m after-points beyond the midpoint
  between the two levels, and a regime between two changes that is shorter than 5 runs must not
  return within δ of the level before it (a burst of slow runs that comes back is an outlier);
* matter: |after/before − 1| > δ (default 3 %), or not confidently within δ: a step is dropped
  only when |Δ log level| + 1.645·SE ≤ ln(1 + δ) (SE = σ̂·√(1/n_before + 1/n_after), σ̂ from
  first differences), so a true step at the margin (≈ 3 %) is not declined for its noisy estimate;
* at either end of the series, leave ≥ 5 runs or lower the cost by 1.5·β·σ̂_u²: a change seen in 2–4
  runs is re-judged as runs arrive, so an early alert asks for stronger evidence (the idea of
  O'Brien & Fleming's 1979 boundaries for early looks); a short first regime is as weakly supported.

Failing changes are dropped one at a time, weakest (smallest |log ratio|) first, the rest re-judged,
and each survivor moved to the least-squares split within ±3 runs of its merged regime. A regime's
length counts runs (positions), so an outage of missing runs does not make a long regime "short".
``p_value``: two-sided z = (x̄_after − x̄_before)/(σ_LR·√(1/m₁ + 1/m₂)) with the long-run sd
σ_LR = σ_u/(1 − φ), nominal (the location was searched). ``cross_check=True`` also requires an
E-divisive permutation p̂ ≤ 0.05 (below) on the prewhitened residuals around each change; the
evaluation found no gain from it (``benchmarks/RESULTS.md``), so it is off by default.

Missing values: NaN or ±inf (the log of 0, of a negative or of a non-number) are skipped as missing
runs — listed in ``Detection.excluded`` and stated in ``reason``; indices refer to the input. Fewer
than 5 usable points: ``status = "too-short"``, a constant series ``"constant"``; never a silent [].

Cost: each PELT run is O(n) to O(n²) vectorised candidate updates (no pruning in a stretch without
change); about 10–60 runs per series for n ≤ 500, about 15 for longer ones. Measured: 60 runs ≈ 10 ms,
1,000 runs ≈ 0.1 s, 10,000 runs ≈ 1 s (``benchmarks/bench_changepoints.py --timing``).

Also here, for callers and the cross-check: ``e_divisive`` (E-divisive means with a permutation test;
Matteson & James 2014, *JASA* 109:334, as used by MongoDB and Apache Otava) and ``pelt_l1`` (PELT with
asv's L1 cost and a first-difference noise scale), the two halves of the previous detector.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import stats as sps

from bench_pipeline.history.noise import NoiseModel, clip_outliers, noise_model, robust_sd

MIN_SIZE = 2
MIN_POINTS = 2 * MIN_SIZE + 1
MIN_INTERIOR = 5
PERMUTATIONS = 199
SIGNIFICANCE = 0.05
PENALTY_FACTOR = 3.0
PELT_PENALTY_FACTOR = 2.0
TOLERANCE = 2
REFINE_REACH = 3
MIN_PERSIST = 2
DEFAULT_DELTA = 0.03
Z_MATTERS = 1.645
MAX_TREND_ITERATIONS = 10
CHECK_REACH = 100
EDGE_FACTOR = 1.5
PHI_COARSE = (0.0, 0.3, 0.6, 0.9)
PHI_FINE = np.round(np.arange(0.0, 0.951, 0.05), 2)
PHI_MAX = 0.95
FULL_GRID_POINTS = 500
MIN_SEASON_POINTS = 30
_BATCH = 50  # permutations per vectorised batch: a quiet series is rejected after the first one
_BATCH_ELEMENTS = 2_000_000  # at most permutations × m² per batch (≈16 MB of float64)


@dataclass(frozen=True)
class Change:
    """A confirmed change: ``index`` is the first point at the new level."""

    index: int
    before: float  # level of the regime before, at the change (original units)
    after: float  # level of the regime after, at the change
    ratio: float  # after / before
    p_value: float  # two-sided test of the level shift with the long-run noise scale
    methods: tuple[str, ...] = ("pelt-l2-ar1",)


@dataclass
class Detection:
    """Everything the detector found: confirmed ``changes``, the model it fitted, and why not, if not."""

    changes: list[Change] = field(default_factory=list)
    e_divisive: list[tuple[int, float]] = field(default_factory=list)  # (index, p̂), when cross-checked
    pelt: list[int] = field(default_factory=list)  # the segmentation's raw change points
    status: str = "ok"  # ok | too-short | constant
    reason: str | None = None  # why a series was not (fully) analysed, in words
    excluded: list[int] = field(default_factory=list)  # indices of non-finite values, skipped
    noise: NoiseModel | None = None
    slope: float = 0.0  # fitted trend, log units per run (0: the no-trend model won)
    trend_model: bool = False
    period: float | None = None  # the fitted season's period in runs, if a season was fitted


# ------------------------------------------------------------------------------ PELT, AR(1) cost
def _ar1_sums(x: np.ndarray, phi: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x centred, and cumulative sums Z1, Z2 of z_t = x_t − φ·x_{t−1} (z_0 = 0), each of length n + 1."""
    xc = x - float(np.mean(x))
    z = np.empty_like(xc)
    z[0] = 0.0
    z[1:] = xc[1:] - phi * xc[:-1]
    return xc, np.r_[0.0, np.cumsum(z)], np.r_[0.0, np.cumsum(z * z)]


def _segment_costs(x: np.ndarray, cuts: list[int], phi: float) -> np.ndarray:
    """C_φ of each regime of ``cuts`` (see ``ar1_cost``)."""
    xc, z1, z2 = _ar1_sums(x, phi)
    w, c = 1.0 - phi * phi, 1.0 - phi
    s = np.array([0, *cuts], dtype=np.int64)
    e = np.array([*cuts, len(x)], dtype=np.int64)
    head = xc[s]
    num = w * head + c * (z1[e] - z1[s + 1])
    return w * head * head + (z2[e] - z2[s + 1]) - num * num / (w + c * c * (e - s - 1))


def ar1_cost(x: np.ndarray, s: int, e: int, phi: float) -> float:
    """C_φ(x[s:e]) = min over μ of (1 − φ²)(x_s − μ)² + Σ_{t=s+1}^{e−1} ((x_t − μ) − φ(x_{t−1} − μ))²:
    −2 log-likelihood (× σ_u², up to constants) of a stationary AR(1) segment with its own mean."""
    x = np.asarray(x, dtype=float)[s:e]
    return float(_segment_costs(x, [], phi)[0])


def pelt_ar1(x: np.ndarray, penalty: float, *, phi: float = 0.0, min_size: int = MIN_SIZE) -> list[int]:
    """Exact minimiser of Σ_k C_φ(segment_k) + penalty·K by PELT (first index of each new regime).

    C_φ is ``ar1_cost``; φ = 0 gives the L2 cost Σ(xᵢ − x̄)². With A_s, B_s the terms of a candidate
    start s, C_φ(x[s:t]) = A_s + Z2_t − (B_s + (1 − φ)·Z1_t)² / (1 − φ² + (1 − φ)²·(t − s − 1)), so all
    candidates of a t are scored in a few numpy operations; pruning with K = 0 (a split never raises
    the cost: each part is fitted with its own mean)."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    if n < 2 * min_size:
        return []
    xc, z1, z2 = _ar1_sums(x, phi)
    w, c = 1.0 - phi * phi, 1.0 - phi
    starts = np.arange(n)
    a_all = w * xc * xc - z2[starts + 1]
    b_all = w * xc - c * z1[starts + 1]
    d_all = w - c * c * (starts + 1.0)
    f = np.full(n + 1, np.inf)
    f[0] = -penalty
    last = np.zeros(n + 1, dtype=np.int64)
    # per candidate start s: s, F(s) + A_s, B_s, D_s (kept aligned; pruning compresses all four)
    cs, cfa, cb, cd = np.empty(n, dtype=np.int64), np.empty(n), np.empty(n), np.empty(n)
    m = 0
    cz = c * z1
    c2 = c * c
    for t in range(min_size, n + 1):
        new = t - min_size
        if new == 0 or new >= min_size:
            cs[m], cfa[m], cb[m], cd[m] = new, f[new] + a_all[new], b_all[new], d_all[new]
            m += 1
        num = cb[:m] + cz[t]
        base = cfa[:m] - num * num / (cd[:m] + c2 * t)
        best = int(base.argmin())
        bound = base[best] + penalty
        f[t] = bound + z2[t]
        last[t] = cs[best]
        keep = base <= bound
        k = int(np.count_nonzero(keep))
        if k < m:
            cs[:k], cfa[:k], cb[:k], cd[:k] = cs[:m][keep], cfa[:m][keep], cb[:m][keep], cd[:m][keep]
            m = k
    changes, t = [], n
    while t > 0:
        t = int(last[t])
        if t > 0:
            changes.append(t)
    return sorted(changes)


def pelt_l2(x: np.ndarray, penalty: float, *, min_size: int = MIN_SIZE) -> list[int]:
    """PELT with the L2 cost Σ(xᵢ − x̄)² (``pelt_ar1`` with φ = 0)."""
    return pelt_ar1(x, penalty, phi=0.0, min_size=min_size)


# ------------------------------------------------------------------------------ the model and its choice
@dataclass(frozen=True)
class _Fit:
    cuts: list[int]
    phi: float
    sigma_u: float  # sd of the AR(1) innovations
    smooth: np.ndarray  # the fitted trend + season g(t) (zeros when there is none)
    criterion: float  # n·ln(RSS/n) − (K + 1)·ln(1 − φ²) + β·(K + parameters of g)
    trend: bool
    period: float | None
    slope: float  # per run


def _segment_ids(n: int, cuts: list[int]) -> np.ndarray:
    bounds = np.array([0, *cuts, n], dtype=np.int64)
    return np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))


def _within(v: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """v minus its regime means (each column of a matrix); ``ids`` from ``_segment_ids`` (sorted)."""
    counts = np.bincount(ids)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    means = np.add.reduceat(v, starts, axis=0) / (counts if v.ndim == 1 else counts[:, None])
    return v - np.repeat(means, counts, axis=0)


def _refine_period(r: np.ndarray, t: np.ndarray, cuts: list[int], period: float) -> float:
    """The period within ±25 % of ``period`` whose harmonic explains most of r within the regimes
    (least squares on cos, sin after removing each regime's mean; 61 log-spaced periods at once)."""
    grid = period * np.exp(np.linspace(math.log(0.8), math.log(1.25), 61))
    grid = grid[(grid >= 2.5) & (grid <= len(r))]
    if len(grid) == 0:
        return period
    ids = _segment_ids(len(r), cuts)
    angle = 2 * math.pi * t[:, None] / grid[None, :]
    cw, sw, rw = _within(np.cos(angle), ids), _within(np.sin(angle), ids), _within(r, ids)
    cc, ss, cs = (cw * cw).sum(0), (sw * sw).sum(0), (cw * sw).sum(0)
    cr, sr = rw @ cw, rw @ sw
    det = cc * ss - cs * cs
    with np.errstate(divide="ignore", invalid="ignore"):
        explained = np.where(det > 0, (ss * cr * cr - 2 * cs * cr * sr + cc * sr * sr) / det, -np.inf)
    return float(grid[int(np.argmax(explained))])


def _within_coef(x: np.ndarray, basis: np.ndarray, cuts: list[int]) -> np.ndarray:
    """Least-squares coefficients of ``basis`` (n × p) after removing each regime's mean from x and
    from the basis (the pooled within-regime regression: levels are free, g is common)."""
    ids = _segment_ids(len(x), cuts)
    coef, *_ = np.linalg.lstsq(_within(basis, ids), _within(x, ids), rcond=None)
    return coef


def _innovation_sd(x: np.ndarray, phi: float) -> float:
    """σ̂_u = 1.4826·MAD(Δz)/√2 with z_t = x_t − φ·x_{t−1}: within a regime Δz = u_t − u_{t−1}, so a
    level shift moves only two differences and a trend only their centre."""
    z = x[1:] - phi * x[:-1]
    dz = np.diff(z)
    s = robust_sd(dz) / math.sqrt(2)
    return s if s > 0 else float(np.std(dz)) / math.sqrt(2)


def _criterion(r: np.ndarray, cuts: list[int], phi: float, beta: float, params: int) -> float:
    """n·ln(RSS_φ/n) − (K + 1)·ln(1 − φ²) + β·(K + params): −2 log-likelihood with σ_u² profiled out
    (each regime a stationary AR(1) segment), plus the penalty."""
    rss = float(np.sum(_segment_costs(r, cuts, phi)))
    n, k = len(r), len(cuts)
    ar = math.log(n) if phi > 0 else 0.0  # BIC's ln n for the estimated φ
    return n * math.log(max(rss, 1e-300) / n) - (k + 1) * math.log(1 - phi * phi) + beta * (k + params) + ar


def _basis(t: np.ndarray, trend: bool, period: float | None) -> np.ndarray:
    cols = [t - t.mean()] if trend else []
    if period:
        angle = 2 * math.pi * t / period
        cols += [np.cos(angle), np.sin(angle)]
    return np.column_stack(cols) if cols else np.zeros((len(t), 0))


def _fit_at(x: np.ndarray, t: np.ndarray, phi: float, beta: float, trend: bool, period: float | None) -> _Fit:
    """Level shifts plus g(t) = b·t (if ``trend``) + a harmonic of ``period`` (if any), for a given φ:
    alternate PELT on x − g and the within-regime regression of x on g's basis until the cuts settle."""
    basis = _basis(t, trend, period)
    p = basis.shape[1] + (1 if period else 0)  # the period was chosen from the data: one more parameter
    coef = np.zeros(basis.shape[1])
    if trend:
        h = max(1, len(x) // 2)  # robust start for the slope: pairs half a series apart
        coef[0] = float(np.median((x[h:] - x[:-h]) / (t[h:] - t[:-h])))
    if period:
        rest = x - basis[:, :1] @ coef[:1] if trend else x
        coef[-2:] = _within_coef(rest, basis[:, -2:], [])
    g = basis @ coef
    s_u = _innovation_sd(x - g, phi)
    cuts: list[int] | None = None
    for _ in range(MAX_TREND_ITERATIONS if p else 1):
        new = pelt_ar1(x - g, beta * s_u * s_u, phi=phi)
        if new == cuts:
            break
        cuts = new
        if period:
            trend_part = basis[:, :1] @ _within_coef(x, basis, cuts)[:1] if trend else 0.0
            period = _refine_period(x - trend_part, t, cuts, period)
            basis = _basis(t, trend, period)
        if p:
            g = basis @ _within_coef(x, basis, cuts)
    assert cuts is not None
    slope = float(_within_coef(x, basis, cuts)[0]) if trend else 0.0
    return _Fit(cuts, phi, s_u, g, _criterion(x - g, cuts, phi, beta, p), trend, period, slope)


def _profile(x: np.ndarray, t: np.ndarray, beta: float, trend: bool, period: float | None) -> _Fit:
    """The fit of lowest criterion over φ.

    Up to ``FULL_GRID_POINTS`` points: a coarse grid (0, 0.3, 0.6, 0.9), then ±0.1 and ±0.05 around
    the best. Longer series (where each fit costs more and φ is well determined): coordinate descent
    from the lagged-difference estimate — fit at φ, choose φ on a 0.05 grid for those cuts, repeat
    until φ stays."""
    fits: dict[float, _Fit] = {}

    def at(phi: float) -> _Fit:
        phi = round(min(max(phi, 0.0), PHI_MAX), 2)
        if phi not in fits:
            fits[phi] = _fit_at(x, t, phi, beta, trend, period)
        return fits[phi]

    if len(x) <= FULL_GRID_POINTS:
        for phi in PHI_COARSE:
            at(phi)
        for step in (0.1, 0.05):
            best = min(fits.values(), key=lambda f: f.criterion).phi
            at(best - step)
            at(best + step)
        return min(fits.values(), key=lambda f: f.criterion)
    fit = at(round(noise_model(x - _basis_fit(x, t, trend, period)).phi * 20) / 20)
    for _ in range(4):
        r = x - fit.smooth
        phi = min(PHI_FINE, key=lambda ph: _criterion(r, fit.cuts, float(ph), beta, 0))
        if round(float(phi), 2) in fits:
            break
        fit = at(float(phi))
    return min(fits.values(), key=lambda f: f.criterion)


def _basis_fit(x: np.ndarray, t: np.ndarray, trend: bool, period: float | None) -> np.ndarray:
    """g(t) fitted by least squares with no level shift (only to centre x for a first φ)."""
    basis = _basis(t, trend, period)
    return basis @ _within_coef(x, basis, []) if basis.shape[1] else np.zeros(len(x))


def _season_candidates(series: list[np.ndarray], per_series: int = 2) -> list[float]:
    """Periods (3 … n/2 runs) of the ``per_series`` highest local maxima of each series' periodogram,
    on a frequency grid 8 times finer than 1/n (zero padding), so a period need not divide n."""
    out: list[float] = []
    for r in series:
        n = len(r)
        size = 8 * n
        freq = np.fft.rfftfreq(size)
        power = np.abs(np.fft.rfft(r - r.mean(), size)) ** 2
        ok = (freq >= 2.0 / n) & (freq <= 1.0 / 3)
        peak = np.zeros_like(ok)
        peak[1:-1] = (power[1:-1] >= power[:-2]) & (power[1:-1] >= power[2:])
        idx = np.flatnonzero(ok & peak)
        for i in idx[np.argsort(power[idx])[::-1][:per_series]]:
            period = round(1.0 / float(freq[i]), 1)
            if period not in out:
                out.append(period)
    return out


def _best_fit(x: np.ndarray, t: np.ndarray, beta: float) -> _Fit:
    """Choose between level shifts alone, + a trend, + a season (+ both) by the penalised criterion.

    Season candidates come from the periodograms of x − trend and of the residuals of the best fit so
    far; each is screened at that fit's φ, and the best one is profiled over φ."""
    best = _profile(x, t, beta, False, None)
    sloped = _profile(x, t, beta, True, None)
    if sloped.criterion < best.criterion:
        best = sloped
    if len(x) >= MIN_SEASON_POINTS:
        resid = _within(x - best.smooth, _segment_ids(len(x), best.cuts))
        candidates = _season_candidates([x - best.smooth, resid], 2 if len(x) <= FULL_GRID_POINTS else 1)
        screened = [_fit_at(x, t, best.phi, beta, best.trend, period) for period in candidates]
        if screened:
            top = min(screened, key=lambda f: f.criterion)
            if top.criterion < best.criterion:
                seasonal = _profile(x, t, beta, best.trend, top.period)
                best = min(top, seasonal, key=lambda f: f.criterion)
    return best


# ------------------------------------------------------------------------------ confirmation
def _exp(v: float) -> float:
    """exp, saturating at inf (values far outside log-medians, e.g. raw nanoseconds, must not crash)."""
    return math.exp(v) if v < 709 else math.inf


def _expm1(v: float) -> float:
    return math.expm1(v) if v < 709 else math.inf


def _judge(
    y: np.ndarray,
    cuts: list[int],
    delta: float,
    min_persist: int,
    min_interior: int = MIN_INTERIOR,
    t: np.ndarray | None = None,
) -> list[tuple[int, float, bool]]:
    """(cut, log ratio, passes) for each cut, regimes bounded by the neighbouring cuts."""
    bounds = [0, *cuts, len(y)]
    pos = np.arange(len(y)) if t is None else t
    levels = [float(np.mean(y[a:b])) for a, b in itertools.pairwise(bounds)]
    sigma = float(np.median(np.abs(np.diff(y)))) * 1.4826 / math.sqrt(2) if len(y) > 2 else 0.0
    out = []
    for i, cut in enumerate(cuts):
        after = y[cut : bounds[i + 2]]
        lb, la = levels[i], levels[i + 1]
        mid = (lb + la) / 2
        beyond = int(np.sum(after > mid)) if la > lb else int(np.sum(after < mid))
        persists = len(after) >= min_persist and beyond >= max(min_persist, math.ceil(len(after) / 2))
        if i < len(cuts) - 1 and pos[bounds[i + 2]] - pos[cut] < min_interior:  # a short excursion…
            persists = persists and abs(_expm1(levels[i + 2] - lb)) > delta  # …that comes back
        # matters unless the step is confidently within δ: its upper confidence bound (one-sided 95 %,
        # σ from first differences) must also stay inside the margin for the cut to be dropped
        se = sigma * math.sqrt(1 / max(cut - bounds[i], 1) + 1 / max(len(after), 1))
        matters = abs(_expm1(la - lb)) > delta or abs(la - lb) + Z_MATTERS * se > math.log1p(delta)
        out.append((cut, la - lb, persists and matters))
    return out


def confirm(
    y: np.ndarray,
    cuts: list[int],
    delta: float = DEFAULT_DELTA,
    min_persist: int = MIN_PERSIST,
    min_interior: int = MIN_INTERIOR,
    t: np.ndarray | None = None,
) -> list[int]:
    """The cuts whose new level persists and matters (is not confidently within δ); failures are dropped weakest first.

    A regime must last ``min_persist`` points, and one between two cuts that spans fewer than
    ``min_interior`` runs (positions ``t``; default 0 … n − 1) and ends within δ of the level before it
    is an excursion (a burst of slow runs that comes back), not a change."""
    cuts = sorted(cuts)
    while cuts:
        judged = _judge(y, cuts, delta, min_persist, min_interior, t)
        failing = [(abs(lr), cut) for cut, lr, ok in judged if not ok]
        if not failing:
            break
        cuts.remove(min(failing)[1])
    return cuts


def refine(y: np.ndarray, cuts: list[int], reach: int = REFINE_REACH, min_size: int = MIN_SIZE) -> list[int]:
    """Move each cut to the least-squares single split (the Gaussian MLE of one step) within ±``reach``
    runs, inside the regime bounded by its neighbours."""
    bounds = [0, *cuts, len(y)]
    out = []
    for i, cut in enumerate(cuts):
        a, b = bounds[i], bounds[i + 2]
        seg = y[a:b]
        m = len(seg)
        tau = np.arange(max(min_size, cut - a - reach), min(m - min_size, cut - a + reach) + 1)
        if len(tau) == 0:
            out.append(cut)
            continue
        cs = np.cumsum(seg)
        # RSS of two means = Σy² − S_left²/τ − S_right²/(m − τ): maximise the last two terms
        explained = cs[tau - 1] ** 2 / tau + (cs[-1] - cs[tau - 1]) ** 2 / (m - tau)
        out.append(a + int(tau[np.argmax(explained)]))
    return sorted(set(out))


def _edge_gain_ok(r: np.ndarray, cuts: list[int], i: int, phi: float, bar: float) -> bool:
    """Does cut i lower the AR(1) cost of its two neighbouring regimes by at least ``bar``?"""
    bounds = [0, *cuts, len(r)]
    seg = r[bounds[i] : bounds[i + 2]]
    split = [cuts[i] - bounds[i]]
    return float(np.sum(_segment_costs(seg, [], phi)) - np.sum(_segment_costs(seg, split, phi))) >= bar


def _short_edges(r: np.ndarray, cuts: list[int], fit: _Fit, beta: float) -> list[int]:
    """Drop a change that leaves fewer than ``MIN_INTERIOR`` runs at either end of the series unless
    it lowers the cost by ``EDGE_FACTOR``·β·σ̂_u² (1.5 × the penalty). At the newest end the change is
    re-judged as runs arrive, so an alert on 2–4 runs asks for stronger evidence (the idea of
    O'Brien & Fleming's 1979 boundaries for early looks); at the oldest end a short first regime is as
    weakly supported."""
    bar = EDGE_FACTOR * beta * fit.sigma_u**2
    out = list(cuts)
    if out and len(r) - out[-1] < MIN_INTERIOR and not _edge_gain_ok(r, out, len(out) - 1, fit.phi, bar):
        out.pop()
    if out and out[0] < MIN_INTERIOR and not _edge_gain_ok(r, out, 0, fit.phi, bar):
        out.pop(0)
    return out


def _energy_check(
    r: np.ndarray, cuts: list[int], phi: float, sig: float, permutations: int, seed: int
) -> dict[int, float]:
    """E-divisive permutation p̂ of each cut's window (the regimes on both sides, ≤ ``CHECK_REACH``
    runs each), computed on the AR(1)-prewhitened residuals w_t = r_t − φ·r_{t−1}, which are
    exchangeable within a regime when the noise model holds (the raw ones are not)."""
    rng = np.random.default_rng(seed)
    bounds = [0, *cuts, len(r)]
    out = {}
    for i, cut in enumerate(cuts):
        a, b = max(bounds[i], cut - CHECK_REACH), min(bounds[i + 2], cut + CHECK_REACH)
        seg = r[a:b]
        w = seg[1:] - phi * seg[:-1]
        if len(w) < 2 * MIN_SIZE + 1:
            out[cut] = 1.0
            continue
        _, q = _best_split(w)
        out[cut] = _permutation_p(w, q, rng, permutations, sig, MIN_SIZE) if q > 0 else 1.0
    return out


def _shift_p(x: np.ndarray, cuts: list[int], sigma_lr: float) -> list[float]:
    """Two-sided p of each level shift: z = (x̄_after − x̄_before) / (σ_LR·√(1/m₁ + 1/m₂))."""
    bounds = [0, *cuts, len(x)]
    out = []
    for i, cut in enumerate(cuts):
        before, after = x[bounds[i] : cut], x[cut : bounds[i + 2]]
        se = sigma_lr * math.sqrt(1 / len(before) + 1 / len(after))
        z = abs(float(after.mean() - before.mean())) / se if se > 0 else math.inf
        out.append(float(2 * sps.norm.sf(z)))
    return out


def detect_changes(
    log_medians: np.ndarray,
    *,
    delta: float = DEFAULT_DELTA,
    sig: float = SIGNIFICANCE,
    permutations: int = PERMUTATIONS,
    tolerance: int = TOLERANCE,
    min_persist: int = MIN_PERSIST,
    pelt_penalty: float | None = None,
    seed: int = 0,
    cross_check: bool = False,
) -> Detection:
    """Level shifts of ``log_medians`` (oldest first) that persist and exceed δ (module docstring).

    Non-finite values (NaN: a missing run; ±inf: the log of 0 or of a non-number) are skipped, listed
    in ``excluded``, and said so in ``reason``; indices refer to the input. Fewer than ``MIN_POINTS``
    finite values: ``status = "too-short"``."""
    y = np.asarray(log_medians, dtype=float).ravel()
    finite = np.isfinite(y)
    result = Detection(excluded=np.flatnonzero(~finite).tolist())
    notes = []
    if result.excluded:
        notes.append(f"{len(result.excluded)} non-finite value(s) skipped as missing runs")
    x = y[finite]
    idx = np.flatnonzero(finite)
    n = len(x)
    if n < MIN_POINTS:
        result.status = "too-short"
        result.reason = "; ".join([*notes, f"{n} usable point(s), at least {MIN_POINTS} needed"])
        return result
    xc = clip_outliers(x)
    if not np.ptp(xc) > 0:
        result.status = "constant"
        result.reason = "; ".join([*notes, "no variation: the series is constant"])
        return result
    t = idx.astype(float)
    beta = PENALTY_FACTOR * math.log(n) if pelt_penalty is None else pelt_penalty
    fit = _best_fit(xc, t, beta)
    noise = NoiseModel(fit.sigma_u / math.sqrt(1 - fit.phi**2), fit.phi, fit.sigma_u / (1 - fit.phi))
    result.noise, result.slope, result.trend_model, result.period = noise, fit.slope, fit.trend, fit.period
    result.pelt = [int(idx[c]) for c in fit.cuts]
    dc = xc - fit.smooth  # level shifts on top of the trend and season, outliers clipped
    kept = confirm(dc, fit.cuts, delta, min_persist, t=t)
    kept = confirm(dc, refine(dc, kept), delta, min_persist, t=t)
    edges = _short_edges(dc, kept, fit, beta)
    if edges != kept:
        kept = confirm(dc, edges, delta, min_persist, t=t)
    methods: tuple[str, ...] = ("pelt-ar1",)
    if cross_check and kept:
        checked = _energy_check(dc, kept, fit.phi, sig, permutations, seed)
        result.e_divisive = [(int(idx[c]), pv) for c, pv in checked.items()]
        kept = confirm(dc, [c for c, pv in checked.items() if pv <= sig], delta, min_persist, t=t)
        methods = ("pelt-ar1", "e-divisive")
        p = [checked[c] for c in kept]
    else:
        p = _shift_p(dc, kept, noise.long_run_sigma)
    bounds = [0, *kept, n]
    for i, cut in enumerate(kept):
        at = float(fit.smooth[cut])
        lb, la = float(np.mean(dc[bounds[i] : cut])), float(np.mean(dc[cut : bounds[i + 2]]))
        ratio = _exp(la - lb)
        result.changes.append(Change(int(idx[cut]), _exp(lb + at), _exp(la + at), ratio, p[i], methods))
    if notes:
        result.reason = "; ".join(notes)
    return result


# ------------------------------------------------------------------------------ E-divisive (cross-check; previous detector)
def _q_hat(z: np.ndarray, min_size: int = MIN_SIZE) -> np.ndarray:
    """Q̂(τ) for τ = min_size … m − min_size of each row of ``z`` (shape B × m) → B × (m − 2·min_size + 1)."""
    m = z.shape[1]
    d = np.abs(z[:, :, None] - z[:, None, :])
    upper = np.triu(d, 1)
    col = upper.sum(axis=1)  # col[j] = Σ_{i<j} d_ij
    row = upper.sum(axis=2)  # row[i] = Σ_{j>i} d_ij
    within_left = np.cumsum(col, axis=1)  # [τ−1] → pairs inside y[0:τ)
    within_right = np.cumsum(row[:, ::-1], axis=1)[:, ::-1]  # [τ] → pairs inside y[τ:m)
    total = within_left[:, -1:]
    tau = np.arange(min_size, m - min_size + 1)
    wl = within_left[:, tau - 1]
    wr = within_right[:, tau]
    between = total - wl - wr
    p = tau.astype(float)
    q = (m - tau).astype(float)
    e_hat = 2.0 * between / (p * q) - wl / (p * (p - 1) / 2) - wr / (q * (q - 1) / 2)
    return p * q / (p + q) * e_hat


def _best_split(y: np.ndarray, min_size: int = MIN_SIZE) -> tuple[int, float]:
    q = _q_hat(y[None, :], min_size)[0]
    i = int(np.argmax(q))
    return i + min_size, float(q[i])


def _permutation_p(
    y: np.ndarray, observed: float, rng: np.random.Generator, permutations: int, sig: float, min_size: int
) -> float:
    """p̂ of the segment's best split; stops as soon as p̂ > sig is certain."""
    m = len(y)
    batch = max(4, min(_BATCH, permutations, _BATCH_ELEMENTS // (m * m)))
    limit = sig * (permutations + 1) - 1  # p̂ ≤ sig ⇔ exceedances ≤ limit
    exceed = done = 0
    while done < permutations:
        size = min(batch, permutations - done)
        shuffled = rng.permuted(np.broadcast_to(y, (size, m)), axis=1)
        exceed += int(np.sum(_q_hat(shuffled, min_size).max(axis=1) >= observed * (1 - 1e-12)))
        done += size
        if exceed > limit:
            return (1 + exceed + (permutations - done)) / (permutations + 1)  # an upper bound: > sig
    return (1 + exceed) / (permutations + 1)


def e_divisive(
    y: np.ndarray,
    *,
    sig: float = SIGNIFICANCE,
    permutations: int = PERMUTATIONS,
    min_size: int = MIN_SIZE,
    max_changes: int = 10,
    seed: int = 0,
) -> list[tuple[int, float]]:
    """Significant change points (first index of each new regime, p̂), sorted by index.

    E-divisive means (Matteson & James 2014), α = 1: for X = y[a:τ), Y = y[τ:b), p = |X|, q = |Y|,
    Ê = 2/(pq)·Σ|xᵢ − yⱼ| − Σ_{i<k}|xᵢ − xₖ|/C(p,2) − Σ_{j<k}|yⱼ − yₖ|/C(q,2) and Q̂(τ) = pq/(p+q)·Ê.
    The best split over all current segments is kept iff a permutation test (``permutations`` seeded
    shuffles, stopped early once p̂ > ``sig`` is certain; Besag & Clifford 1991) gives p̂ ≤ ``sig``;
    division repeats until a proposal is rejected. Shuffling assumes exchangeable points within a
    regime: true of independent noise, false of trending, autocorrelated or seasonal series."""
    y = np.asarray(y, dtype=float)
    rng = np.random.default_rng(seed)
    segments: dict[tuple[int, int], tuple[int, float]] = {}

    def propose(a: int, b: int) -> None:
        if b - a >= 2 * min_size + 1:  # at least one split with both sides ≥ min_size, and a choice
            tau, q = _best_split(y[a:b], min_size)
            segments[(a, b)] = (a + tau, q)

    propose(0, len(y))
    found: list[tuple[int, float]] = []
    while segments and len(found) < max_changes:
        (a, b), (cut, q) = max(segments.items(), key=lambda kv: kv[1][1])
        if not q > 0:
            break
        p = _permutation_p(y[a:b], q, rng, permutations, sig, min_size)
        if p > sig:
            break
        found.append((cut, p))
        del segments[(a, b)]
        propose(a, cut)
        propose(cut, b)
    return sorted(found)


# ------------------------------------------------------------------------------ PELT, L1 cost (previous detector)
def noise_scale(y: np.ndarray) -> float:
    """σ̂ = 1.4826·MAD(Δy)/√2: the noise of y from first differences, insensitive to a few steps."""
    if len(y) < 3:
        return 0.0
    diff = np.diff(y)
    return float(1.4826 * np.median(np.abs(diff - np.median(diff))) / math.sqrt(2))


def _l1_costs(y: np.ndarray) -> np.ndarray:
    """C[s, t] = Σ|yᵢ − median(y[s:t])| for all 0 ≤ s < t ≤ n (sorted sliding windows, per length)."""
    n = len(y)
    cost = np.zeros((n + 1, n + 1))
    for length in range(2, n + 1):
        w = np.sort(sliding_window_view(y, length), axis=1)
        half = length // 2
        c = w[:, length - half :].sum(axis=1) - w[:, :half].sum(axis=1)
        s = np.arange(n - length + 1)
        cost[s, s + length] = c
    return cost


def pelt_l1(
    y: np.ndarray, *, penalty: float | None = None, min_size: int = MIN_SIZE, scale: float | None = None
) -> list[int]:
    """Change points (first index of each new regime) minimising Σ L1 cost / ŝ + β·K, by PELT."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n < 2 * min_size:
        return []
    sigma = noise_scale(y) if scale is None else scale
    mad_unit = sigma * math.sqrt(2 / math.pi)
    if not mad_unit > 0:
        mad_unit = max(float(np.mean(np.abs(y - np.median(y)))), 1e-12)
    beta = PELT_PENALTY_FACTOR * math.log(n) if penalty is None else penalty
    cost = _l1_costs(y) / mad_unit
    f = np.full(n + 1, np.inf)
    f[0] = -beta
    last = np.zeros(n + 1, dtype=int)
    candidates: list[int] = []
    for t in range(min_size, n + 1):
        new = t - min_size
        if np.isfinite(f[new]):
            candidates.append(new)
        s = np.asarray(candidates)
        values = f[s] + cost[s, t] + beta
        best = int(np.argmin(values))
        f[t], last[t] = values[best], s[best]
        keep = f[s] + cost[s, t] <= f[t]  # PELT pruning, K = 0 for the L1 cost
        candidates = s[keep].tolist()
    changes, t = [], n
    while t > 0:
        t = int(last[t])
        if t > 0:
            changes.append(t)
    return sorted(changes)
