"""Simulations with fixed seeds: A/A false alarms, power for a planted effect, degenerate cells.

Each scenario is one frame of many cells analysed in ONE call, as in production: Benjamini–Hochberg
then runs across all of them (with no true effect BH keeps the false-alarm rate at most α, usually far
below it, because every p-value competes with all the others).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from bench_pipeline.stats import StatsInputError, compare_runs, compare_tools, geomean_ratios

N_CELLS = 200
DELTA = 0.03


def sigma(cv: float) -> float:
    """σ of log x for a lognormal with coefficient of variation ``cv``."""
    return float(np.sqrt(np.log1p(cv**2)))


def medians(n_cells: int) -> np.ndarray:
    """The true median of each cell: fixed, so that separate frames (runs) describe the same cells."""
    return np.exp(np.random.default_rng(0).uniform(np.log(1e6), np.log(1e9), n_cells))


def frame(
    rng: np.random.Generator,
    *,
    n_a: int,
    n_b: int,
    cv: float,
    effect: float = 1.0,
    run_id: str = "run",
    tools: tuple[str, str] = ("a", "b"),
    shared_rounds: bool = True,
    n_cells: int = N_CELLS,
) -> pl.DataFrame:
    """``n_cells`` operations with medians log-uniform in 1 ms .. 1 s (``medians(n_cells)``); tool b's
    median is ``effect`` × tool a's; both measured in the same rounds unless ``shared_rounds`` is off."""
    cell_median = medians(n_cells)
    parts = []
    for tool, n, factor in ((tools[0], n_a, 1.0), (tools[1], n_b, effect)):
        op = np.repeat(np.arange(n_cells), n)
        rounds = np.tile(np.arange(n), n_cells) + (0 if shared_rounds or tool == tools[0] else 100_000)
        wall = cell_median[op] * factor * np.exp(rng.normal(0, sigma(cv), op.size))
        parts.append(
            pl.DataFrame(
                {
                    "run_id": run_id,
                    "suite": "sim",
                    "tool": tool,
                    "operation": np.char.add("op", op.astype(str)),
                    "fixture": "small",
                    "round": rounds.astype(np.int64),
                    "iteration": np.zeros(op.size, dtype=np.int64),
                    "wall_ns": wall.astype(np.int64),
                    "user_ns": (wall * 0.8).astype(np.int64),
                    "sys_ns": (wall * 0.1).astype(np.int64),
                    "peak_rss_bytes": np.full(op.size, 1 << 20, dtype=np.int64),
                    "exit_code": np.zeros(op.size, dtype=np.int64),
                    "timed_out": np.zeros(op.size, dtype=bool),
                    "warmup": np.zeros(op.size, dtype=bool),
                }
            )
        )
    return pl.concat(parts)


def share(df: pl.DataFrame, verdict: str) -> float:
    return float((df["verdict"] == verdict).mean())


def test_aa_tools_false_alarms_at_most_two_percent():
    rng = np.random.default_rng(101)
    out = compare_tools(frame(rng, n_a=30, n_b=30, cv=0.05), delta=DELTA, seed=1)
    assert out.height == N_CELLS and out["paired"].all()
    print(f"A/A tools: slower {share(out, 'slower'):.3f}, faster {share(out, 'faster'):.3f}")
    assert share(out, "slower") <= 0.02
    assert share(out, "faster") <= 0.02
    # raw p-values of a null are ~uniform: about α of them are below α before adjustment
    assert 0.0 <= float((out["p_value"] < 0.05).mean()) <= 0.12
    # the CI covers the true ratio 1 in about 95 % of cells
    covered = ((out["ci_low"] <= 1.0) & (out["ci_high"] >= 1.0)).mean()
    assert covered >= 0.88


def test_aa_runs_false_alarms_at_most_two_percent():
    rng = np.random.default_rng(202)
    base = frame(rng, n_a=30, n_b=0, cv=0.05, run_id="base")
    cand = frame(rng, n_a=30, n_b=0, cv=0.05, run_id="cand")
    out = compare_runs(base, cand, delta=DELTA, seed=2)
    assert out.height == N_CELLS and not out["paired"].any()
    print(f"A/A runs: regression {share(out, 'regression'):.3f}, improvement {share(out, 'improvement'):.3f}")
    assert share(out, "regression") <= 0.02
    assert share(out, "improvement") <= 0.02


def test_planted_effect_is_found_with_power_95_percent():
    rng = np.random.default_rng(303)
    out = compare_tools(frame(rng, n_a=30, n_b=30, cv=0.03, effect=1.08), delta=DELTA, seed=3)
    power = share(out, "slower")
    print(f"planted +8% (tools): slower in {power:.3f}")
    assert power >= 0.95
    g = geomean_ratios(out).row(0, named=True)
    assert g["ci_low"] < 1.08 < g["ci_high"] or abs(g["geomean_ratio"] - 1.08) < 0.005


def test_planted_regression_between_runs_is_found():
    rng = np.random.default_rng(404)
    base = frame(rng, n_a=30, n_b=0, cv=0.03, run_id="base")
    # same cells, 8 % slower
    cand = frame(rng, n_a=30, n_b=0, cv=0.03, run_id="cand", effect=1.0)
    cand = cand.with_columns((pl.col("wall_ns") * 1.08).cast(pl.Int64))  # same cells, 8 % slower
    out = compare_runs(base, cand, delta=DELTA, seed=4)
    power = share(out, "regression")
    print(f"planted +8% (runs): regression in {power:.3f}")
    assert power >= 0.95


def test_unequal_sample_sizes():
    rng = np.random.default_rng(505)
    aa = compare_tools(frame(rng, n_a=12, n_b=40, cv=0.05, n_cells=100), delta=DELTA, seed=5)
    assert aa["n_a"].unique().to_list() == [12] and aa["n_b"].unique().to_list() == [40]
    assert not aa["paired"].any()  # 12 shared rounds hold only 30 % of b's samples
    assert share(aa, "slower") + share(aa, "faster") <= 0.02
    big = compare_tools(frame(rng, n_a=12, n_b=40, cv=0.03, effect=1.15, n_cells=100), delta=DELTA, seed=6)
    assert share(big, "slower") >= 0.9


def test_degenerate_cells_are_never_significant():
    rng = np.random.default_rng(606)
    df = frame(rng, n_a=10, n_b=10, cv=0.05, n_cells=4)
    constant = df.with_columns(pl.lit(1_000_000, dtype=pl.Int64).alias("wall_ns"))
    out = compare_tools(constant, delta=DELTA)  # identical constants: no exception, equivalent
    assert out["verdict"].to_list() == ["equivalent"] * 4
    assert out["ratio"].to_list() == [1.0] * 4 and out["p_value"].null_count() == 4

    shifted = constant.with_columns(
        pl.when(pl.col("tool") == "b")
        .then(pl.col("wall_ns") * 2)
        .otherwise(pl.col("wall_ns"))
        .alias("wall_ns")
    )
    out = compare_tools(shifted, delta=DELTA)  # different constants: zero variance -> no test
    assert out["verdict"].to_list() == ["inconclusive"] * 4

    one = frame(rng, n_a=1, n_b=1, cv=0.05, effect=3.0, n_cells=5)
    out = compare_tools(one, delta=DELTA)
    assert out["verdict"].to_list() == ["inconclusive"] * 5
    assert out["ci_low"].null_count() == 5 and out["p_value"].null_count() == 5

    missing = frame(rng, n_a=10, n_b=10, cv=0.05, n_cells=3).filter(
        ~((pl.col("tool") == "b") & (pl.col("operation") == "op0"))
    )
    out = compare_tools(missing, [("a", "b")], delta=DELTA)
    row = out.filter(pl.col("operation") == "op0").row(0, named=True)
    assert (row["n_a"], row["n_b"], row["verdict"]) == (10, 0, "inconclusive")


def test_complete_separation_is_significant():
    # a 3x difference with no overlap: Brunner–Munzel's variance is 0, the exact permutation p is used
    rng = np.random.default_rng(707)
    out = compare_tools(frame(rng, n_a=20, n_b=20, cv=0.02, effect=3.0, n_cells=10), delta=DELTA)
    assert out["verdict"].to_list() == ["slower"] * 10
    assert (out["prob_superiority"] == 1.0).all()


def test_output_contract_and_input_errors():
    rng = np.random.default_rng(808)
    df = frame(rng, n_a=8, n_b=8, cv=0.05, n_cells=2)
    contract = ["operation", "fixture", "metric", "tool_a", "tool_b", "median_a", "median_b", "ratio"]
    contract += ["ci_low", "ci_high", "p_value", "p_adjusted", "verdict", "n_a", "n_b"]
    out = compare_tools(df, metric=["wall", "cpu", "rss"])
    assert set(contract) <= set(out.columns) and out.height == 6
    assert {"hl_shift_log", "prob_superiority", "p_mannwhitney"} <= set(out.columns)
    empty = compare_tools(df.clear())
    assert empty.height == 0 and empty.columns == out.columns
    runs = compare_runs(
        df.filter(pl.col("tool") == "a"), df.filter(pl.col("tool") == "a").with_columns(run_id=pl.lit("r2"))
    )
    assert {"tool", "baseline_run", "candidate_run", "baseline_median", "candidate_median"} <= set(
        runs.columns
    )
    assert runs["baseline_run"].unique().to_list() == ["run"] and runs[
        "candidate_run"
    ].unique().to_list() == ["r2"]
    two_runs = pl.concat([df, df.with_columns(run_id=pl.lit("other"))])
    with pytest.raises(StatsInputError, match="2 runs"):
        compare_runs(two_runs, df)
    with pytest.raises(StatsInputError, match="unknown metric"):
        compare_tools(df, metric="latency")
