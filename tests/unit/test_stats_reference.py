"""Statistics against reference values: direct binomial sums, scipy, brute force, published examples."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps

from bench_pipeline.stats import _bootstrap as bs
from bench_pipeline.stats import _ranktests as rt
from bench_pipeline.stats import benjamini_hochberg, cell_stats, compare_tools, geomean_ratios, median_ci_rank


def two_tools(a, b, *, paired: bool = False, operation: str = "op") -> pl.DataFrame:
    """Samples of tool "a" and tool "b" for one cell; same rounds when ``paired``, disjoint otherwise."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    rounds_b = np.arange(b.size) if paired else np.arange(b.size) + 10_000
    frames = []
    for tool, x, rounds in (("a", a, np.arange(a.size)), ("b", b, rounds_b)):
        n = x.size
        frames.append(
            pl.DataFrame(
                {
                    "run_id": "r",
                    "suite": "s",
                    "tool": tool,
                    "operation": operation,
                    "fixture": "f",
                    "round": rounds.astype(np.int64),
                    "iteration": np.zeros(n, dtype=np.int64),
                    "wall_ns": x.astype(np.int64) if np.all(x == np.round(x)) else x,
                    "user_ns": np.zeros(n, dtype=np.int64),
                    "sys_ns": np.zeros(n, dtype=np.int64),
                    "peak_rss_bytes": np.zeros(n, dtype=np.int64),
                    "exit_code": np.zeros(n, dtype=np.int64),
                    "timed_out": np.zeros(n, dtype=bool),
                    "warmup": np.zeros(n, dtype=bool),
                }
            ).with_columns(pl.col("wall_ns").cast(pl.Float64))
        )
    return pl.concat(frames)


# ------------------------------------------------------------------- order-statistic CI of the median


def _l_direct(n: int, alpha: float = 0.05) -> int:
    """Largest l with 2·P(Bin(n, ½) ≤ l − 1) ≤ α, by exact rational sums (0 if none)."""
    best, cdf = 0, Fraction(0)
    for l_rank in range(1, n + 1):
        cdf += Fraction(math.comb(n, l_rank - 1), 2**n)  # P(K <= l - 1)
        if 2 * cdf <= Fraction(alpha).limit_denominator(10**6):
            best = l_rank
        else:
            break
    return best


def test_median_ci_rank_matches_direct_binomial_sums():
    ns = np.arange(0, 151)
    assert median_ci_rank(ns).tolist() == [_l_direct(int(n)) for n in ns]


def test_median_ci_published_values():
    # tables of the sign-test CI (e.g. Conover 1999, Table A3; Hollander & Wolfe): 95 % interval
    # n = 6: [X(1), X(6)] 96.9 %; n = 10: [X(2), X(9)] 97.9 %; n = 20: [X(6), X(15)] 95.9 %
    assert median_ci_rank([5, 6, 10, 20, 30]).tolist() == [0, 1, 2, 6, 10]
    x = np.arange(1.0, 21.0) * 10
    df = two_tools(x, x).filter(pl.col("tool") == "a")
    row = cell_stats(df, metrics="wall").row(0, named=True)
    assert (row["ci_low"], row["ci_high"]) == (60.0, 150.0)
    assert row["ci_coverage"] == pytest.approx(0.9586, abs=5e-5)


# ------------------------------------------------------------------------------------------- BCa


@pytest.mark.parametrize("paired", [False, True])
def test_bca_interval_matches_scipy(paired):
    rng = np.random.default_rng(11)
    n_a, n_b = (30, 30) if paired else (25, 31)
    drift = rng.normal(0, 0.04, max(n_a, n_b))
    a = np.exp(np.log(1e6) + drift[:n_a] + rng.normal(0, 0.08, n_a))
    b = np.exp(np.log(1.1e6) + (drift[:n_b] if paired else 0) + rng.normal(0, 0.08, n_b))

    def log_ratio(x, y, axis=-1):
        return np.log(np.median(y, axis=axis)) - np.log(np.median(x, axis=axis))

    ref = sps.bootstrap(
        (a, b), log_ratio, paired=paired, method="BCa", n_resamples=40_000, rng=np.random.default_rng(3)
    ).confidence_interval
    out = compare_tools(two_tools(a, b, paired=paired), n_boot=40_000, seed=5).row(0, named=True)
    assert out["paired"] is paired
    ours = (math.log(out["ci_low"]), math.log(out["ci_high"]))
    width = ref.high - ref.low
    # Monte-Carlo tolerance: both are 40 000-draw estimates of the same interval
    assert ours[0] == pytest.approx(ref.low, abs=0.05 * width)
    assert ours[1] == pytest.approx(ref.high, abs=0.05 * width)


def test_exact_median_resampling_has_the_bootstrap_distribution():
    rng = np.random.default_rng(2)
    for n in (7, 12):
        x = np.sort(rng.lognormal(0, 0.3, n))
        ours = bs.median_replicates_iid(x, 200_000, np.random.default_rng(1))
        brute = np.median(x[rng.integers(0, n, size=(200_000, n))], axis=1)
        support = np.unique(np.concatenate([ours, brute]))
        p_ours = np.searchsorted(np.sort(ours), support, "right") / ours.size
        p_brute = np.searchsorted(np.sort(brute), support, "right") / brute.size
        assert np.abs(p_ours - p_brute).max() < 0.006  # Kolmogorov distance, MC noise only


def test_round_block_medians_match_explicit_resamples():
    rng = np.random.default_rng(4)
    rounds = np.repeat(np.arange(30), 3)[rng.random(90) > 0.1]
    v = rng.lognormal(0, 0.2, rounds.size)
    order = np.argsort(v, kind="stable")
    side = bs.BlockSide(v[order], rounds[order])
    med = bs.median_replicates_block([side], 30, 300, np.random.default_rng(9))[0]
    draws = np.random.default_rng(9).integers(0, 30, size=(300, 30))
    brute = [np.median(np.concatenate([v[rounds == r] for r in d])) for d in draws]
    np.testing.assert_allclose(med, brute)
    loo = bs.loo_medians_block(side, 30)
    np.testing.assert_allclose(loo, [np.median(v[rounds != r]) for r in range(30)])


# ------------------------------------------------------------------------- rank tests and effects


def test_brunner_munzel_scipy_docstring_example():
    x1 = np.sort([1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 2, 4, 1, 1.0])
    x2 = np.sort([3, 3, 4, 3, 1, 2, 3, 1, 1, 5, 4.0])
    p, q, _ = rt.placements(x1, x2)
    w, _, p_value = rt.brunner_munzel(x1, x2, p, q)
    assert w == pytest.approx(3.1374674823029505)
    assert p_value == pytest.approx(0.0057862086661515377)
    out = compare_tools(two_tools(x1, x2)).row(0, named=True)
    assert out["p_value"] == pytest.approx(0.0057862086661515377)


@pytest.mark.parametrize("seed", range(6))
def test_rank_statistics_match_scipy_and_brute_force(seed):
    rng = np.random.default_rng(seed)
    n_a, n_b = rng.integers(5, 60, 2)
    if seed % 2:  # heavy ties
        a = rng.integers(10, 20, n_a).astype(float)
        b = rng.integers(11, 21, n_b).astype(float)
    else:
        a = rng.lognormal(5, 0.3, n_a)
        b = rng.lognormal(5.1, 0.4, n_b)
    out = compare_tools(two_tools(a, b)).row(0, named=True)
    assert out["p_value"] == pytest.approx(sps.brunnermunzel(a, b).pvalue, rel=1e-9)
    assert out["p_mannwhitney"] == pytest.approx(sps.mannwhitneyu(a, b).pvalue, rel=1e-9)
    diffs = np.subtract.outer(np.log(b), np.log(a))
    assert out["hl_shift_log"] == pytest.approx(np.median(diffs), abs=1e-12)
    brute_ps = float(np.mean(diffs > 0) + 0.5 * np.mean(diffs == 0))
    assert out["prob_superiority"] == pytest.approx(brute_ps)
    assert (out["median_a"], out["median_b"]) == (np.median(a), np.median(b))


def test_mann_whitney_small_samples_use_the_exact_distribution():
    a, b = np.array([1.0, 2.5, 3.0, 4.0, 7.0]), np.array([5.0, 6.0, 8.0, 9.0, 10.0, 11.0])
    out = compare_tools(two_tools(a, b)).row(0, named=True)
    assert out["p_mannwhitney"] == pytest.approx(sps.mannwhitneyu(a, b).pvalue)


@pytest.mark.parametrize("sizes", [(300, 250), (2000, 1500), (401, 999)])
def test_hodges_lehmann_large_samples_match_brute_force(sizes):
    rng = np.random.default_rng(sum(sizes))
    x = np.sort(np.log(rng.lognormal(3, 0.3, sizes[0])))
    y = np.sort(np.log(rng.lognormal(3.05, 0.5, sizes[1])))
    assert sizes[0] * sizes[1] > rt.HL_BRUTE_FORCE_PAIRS
    brute = float(np.median(np.subtract.outer(y, x)))
    assert rt.hodges_lehmann(x, y) == pytest.approx(brute, abs=1e-12)
    # quantised data: large tie masses
    xq, yq = np.sort(np.round(x, 1)), np.sort(np.round(y, 1))
    assert rt.hodges_lehmann(xq, yq) == pytest.approx(float(np.median(np.subtract.outer(yq, xq))), abs=1e-12)


# ------------------------------------------------------------------------------------------ BH


def test_benjamini_hochberg_matches_scipy():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(size=200), rng.uniform(0, 1e-3, 20), [0.0, 1.0, 0.05, 0.05]])
    np.testing.assert_allclose(benjamini_hochberg(p), sps.false_discovery_control(p, method="bh"))
    with_nan = np.array([0.01, np.nan, 0.04, 0.03])
    expected = sps.false_discovery_control([0.01, 0.04, 0.03], method="bh")
    out = benjamini_hochberg(with_nan)
    assert np.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2, 3]], expected)
    assert benjamini_hochberg([]).size == 0


# --------------------------------------------------------------------------------- geometric mean


def test_geomean_ratio_and_its_standard_error_ci():
    z = sps.norm.ppf(0.975)
    comparisons = pl.DataFrame(
        {
            "tool_a": ["git"] * 3,
            "tool_b": ["jj"] * 3,
            "metric": ["wall"] * 3,
            "ratio": [1.10, 1.20, None],
            "ci_low": [1.05, 1.10, None],
            "ci_high": [1.15, 1.30, None],
            "verdict": ["slower", "slower", "inconclusive"],
        }
    )
    row = geomean_ratios(comparisons).row(0, named=True)
    assert row["n_cells"] == 2 and row["n_slower"] == 2 and row["n_inconclusive"] == 1
    assert row["geomean_ratio"] == pytest.approx(math.sqrt(1.10 * 1.20))
    se = [(math.log(hi) - math.log(lo)) / (2 * z) for lo, hi in ((1.05, 1.15), (1.10, 1.30))]
    se_g = math.sqrt(se[0] ** 2 + se[1] ** 2) / 2
    centre = (math.log(1.10) + math.log(1.20)) / 2
    assert row["ci_low"] == pytest.approx(math.exp(centre - z * se_g))
    assert row["ci_high"] == pytest.approx(math.exp(centre + z * se_g))
    cells = geomean_ratios(comparisons, method="cells").row(0, named=True)
    assert 1.10 <= cells["ci_low"] <= cells["ci_high"] <= 1.20
