"""Change-point detectors side by side on simulated run histories (and the Nile): F1 and cover.

Each family is a set of seeded series y = log(run median) with planted level shifts (the truth: the
first run at each new level). Families: flat independent noise, AR(1) noise (φ 0.3–0.7), linear drift
(no step), seasonality (periods 7, 30, 90), outliers (t₃ noise and slow-run spikes), gaps (missing
runs: 10 % at random plus one outage), multiple steps of 3–30 %, steps hidden in a drift, long series
(1,000–1,500 runs: several steps, AR(1) noise φ ≤ 0.5, half of them drifting), and the
benchmark-shaped family of ``tests/unit/test_history_simulation.py`` (60 runs at CV 3 %, rare steps of
5–10 %, one-run spikes). Run-to-run noise is CV 3 % (σ ≈ 0.03 in logs) unless said otherwise.

Scores (van den Burg & Williams 2020, "An Evaluation of Change Point Detection Algorithms", TCPDBench,
with the simulation's truth as the only annotator): F1 with a margin of 5 runs — precision and recall
count the series' start (index 0) as a change point found by everyone — and cover, the segmentation
covering metric Σ_A |A|·max_A' J(A, A') / n (Arbeláez et al. 2011) of the true partition by the
detected one. Both are means over the series of a family. ``P`` and ``R`` are pooled over the planted
steps (start excluded): P = matched detections / detections, R = matched steps / steps, margin 5. The
last column compares ``ours`` with the four ruptures baselines at full precision (ties count as ≥).

Detectors:

* ``ours``: ``bench_pipeline.history.detect_changes`` with its defaults (δ = 3 %);
* ``ours + E-div.``: the same with ``cross_check=True`` — each change must also pass the E-divisive
  permutation test (p̂ ≤ 0.05) on the prewhitened residuals around it;
* ``binseg`` / ``pelt``: ruptures (Truong, Oudre & Vayatis 2020) ``Binseg`` / ``Pelt`` with the L2 cost,
  ``min_size=2, jump=1``, and the usual penalties in the units of the L2 cost: BIC (SIC)
  σ̂²·ln n (ruptures' documentation, R changepoint's "SIC") and MBIC 3·σ̂²·ln n (R changepoint's
  default, the default of TCPDBench's experiment), σ̂ = 1.4826·MAD(Δy)/√2;
* ``previous``: the detector before issue 16 (E-divisive + PELT-L1, no missing values accepted);
* ``zero``: no change points.

Missing runs (NaN) are given as they are to ``ours``; the other detectors get the series without them
and their indices are mapped back (``previous`` is given the NaNs, as the old code was).

    uv run python benchmarks/bench_changepoints.py [--series 100] [--seed 16] [--timing | --timing-only]
        [--no-previous] [--no-check] [--only FAMILY,…]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import ruptures as rpt

from bench_pipeline.history import changepoints as cp

SIGMA = float(np.sqrt(np.log1p(0.03**2)))
MARGIN = 5
Series = tuple[np.ndarray, list[int]]  # (log medians, true change points)


# ------------------------------------------------------------------------------ metrics (TCPDBench)
def _matched(truth: list[int], found: list[int], margin: int = MARGIN) -> int:
    """|TP|: true points with a detection within ``margin``, each detection used once (nearest first)."""
    left = set(found)
    hits = 0
    for tau in truth:
        close = sorted((abs(tau - x), x) for x in left if abs(tau - x) <= margin)
        if close:
            hits += 1
            left.remove(close[0][1])
    return hits


def f1_score(truth: list[int], found: list[int], margin: int = MARGIN) -> float:
    """F1 of TCPDBench with one annotator: the start 0 belongs to both sets."""
    t, x = sorted({0, *truth}), sorted({0, *found})
    hits = _matched(t, x, margin)
    p, r = hits / len(x), hits / len(t)
    return 2 * p * r / (p + r) if p + r else 0.0


def _partition(cps: list[int], n: int) -> list[tuple[int, int]]:
    bounds = [0, *sorted(c for c in set(cps) if 0 < c < n), n]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def cover(truth: list[int], found: list[int], n: int) -> float:
    """Covering of the true partition by the detected one: Σ_A |A|·max_A' J(A, A') / n."""
    total = 0.0
    detected = _partition(found, n)
    for a, b in _partition(truth, n):
        best = 0.0
        for c, d in detected:
            inter = min(b, d) - max(a, c)
            if inter > 0:
                best = max(best, inter / (max(b, d) - min(a, c)))
        total += (b - a) * best
    return total / n


# ------------------------------------------------------------------------------ simulations
def _steps(rng: np.random.Generator, n: int, count: int, lo: float, hi: float, gap: int = 10) -> list[int]:
    """``count`` step positions in [gap, n − gap), at least ``gap`` runs apart."""
    for _ in range(1000):
        ks = sorted(int(k) for k in rng.integers(gap, n - gap, count))
        if all(b - a >= gap for a, b in zip(ks, ks[1:], strict=False)):
            return ks
    return []


def _levels(rng: np.random.Generator, n: int, ks: list[int], lo: float, hi: float) -> np.ndarray:
    mu = np.zeros(n)
    for k in ks:
        mu[k:] += rng.choice([-1, 1]) * math.log1p(rng.uniform(lo, hi))
    return mu


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    e = np.empty(n)
    u = rng.normal(0, sd * math.sqrt(1 - phi * phi), n)
    e[0] = rng.normal(0, sd)
    for t in range(1, n):
        e[t] = phi * e[t - 1] + u[t]
    return e


def flat(rng: np.random.Generator) -> Series:
    n = int(rng.integers(80, 301))
    ks = _steps(rng, n, int(rng.integers(0, 3)), 0.05, 0.30)
    return _levels(rng, n, ks, 0.05, 0.30) + rng.normal(0, SIGMA, n), ks


def ar1(rng: np.random.Generator) -> Series:
    n = int(rng.integers(80, 301))
    ks = _steps(rng, n, int(rng.integers(0, 3)), 0.05, 0.30)
    return _levels(rng, n, ks, 0.05, 0.30) + _ar1(rng, n, rng.uniform(0.3, 0.7), SIGMA), ks


def drift(rng: np.random.Generator) -> Series:
    n = int(rng.integers(30, 201))
    slope = rng.choice([-1, 1]) * math.log1p(rng.uniform(0.002, 0.01))
    return slope * np.arange(n) + rng.normal(0, SIGMA, n), []


def seasonal(rng: np.random.Generator) -> Series:
    n = int(rng.integers(80, 301))
    period = int(rng.choice([7, 30, 90]))
    amp = rng.uniform(1.0, 2.0) * SIGMA
    ks = _steps(rng, n, int(rng.integers(0, 3)), 0.05, 0.30)
    season = amp * np.sin(2 * np.pi * (np.arange(n) / period + rng.uniform()))
    return _levels(rng, n, ks, 0.05, 0.30) + season + rng.normal(0, SIGMA, n), ks


def outliers(rng: np.random.Generator) -> Series:
    n = int(rng.integers(80, 301))
    ks = _steps(rng, n, int(rng.integers(0, 3)), 0.05, 0.30)
    y = _levels(rng, n, ks, 0.05, 0.30) + SIGMA * rng.standard_t(3, n) / math.sqrt(3)
    spikes = rng.random(n) < 0.03
    y[spikes] += np.log1p(rng.uniform(0.10, 0.50, int(spikes.sum())))
    return y, ks


def gaps(rng: np.random.Generator) -> Series:
    n = int(rng.integers(80, 301))
    ks = _steps(rng, n, int(rng.integers(1, 3)), 0.05, 0.30)
    y = _levels(rng, n, ks, 0.05, 0.30) + rng.normal(0, SIGMA, n)
    missing = rng.random(n) < 0.10
    start = int(rng.integers(5, n - 20))
    missing[start : start + int(rng.integers(5, 16))] = True
    missing[[0, -1]] = False
    y[missing] = np.nan
    observed = np.flatnonzero(~missing)
    truth = sorted({int(observed[np.searchsorted(observed, k)]) for k in ks})  # first run seen at the level
    return y, truth


def multi_step(rng: np.random.Generator) -> Series:
    n = int(rng.integers(150, 301))
    ks = _steps(rng, n, int(rng.integers(2, 6)), 0.03, 0.30)
    return _levels(rng, n, ks, 0.03, 0.30) + rng.normal(0, SIGMA, n), ks


def drift_steps(rng: np.random.Generator) -> Series:
    n = int(rng.integers(80, 301))
    slope = rng.choice([-1, 1]) * math.log1p(rng.uniform(0.002, 0.005))
    ks = _steps(rng, n, int(rng.integers(1, 3)), 0.05, 0.30)
    return _levels(rng, n, ks, 0.05, 0.30) + slope * np.arange(n) + rng.normal(0, SIGMA, n), ks


def benchmark_shaped(rng: np.random.Generator) -> Series:
    n = 60
    y = rng.normal(0, SIGMA, n)
    ks = [int(rng.integers(8, 53))] if rng.random() < 0.5 else []
    for k in ks:
        y[k:] += rng.choice([-1, 1]) * math.log1p(rng.uniform(0.05, 0.10))
    if rng.random() < 0.5:
        s = int(rng.integers(5, n))
        y[s] += rng.choice([-1, 1]) * math.log1p(rng.uniform(0.10, 0.40))
    return y, ks


def long(rng: np.random.Generator) -> Series:
    n = int(rng.integers(1000, 1501))
    ks = _steps(rng, n, int(rng.integers(2, 9)), 0.05, 0.30, gap=20)
    slope = rng.choice([0.0, 1.0]) * rng.choice([-1, 1]) * math.log1p(rng.uniform(0.0002, 0.001))
    noise = _ar1(rng, n, rng.uniform(0.0, 0.5), SIGMA)
    return _levels(rng, n, ks, 0.05, 0.30) + slope * np.arange(n) + noise, ks


FAMILIES: dict[str, Callable[[np.random.Generator], Series]] = {
    "flat noise": flat,
    "AR(1) noise": ar1,
    "linear drift": drift,
    "seasonality": seasonal,
    "outliers": outliers,
    "gaps": gaps,
    "multiple steps 3–30 %": multi_step,
    "steps in drift": drift_steps,
    "benchmark-shaped": benchmark_shaped,
    "long: 1,000–1,500 runs": long,
}
FEWER = {"long: 1,000–1,500 runs": 5}  # a fifth of the series: ruptures' PELT is O(n²) in Python


def nile() -> Series:
    """Annual Nile flow at Aswan 1871–1970 (statsmodels); the change in 1899 (Cobb 1978), index 28."""
    import statsmodels.api as sm

    volume = sm.datasets.nile.load_pandas().data["volume"].to_numpy(dtype=float)
    return np.log(volume), [28]


# ------------------------------------------------------------------------------ detectors
def ours(y: np.ndarray) -> list[int]:
    return [c.index for c in cp.detect_changes(y).changes]


def ours_checked(y: np.ndarray) -> list[int]:
    return [c.index for c in cp.detect_changes(y, cross_check=True).changes]


def previous(y: np.ndarray) -> list[int]:
    """The pre-issue-16 ``detect_changes``: E-divisive proposals corroborated by PELT-L1, confirmed."""
    if len(y) < 2 * cp.MIN_SIZE + 1 or not np.all(np.isfinite(y)):
        return []
    found = cp.e_divisive(y)
    if not found:
        return []
    pelt = cp.pelt_l1(y)
    cuts = [c for c, _ in found if any(abs(c - o) <= cp.TOLERANCE for o in pelt)]
    keep = cp.confirm(y, cuts, min_interior=cp.MIN_PERSIST)
    return cp.confirm(y, cp.refine(y, keep), min_interior=cp.MIN_PERSIST)


def _ruptures(method: type, factor: float) -> Callable[[np.ndarray], list[int]]:
    def detect(y: np.ndarray) -> list[int]:
        idx = np.flatnonzero(np.isfinite(y))
        x = y[idx]
        n = len(x)
        sigma = 1.4826 * float(np.median(np.abs(np.diff(x) - np.median(np.diff(x))))) / math.sqrt(2)
        pen = factor * max(sigma, 1e-6) ** 2 * math.log(n)
        bkps = method(model="l2", min_size=2, jump=1).fit(x).predict(pen=pen)[:-1]
        return [int(idx[b]) for b in bkps]

    return detect


DETECTORS: dict[str, Callable[[np.ndarray], list[int]]] = {
    "ours": ours,
    "ours + E-div.": ours_checked,
    "binseg BIC": _ruptures(rpt.Binseg, 1.0),
    "pelt BIC": _ruptures(rpt.Pelt, 1.0),
    "binseg MBIC": _ruptures(rpt.Binseg, 3.0),
    "pelt MBIC": _ruptures(rpt.Pelt, 3.0),
    "previous": previous,
    "zero": lambda y: [],
}
BASELINES = ("binseg BIC", "pelt BIC", "binseg MBIC", "pelt MBIC")


# ------------------------------------------------------------------------------ evaluation
def evaluate(series: list[Series], detect: Callable[[np.ndarray], list[int]]) -> dict[str, float]:
    f1s, covers = [], []
    hits = found_total = truth_total = 0
    for y, truth in series:
        found = detect(y)
        f1s.append(f1_score(truth, found))
        covers.append(cover(truth, found, len(y)))
        hits += _matched(truth, found)
        found_total += len(found)
        truth_total += len(truth)
    return {
        "f1": statistics.fmean(f1s),
        "cover": statistics.fmean(covers),
        "precision": hits / found_total if found_total else 1.0,
        "recall": hits / truth_total if truth_total else 1.0,
    }


def timing(repeats: int = 3) -> list[tuple[int, str, float, float]]:
    """(points, series, median CPU seconds, median wall seconds) of ``detect_changes``: CPU time is
    what the detector costs; wall time also shows how busy the machine was."""
    rng = np.random.default_rng(7)
    out = []
    for n in (1_000, 10_000):
        for kind in ("flat, 1 step per 200 runs", "AR(1) φ = 0.5, 1 step per 200 runs"):
            noise = rng.normal(0, SIGMA, n) if kind.startswith("flat") else _ar1(rng, n, 0.5, SIGMA)
            ks = _steps(rng, n, n // 200, 0.05, 0.30, gap=20)
            y = _levels(rng, n, ks, 0.05, 0.30) + noise
            cpu, wall = [], []
            for _ in range(repeats):
                start, start_cpu = time.perf_counter(), time.process_time()
                cp.detect_changes(y)
                cpu.append(time.process_time() - start_cpu)
                wall.append(time.perf_counter() - start)
            out.append((n, kind, statistics.median(cpu), statistics.median(wall)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100, help="series per family")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--timing", action="store_true", help="also time 1,000- and 10,000-point series")
    parser.add_argument("--no-previous", action="store_true", help="skip the (slow) previous detector")
    parser.add_argument("--no-check", action="store_true", help="skip ours + E-divisive")
    parser.add_argument("--only", default="", help="comma-separated family names (default: all)")
    parser.add_argument("--timing-only", action="store_true", help="only the timing table")
    args = parser.parse_args()
    skip = {"previous"} if args.no_previous else set()
    skip |= {"ours + E-div."} if args.no_check else set()
    detectors = {k: v for k, v in DETECTORS.items() if k not in skip}
    families = [f for f in FAMILIES if not args.only or f in args.only.split(",")]
    names = list(detectors)
    if args.timing_only:
        families = []
    print(
        f"change points: {args.series} series per family, seed {args.seed}, margin {MARGIN} "
        f"({dt.date.today().isoformat()}, {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores)\n"
    )
    print("F1 / cover (means over series); P, R pooled over planted steps\n")
    print("| family | " + " | ".join(names) + " | ours P / R | ours ≥ binseg, pelt |")
    print("|---|" + "---|" * (len(names) + 2))
    for family in families:
        rng = np.random.default_rng([args.seed, list(FAMILIES).index(family)])
        series = [FAMILIES[family](rng) for _ in range(max(1, args.series // FEWER.get(family, 1)))]
        scores = {name: evaluate(series, detect) for name, detect in detectors.items()}
        cells = [f"{s['f1']:.3f} / {s['cover']:.3f}" for s in scores.values()]
        mine = scores["ours"]
        behind = [
            name
            for name in BASELINES
            if mine["f1"] < scores[name]["f1"] - 1e-12 or mine["cover"] < scores[name]["cover"] - 1e-12
        ]
        verdict = "yes" if not behind else "no: " + ", ".join(behind)
        print(
            f"| {family} | "
            + " | ".join(cells)
            + f" | {mine['precision']:.2f} / {mine['recall']:.2f} | {verdict} |"
        )
    if not args.timing_only:
        y, truth = nile()
        cells = [
            f"{f1_score(truth, d(y)):.3f} / {cover(truth, d(y), len(y)):.3f}" for d in detectors.values()
        ]
        print("| Nile 1871–1970 (1 series) | " + " | ".join(cells) + " | | |")
    if args.timing or args.timing_only:
        print(f"\n| points | series | ours, CPU (median of 3) | wall (load {os.getloadavg()[0]:.1f}) |")
        print("|---|---|---|---|")
        for n, kind, cpu, wall in timing():
            print(f"| {n:,} | {kind} | {cpu:.2f} s | {wall:.2f} s |")


if __name__ == "__main__":
    main()
