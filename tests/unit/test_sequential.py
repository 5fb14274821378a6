"""Sampling to a verdict (bench_pipeline.stats.sequential): reference values against scipy and brute
force, the look schedule, degenerate pairs, the tracker, and simulations of whole reports measured by
the sequential loop (rounds, looks, stop when decided, max_n cap, Benjamini–Hochberg at the end).

The simulations print their figures (``pytest -s``); heavier variants are marked ``slow``.
"""

from __future__ import annotations

import math
import time

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps

from bench_pipeline.stats import StatsInputError
from bench_pipeline.stats._ranktests import signed_rank_null_cdf
from bench_pipeline.stats.sequential import (
    LOOK_COLUMNS,
    SequentialDesign,
    SequentialTracker,
    _look_statistics,
    decide,
    finalize,
    looks,
    simulate,
    spending_shares,
)

DESIGN = SequentialDesign()
M = math.log1p(DESIGN.delta)


def frame(values: dict[object, list[float]]) -> pl.DataFrame:
    """samples frame: cell -> values of rounds 0, 1, …"""
    rows = [(c, r, v) for c, vs in values.items() for r, v in enumerate(vs)]
    return pl.DataFrame(
        rows, schema={"cell": pl.String, "round": pl.Int64, "value": pl.Float64}, orient="row"
    )


# ---------------------------------------------------------------------------------------------------
# reference values


@pytest.mark.parametrize("n", [1, 2, 5, 9, 20, 49])
def test_signed_rank_null_cdf_matches_scipy_exact(n):
    rng = np.random.default_rng(n)
    for shift in (-0.5, 0.0, 0.4):
        x = rng.normal(shift, 1.0, n)
        t_minus = int(sps.rankdata(np.abs(x))[x < 0].sum())
        expected = sps.wilcoxon(x, alternative="greater", method="exact").pvalue  # P(T⁻ ≤ t⁻)
        assert signed_rank_null_cdf(n)[t_minus] == pytest.approx(expected, rel=1e-12)


def test_signed_rank_null_cdf_shape_and_normal_tail():
    cdf = signed_rank_null_cdf(10)
    assert cdf.size == 56 and cdf[0] == 2.0**-10 and cdf[-1] == 1.0 and np.all(np.diff(cdf) >= 0)
    assert not cdf.flags.writeable
    exact, approx = signed_rank_null_cdf(400), signed_rank_null_cdf(401)
    assert approx.size == 401 * 402 // 2 + 1
    # the normal approximation beyond the exact range: close to the exact one at the same quantile
    assert abs(exact[exact.size // 3] - approx[int(approx.size / 3)]) < 1e-2


@pytest.mark.parametrize("n", [3, 12, 25, 40])
def test_look_statistics_match_scipy_wilcoxon_and_brute_force(n):
    rng = np.random.default_rng(100 + n)
    level = 0.01
    for shift in (0.0, 0.02, 0.06):
        d = np.sort(rng.normal(shift, 0.03, n))
        st = _look_statistics(np.zeros(n, dtype=np.int64), d, 1, level, M)
        walsh = np.array([(d[i] + d[j]) / 2 for i in range(n) for j in range(i, n)])
        assert st["theta"][0] == pytest.approx(np.median(walsh), abs=1e-15)

        def p_greater(theta0, d=d):
            return min(1.0, 2 * sps.wilcoxon(d - theta0, alternative="greater", method="exact").pvalue)

        def p_less(theta0, d=d):
            return min(1.0, 2 * sps.wilcoxon(d - theta0, alternative="less", method="exact").pvalue)

        assert st["p_slower"][0] == pytest.approx(p_greater(M), rel=1e-12)
        assert st["p_faster"][0] == pytest.approx(p_less(-M), rel=1e-12)
        assert st["p_equiv"][0] == pytest.approx(max(p_greater(-M), p_less(M)), rel=1e-12)
        lo, hi = st["lo"][0], st["hi"][0]
        if np.isfinite(lo):  # the interval is the set of θ₀ the level-a tests do not reject
            eps = 1e-9
            assert p_greater(lo - eps) <= level < p_greater(lo + eps)
            assert p_less(hi + eps) <= level < p_less(hi - eps)
        else:
            assert 2.0 ** (1 - n) > level


def test_looks_and_spending():
    assert looks(10, 120, 1.5) == [10, 15, 23, 35, 53, 80, 120]
    assert looks(10, 10) == [10]
    assert looks(10, 30) == [10, 15, 23, 30]
    assert looks(10, 25) == [10, 15, 25]  # 23 → 25 is shorter than √1.5: merged
    assert looks(3, 5, 3.0) == [3, 5]
    with pytest.raises(StatsInputError):
        looks(0, 10)
    with pytest.raises(StatsInputError):
        looks(10, 5)
    s = spending_shares([10, 20, 40])
    cum = np.log1p((math.e - 1) * np.array([0.25, 0.5, 1.0]))  # Lan–DeMets Pocock type
    assert s == pytest.approx(np.diff(np.r_[0, cum]))
    assert s.sum() == pytest.approx(1.0)
    assert spending_shares([10, 20, 40], "equal") == pytest.approx([1 / 3] * 3)


def test_design_levels_and_first_look():
    d = SequentialDesign()
    levels = [d.level(k) for k in range(len(d.looks))]
    assert sum(levels) == pytest.approx(d.fdr_share * d.alpha)
    assert d.level(3, final=True) == pytest.approx(sum(levels[3:]))
    assert d.alpha_spent(2) == pytest.approx(sum(levels[:3]))
    assert d.alpha_spent(2, final=True) == pytest.approx(d.fdr_share * d.alpha)
    assert 2.0 ** (1 - d.looks[0]) <= d.level(0)  # large effects can stop at the first look
    early = SequentialDesign(min_n=4)  # 4 rounds cannot decide at any level below 2^-3: starts later
    assert early.looks[0] > 4 and 2.0 ** (1 - early.looks[0]) <= early.level(0)
    long = SequentialDesign(max_n=500)
    assert long.looks[0] >= 10 and 2.0 ** (1 - long.looks[0]) <= long.level(0)
    with pytest.raises(StatsInputError, match="allow at least 6 rounds"):
        SequentialDesign(min_n=3, max_n=5)
    with pytest.raises(StatsInputError):
        SequentialDesign(min_n=20, max_n=10)
    with pytest.raises(StatsInputError):
        SequentialDesign(alpha=0)
    with pytest.raises(StatsInputError):
        d.level(len(d.looks))


# ---------------------------------------------------------------------------------------------------
# one look


def test_decide_degenerate_pairs():
    samples = frame(
        {
            "same": [1e6] * 12,
            "same2": [1e6] * 12,
            "double": [2e6] * 12,
            "one": [1e6],
            "gaps": [1e6, -1.0, float("nan"), *([1e6] * 9)],  # invalid values are not samples
        }
    )
    pairs = pl.DataFrame(
        {
            "cell_a": ["same", "same", "same", "same", "same", "missing"],
            "cell_b": ["same2", "double", "one", "gaps", "missing", "missing"],
            "label": list("abcdef"),
        }
    )
    out = decide(samples, pairs, DESIGN, 0)
    assert out.columns == ["cell_a", "cell_b", "label", *LOOK_COLUMNS]
    row = {r["label"]: r for r in out.iter_rows(named=True)}
    assert row["a"]["verdict"] == "equivalent" and row["a"]["ratio"] == row["a"]["ci_low"] == 1.0
    assert row["b"]["verdict"] == "slower" and row["b"]["ratio"] == pytest.approx(2.0)
    assert row["c"]["verdict"] == "undecided" and row["c"]["n_rounds"] == 1
    assert row["c"]["ci_low"] == 0.0 and row["c"]["ci_high"] == math.inf  # no interval from one round
    assert (row["d"]["n_a"], row["d"]["n_b"], row["d"]["n_rounds"]) == (12, 10, 10)
    assert row["d"]["verdict"] == "equivalent"
    for label in "ef":
        assert row[label]["verdict"] == "undecided" and row[label]["n_rounds"] == 0
        assert math.isnan(row[label]["ratio"]) and row[label]["p_value"] == 1.0
    empty = decide(samples, pairs.clear(), DESIGN, 0)
    assert empty.height == 0 and empty.columns == out.columns


def test_decide_several_samples_in_a_round_and_int_cells():
    samples = pl.DataFrame(
        {"cell": [1, 1, 2, 2, 2], "round": [0, 1, 0, 0, 1], "value": [1.0, 1.0, 1.0, 4.0, 1.0]}
    )
    pairs = pl.DataFrame({"cell_a": [1], "cell_b": [2]}, schema={"cell_a": pl.Int32, "cell_b": pl.Int32})
    out = decide(samples, pairs, DESIGN, 0)
    assert out["n_rounds"][0] == 2 and out["n_b"][0] == 2
    # round 0 of cell 2: the mean log of 1 and 4 = log 2; round 1: 0 → Walsh averages log2, log2/2, 0
    assert out["ratio"][0] == pytest.approx(math.sqrt(2.0))


def test_decide_verdicts_agree_with_their_interval():
    rng = np.random.default_rng(3)
    n_pairs, n = 300, 23
    true = rng.choice([1.0, 1.02, 1.04, 1.08, 0.93], n_pairs)
    a = np.exp(rng.normal(0, 0.03, (n_pairs, n)))
    b = np.exp(rng.normal(0, 0.03, (n_pairs, n))) * true[:, None]
    samples = pl.concat(
        [
            pl.DataFrame(
                {
                    "cell": np.repeat(np.arange(n_pairs) + off, n),
                    "round": np.tile(np.arange(n), n_pairs),
                    "value": x.ravel(),
                }
            )
            for off, x in ((0, a), (n_pairs, b))
        ]
    )
    pairs = pl.DataFrame({"cell_a": np.arange(n_pairs), "cell_b": np.arange(n_pairs) + n_pairs})
    out = decide(samples, pairs, DESIGN, 2)
    upper, lower = 1 + DESIGN.delta, 1 / (1 + DESIGN.delta)
    v = out["verdict"].to_numpy()
    lo, hi = out["ci_low"].to_numpy(), out["ci_high"].to_numpy()
    expected = np.where(
        lo > upper,
        "slower",
        np.where(hi < lower, "faster", np.where((lo > lower) & (hi < upper), "equivalent", "undecided")),
    )
    assert (v == expected).all()
    assert set(v) >= {"slower", "faster", "equivalent", "undecided"}
    p = out["p_value"].to_numpy()
    assert (p[v != "undecided"] <= DESIGN.fdr_share * DESIGN.alpha + 1e-12).all()
    assert (p[v == "undecided"] > DESIGN.fdr_share * DESIGN.alpha).all()
    assert (out["level"] == DESIGN.level(2)).all() and (lo <= out["ratio"].to_numpy()).all()


def test_decide_is_fast_for_200_pairs():
    rng = np.random.default_rng(0)
    n_pairs, n = 200, 60
    values = np.exp(rng.normal(0, 0.03, (2 * n_pairs, n)))
    cell, rnd = np.nonzero(np.ones_like(values))
    samples = pl.DataFrame({"cell": cell, "round": rnd, "value": values[cell, rnd]})
    pairs = pl.DataFrame({"cell_a": np.arange(n_pairs), "cell_b": np.arange(n_pairs) + n_pairs})
    decide(samples, pairs, DESIGN, 4)  # warm the null-distribution cache
    t0 = time.perf_counter()
    decide(samples, pairs, DESIGN, 4)
    elapsed = time.perf_counter() - t0
    print(f"\ndecide: 200 pairs at n = 60 in {elapsed * 1000:.0f} ms")
    assert elapsed < 0.5


# ---------------------------------------------------------------------------------------------------
# the report


def test_finalize_bh_matches_scipy_and_keeps_or_drops_whole_verdicts():
    rng = np.random.default_rng(5)
    p = rng.uniform(0, 0.04, 20)
    verdict = np.array(["slower", "faster", "equivalent", "undecided"] * 5)
    p[verdict == "undecided"] = rng.uniform(0.05, 1, 5)
    results = pl.DataFrame({"verdict": verdict, "p_value": p})
    out = finalize(results)
    p_claims = np.where(verdict == "undecided", 1.0, p)
    assert out["p_adjusted"].to_numpy() == pytest.approx(sps.false_discovery_control(p_claims, method="bh"))
    assert (out["decision"] == results["verdict"]).all()
    kept = out["verdict"] != "inconclusive"
    assert (out.filter(kept)["verdict"] == out.filter(kept)["decision"]).all()  # never another verdict
    assert (out.filter(pl.col("decision") == "undecided")["verdict"] == "inconclusive").all()
    by = finalize(results, method="by")
    assert by["p_adjusted"].to_numpy() == pytest.approx(sps.false_discovery_control(p_claims, method="by"))
    # ≥ γ of the report decided at ≤ γα: BH keeps every decision
    gamma_alpha = DESIGN.fdr_share * DESIGN.alpha
    dense = pl.DataFrame(
        {"verdict": ["slower"] * 8 + ["undecided"] * 2, "p_value": [gamma_alpha] * 8 + [0.5] * 2}
    )
    assert (finalize(dense)["verdict"] == ["slower"] * 8 + ["inconclusive"] * 2).all()
    # fewer decided: the weakest decision is not kept, and says so through decision != verdict
    sparse = pl.DataFrame(
        {"verdict": ["slower", "faster", "undecided", "undecided"], "p_value": [0.001, 0.04, 0.3, 0.9]}
    )
    out = finalize(sparse)
    assert out["verdict"].to_list() == ["slower", "inconclusive", "inconclusive", "inconclusive"]
    assert out["decision"].to_list()[1] == "faster"
    unseen = finalize(
        pl.DataFrame(
            {"verdict": [None, "slower"], "p_value": [None, 0.001]}, schema_overrides={"verdict": pl.String}
        )
    )
    assert unseen["decision"].to_list() == ["undecided", "slower"]
    assert unseen["verdict"].to_list() == ["inconclusive", "slower"]
    with pytest.raises(StatsInputError):
        finalize(pl.DataFrame({"x": [1]}))


def test_tracker_follows_the_loop():
    rng = np.random.default_rng(9)
    design = SequentialDesign(min_n=10, max_n=40)
    truth = {"a": 1.0, "b": 1.0, "c": 3.0, "d": 1.05}
    pairs = pl.DataFrame(
        {"cell_a": ["a", "a", "a", "x"], "cell_b": ["b", "c", "d", "y"], "label": [1, 2, 3, 4]}
    )
    tracker = SequentialTracker(pairs, design)
    assert set(tracker.active_cells()) == {"a", "b", "c", "d", "x", "y"}
    rows: list[tuple[str, int, float]] = []
    rounds, seen_looks = 0, []
    while not tracker.done:
        for cell in tracker.active_cells().to_list():
            if cell in truth:  # x and y never produce a sample: their pair stays undecided
                rows.append((cell, rounds, truth[cell] * math.exp(rng.normal(0, 0.01))))
        rounds += 1
        if tracker.due(rounds):
            seen_looks.append(rounds)
            out = tracker.update(pl.DataFrame(rows, schema=["cell", "round", "value"], orient="row"))
            assert "_pair" not in out.columns
            if rounds == 10:
                assert out.filter(pl.col("label") == 2)["verdict"][0] == "slower"
                assert "c" not in set(tracker.active_cells())
    assert seen_looks == list(design.looks[: len(seen_looks)])
    report = tracker.report()
    assert report["label"].to_list() == [1, 2, 3, 4]
    assert report["verdict"].to_list()[:2] == ["equivalent", "slower"]
    assert report["decision"][3] == "undecided" and report["verdict"][3] == "inconclusive"
    assert report["look"][3] == len(design.looks) - 1  # examined until the last look
    with pytest.raises(StatsInputError):
        tracker.update(pl.DataFrame(rows, schema=["cell", "round", "value"], orient="row"))


def test_tracker_budget_stop_spends_the_rest_and_unseen_pairs_are_reported():
    design = SequentialDesign()
    pairs = pl.DataFrame({"cell_a": ["a"], "cell_b": ["b"]})
    tracker = SequentialTracker(pairs, design)
    assert tracker.report()["verdict"].to_list() == ["inconclusive"]  # never examined
    samples = frame({"a": [1.0, 1.1, 0.9] * 4, "b": [1.0, 0.9, 1.1] * 4})
    out = tracker.update(samples, final=True)  # out of time after 12 rounds, before look 1
    assert tracker.done and out["level"][0] == pytest.approx(design.fdr_share * design.alpha)
    assert out["alpha_spent"][0] == pytest.approx(design.fdr_share * design.alpha)
    assert tracker.report()["look"].to_list() == [0]


# ---------------------------------------------------------------------------------------------------
# simulations of whole reports

NOISES = {"clean": {}, "drift 5 % + outliers 2 %": {"drift": 0.05, "outliers": 0.02}}


def _aa(cv: float, noise: str, reports: int) -> tuple[list[int], float, float]:
    frames = [simulate(np.ones((34, 3)), DESIGN, cv=cv, seed=(1, r), **NOISES[noise]) for r in range(reports)]
    false = [int(f["verdict"].is_in(["slower", "faster"]).sum()) for f in frames]
    both = pl.concat(frames)
    return false, float((both["verdict"] == "equivalent").mean()), float(both["n_rounds"].median())


@pytest.mark.parametrize("noise", list(NOISES))
def test_aa_reports_make_at_most_one_false_verdict_and_mostly_equivalent(noise):
    """20 A/A reports of 102 cells (3 identical tools × 34 operations, pairs sharing cells), CV 3 %."""
    false, equivalent, n_med = _aa(0.03, noise, 20)
    print(
        f"\nA/A CV 3 % {noise}: false slower/faster per report {np.mean(false):.2f} (max {max(false)}), "
        f"equivalent {equivalent:.1%}, median rounds {n_med:.0f}"
    )
    assert np.mean(false) <= 1.0
    assert equivalent >= 0.80


@pytest.mark.parametrize("noise", list(NOISES))
def test_planted_5_percent_found_at_cv_3(noise):
    """Tool B 5 % slower on 50 operations, 10 reports, CV 3 %, max_n = 120."""
    both = pl.concat(
        [
            simulate(np.tile([1.0, 1.05], (50, 1)), DESIGN, cv=0.03, seed=(2, r), **NOISES[noise])
            for r in range(10)
        ]
    )
    found = float((both["verdict"] == "slower").mean())
    wrong = int(both["verdict"].is_in(["faster", "equivalent"]).sum())
    print(
        f"\nplanted 5 %, CV 3 %, {noise}: slower {found:.1%}, wrong {wrong}, median rounds "
        f"{both['n_rounds'].median():.0f}, max_n {DESIGN.max_n}"
    )
    assert found >= 0.90 and wrong == 0


@pytest.mark.parametrize("noise", list(NOISES))
def test_large_effects_decided_at_the_first_look(noise):
    both = pl.concat(
        [
            simulate(np.tile([1.0, 2.0, 7.0], (34, 1)), DESIGN, cv=0.05, seed=(3, r), **NOISES[noise])
            for r in range(3)
        ]
    )
    first = float((both["look"] == 0).mean())
    print(
        f"\n×2, ×7 (and ×3.5), CV 5 %, {noise}: slower {(both['verdict'] == 'slower').mean():.1%}, "
        f"at the first look (n = {DESIGN.looks[0]}) {first:.1%}"
    )
    assert (both["verdict"] == "slower").all()
    assert first >= 0.98


def test_error_rate_at_the_margin_holds_under_optional_stopping():
    """True ratio exactly 1 + δ: both *slower* and *equivalent* are wrong there. Per pair, over all
    looks, the design bounds the chance of a wrong decision by γα (union bound)."""
    both = pl.concat(
        [simulate(np.tile([1.0, 1.03], (50, 1)), DESIGN, cv=0.03, seed=(4, r)) for r in range(12)]
    )
    wrong = float(both["decision"].is_in(["slower", "equivalent"]).mean())
    bound = DESIGN.fdr_share * DESIGN.alpha
    print(f"\nat the margin: wrong decisions per pair {wrong:.2%} (bound {bound:.0%}, {both.height} pairs)")
    assert wrong <= bound + 3 * math.sqrt(bound * (1 - bound) / both.height)


@pytest.mark.slow
@pytest.mark.parametrize("cv", [0.05, 0.10])
def test_aa_reports_at_higher_noise(cv):
    for noise in NOISES:
        false, equivalent, n_med = _aa(cv, noise, 20)
        print(
            f"\nA/A CV {cv:.0%} {noise}: false per report {np.mean(false):.2f} (max {max(false)}), "
            f"equivalent {equivalent:.1%}"
        )
        assert np.mean(false) <= 1.0


def test_blocked_order_runs_each_cell_once_with_blocks_contiguous_and_tools_in_random_order():
    from bench_pipeline.stats.sequential import blocked_order

    blocks = np.array(["log", "status", "log", "show", "status", "show", "log"])
    rng = np.random.default_rng(3)
    first_tool = set()
    block_orders = set()
    for _ in range(200):
        order = blocked_order(blocks, rng)
        assert sorted(order.tolist()) == list(range(blocks.size))  # every cell once
        seq = blocks[order].tolist()
        runs = [b for i, b in enumerate(seq) if i == 0 or seq[i - 1] != b]
        assert len(runs) == 3  # each block's cells back to back
        block_orders.add(tuple(runs))
        first_tool.add(int(order[0]) if seq[0] == "log" else -1)
    assert len(block_orders) == 6  # the blocks in every order
    assert {0, 2, 6} <= first_tool  # and any of a block's cells first
