"""Sampling to a verdict, simulated: error rates, power and samples-to-decision of the sequential design
(bench_pipeline.stats.sequential), and the estimator study behind its choice.

Every report is measured by the loop in miniature (``sequential.simulate``: interleaved rounds, looks,
stop when decided, max_n cap, Benjamini–Hochberg across the report). Prints Markdown tables:

1. estimators of the log ratio at n = 30 rounds: samples needed relative to the paired Hodges–Lehmann
   estimate (ratio of mean squared errors);
2. per scenario and noise: the share of pairs given the right verdict, a wrong one, a decision the FDR
   step did not keep, none by max_n; the median rounds to a decision; A/A: false slower/faster
   verdicts per report of 102 cells; then the share found / called equivalent by max_n;
3. at the margin (true ratio exactly 1 + δ, where *slower* and *equivalent* are both wrong): the
   per-pair error of the design against peeking at a fixed 95 % interval at every look.

    uv run python benchmarks/bench_sequential.py [--reports 20] [--max-n 120]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
from scipy import signal

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_pipeline.stats.sequential import SequentialDesign, simulate  # noqa: E402

NOISES = {"clean": {}, "drift 5 % + outliers 2 %": {"drift": 0.05, "outliers": 0.02}}


# ---------------------------------------------------------------------------------------------------
# 1. estimators


def _paired_sample(rng, reps: int, n: int, cv: float, drift: float, outliers: float, cells: int = 100):
    """Log times of A and B (reps × n rounds, true log ratio 0) run at random positions of rounds of
    ``cells`` runs, with the drift of ``simulate`` (AR(1), correlation time 5 rounds)."""
    sigma = math.sqrt(math.log1p(cv**2))
    la = rng.normal(0, sigma, (reps, n))
    lb = rng.normal(0, sigma, (reps, n))
    if drift:
        phi = math.exp(-1 / (5 * cells))
        path = signal.lfilter(
            [drift * math.sqrt(1 - phi**2)], [1, -phi], rng.normal(size=(reps, n * cells)), axis=1
        )
        pos = np.argsort(rng.random((reps, n, cells)), axis=2)[:, :, :2] + np.arange(n)[:, None] * cells
        la += np.take_along_axis(path, pos[:, :, 0], axis=1)
        lb += np.take_along_axis(path, pos[:, :, 1], axis=1)
    for x in (la, lb):
        hit = rng.random(x.shape) < outliers
        x[hit] += np.log(rng.uniform(1.5, 3.0, int(hit.sum())))
    return la, lb


def estimator_table(reps: int = 2000, n: int = 30) -> list[str]:
    rng = np.random.default_rng(1)
    rows = [
        "| noise (CV 3 %) | ratio of medians | two-sample HL | paired median | paired mean | **paired HL** |",
        "|---|---|---|---|---|---|",
    ]
    iu, ju = np.triu_indices(n)
    for label, drift, outliers in (
        ("clean", 0.0, 0.0),
        ("drift 5 %", 0.05, 0.0),
        ("outliers 5 %", 0.0, 0.05),
        ("drift 5 % + outliers 2 %", 0.05, 0.02),
    ):
        la, lb = _paired_sample(rng, reps, n, 0.03, drift, outliers)
        d = lb - la
        est = {
            "ratio of medians": np.median(lb, axis=1) - np.median(la, axis=1),
            "two-sample HL": np.median((lb[:, :, None] - la[:, None, :]).reshape(reps, -1), axis=1),
            "paired median": np.median(d, axis=1),
            "paired mean": d.mean(axis=1),
            "paired HL": np.median((d[:, iu] + d[:, ju]) / 2, axis=1),
        }
        mse = {k: float((v**2).mean()) for k, v in est.items()}
        base = mse["paired HL"]
        rows.append(f"| {label} | " + " | ".join(f"{mse[k] / base:.2f}×" for k in est) + " |")
    return rows


# ---------------------------------------------------------------------------------------------------
# 2. scenarios


def scenario_table(reports: int, max_n: int) -> tuple[list[str], dict]:
    design = SequentialDesign(max_n=max_n)
    rows = [
        "| scenario | CV | noise | right verdict | wrong verdict | decided, not kept by FDR | undecided at max_n "
        "| median rounds to decision | notes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    figures: dict = {}
    for cv in (0.03, 0.05, 0.10):
        for noise, kw in NOISES.items():
            seed = int(cv * 1000) * 100 + len(noise)
            aa = [simulate(np.ones((34, 3)), design, cv=cv, seed=(seed, 1, r), **kw) for r in range(reports)]
            false = [int(r["verdict"].is_in(["slower", "faster"]).sum()) for r in aa]
            planted = pl.concat(
                [
                    simulate(np.tile([1.0, 1.05], (50, 1)), design, cv=cv, seed=(seed, 2, r), **kw)
                    for r in range(max(1, reports // 2))
                ]
            )
            large = pl.concat(
                [
                    simulate(np.tile([1.0, 2.0, 7.0], (34, 1)), design, cv=cv, seed=(seed, 3, r), **kw)
                    for r in range(max(1, reports // 4))
                ]
            )
            allaa = pl.concat(aa)
            for name, frame, want in (
                ("A/A, 3 tools × 34 ops (1.00)", allaa, "equivalent"),
                ("planted 5 %", planted, "slower"),
                ("large ×2, ×7, ×3.5 (first look)", large, "slower"),
            ):
                right = float((frame["verdict"] == want).mean())
                wrong = float(
                    frame["verdict"]
                    .is_in([v for v in ("slower", "faster", "equivalent") if v != want])
                    .mean()
                )
                dropped = float(
                    ((frame["decision"] != "undecided") & (frame["verdict"] == "inconclusive")).mean()
                )
                decided = frame.filter(pl.col("decision") != "undecided")
                n_med = decided["n_rounds"].median() if decided.height else float("nan")
                undecided = float((frame["decision"] == "undecided").mean())
                extra = ""
                if name.startswith("A/A"):
                    extra = f"false slower/faster per report: mean {np.mean(false):.2f}, max {max(false)}"
                if name.startswith("large"):
                    extra = f"decided at the first look (n = {design.looks[0]}): {float((frame['look'] == 0).mean()):.1%}"
                rows.append(
                    f"| {name} | {cv:.0%} | {noise} | {right:.1%} | {wrong:.1%} | {dropped:.1%} | {undecided:.1%} "
                    f"| {n_med:.0f} | {extra} |"
                )
                figures[(name, cv, noise)] = (
                    right,
                    n_med,
                    undecided,
                    np.mean(false) if name.startswith("A/A") else None,
                )
    return rows, figures


def max_n_table(reports: int) -> list[str]:
    """Share found (planted 5 %) and called equivalent (1.00) by max_n, clean lognormal noise, in
    reports made only of such borderline pairs (the hardest case for the FDR step: few decisions)."""
    caps = (60, 120, 250, 500)
    rows = [
        "| CV | "
        + " | ".join(f"max_n {c}: 5 % found / 1.00 equivalent (decided before FDR)" for c in caps)
        + " |",
        "|---|" + "---|" * len(caps),
    ]
    for cv in (0.03, 0.05, 0.10):
        cells = []
        for cap in caps:
            design = SequentialDesign(max_n=cap)
            effects = np.tile([1.0, 1.05, 1.0], (25, 1))  # pairs 0-1: ×1.05, 0-2: ×1.00, 1-2: ×0.952
            frame = pl.concat([simulate(effects, design, cv=cv, seed=(11, r, cap)) for r in range(reports)])
            found = frame.filter(pl.col("true_ratio") > 1.01)["verdict"].eq("slower").mean()
            equal = frame.filter((pl.col("true_ratio") - 1).abs() < 1e-9)["verdict"].eq("equivalent").mean()
            decided = (frame["decision"] != "undecided").mean()
            cells.append(f"{found:.0%} / {equal:.0%} ({decided:.0%})")
        rows.append(f"| {cv:.0%} | " + " | ".join(cells) + " |")
    return rows


def flagship_table(reports: int) -> list[str]:
    """A report shaped like the flagship suite: 3 tools × 30 operations; git-worktree equal to git on
    60 % of them (else ×0.90 … ×1.10), jj ×1.3 … ×7; conclusive share and rounds by max_n and CV."""
    rng = np.random.default_rng(0)
    ops = 30
    worktree = np.where(rng.random(ops) < 0.6, 1.0, rng.choice([0.90, 0.97, 1.04, 1.10], ops))
    effects = np.c_[np.ones(ops), worktree, np.exp(rng.uniform(math.log(1.3), math.log(7.0), ops))]
    caps = (30, 60, 120)
    rows = [
        "| CV | noise | " + " | ".join(f"max_n {c}: conclusive, mean rounds per pair" for c in caps) + " |",
        "|---|---|" + "---|" * len(caps),
    ]
    for cv in (0.03, 0.05, 0.08):
        for noise, kw in NOISES.items():
            cells = []
            for cap in caps:
                design = SequentialDesign(max_n=cap)
                frame = pl.concat(
                    [simulate(effects, design, cv=cv, seed=(13, r, cap), **kw) for r in range(reports)]
                )
                log_ratio, m = frame["true_ratio"].log(), math.log1p(design.delta)
                wrong = int(
                    (
                        ((frame["verdict"] == "slower") & (log_ratio <= m))
                        | ((frame["verdict"] == "faster") & (log_ratio >= -m))
                        | ((frame["verdict"] == "equivalent") & (log_ratio.abs() >= m))
                    ).sum()
                )
                conclusive = float((frame["verdict"] != "inconclusive").mean())
                cells.append(
                    f"{conclusive:.0%}, {frame['n_rounds'].mean():.0f}"
                    + (f" ({wrong} wrong)" if wrong else "")
                )
            rows.append(f"| {cv:.0%} | {noise} | " + " | ".join(cells) + " |")
    return rows


# ---------------------------------------------------------------------------------------------------
# 3. at the margin


class _Peeking(SequentialDesign):
    """No spending: every look at the full α (what optional stopping must not do)."""

    def share(self, look: int, final: bool = False) -> float:
        return 1.0

    def level(self, look: int, final: bool = False) -> float:
        return self.alpha


def margin_table(reports: int, max_n: int) -> list[str]:
    rows = ["| design | CV | wrong verdicts per pair (before FDR) | bound |", "|---|---|---|---|"]
    for label, design in (
        ("sequential (spending, γ = 0.8)", SequentialDesign(max_n=max_n)),
        ("peeking at 95 % every look", _Peeking(max_n=max_n)),
    ):
        for cv in (0.03, 0.10):
            frame = pl.concat(
                [
                    simulate(np.tile([1.0, 1.03], (50, 1)), design, cv=cv, seed=(7, r, int(cv * 100)))
                    for r in range(reports)
                ]
            )
            wrong = float(frame["decision"].is_in(["slower", "equivalent"]).mean())
            bound = "γα = 4 %" if label.startswith("sequential") else "none"
            rows.append(f"| {label} | {cv:.0%} | {wrong:.2%} | {bound} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=20, help="A/A reports per scenario")
    parser.add_argument("--max-n", type=int, default=120)
    args = parser.parse_args()
    design = SequentialDesign(max_n=args.max_n)
    t0 = time.perf_counter()
    print(
        f"design: looks {list(design.looks)}, Pocock-type shares {np.round(design.shares, 3).tolist()}, "
        f"levels {[round(design.level(k), 4) for k in range(len(design.looks))]}, δ = {design.delta}, "
        f"α = {design.alpha}, γ = {design.fdr_share}\n"
    )
    print(
        "Estimators of the log ratio, n = 30 rounds: samples needed relative to the paired HL (MSE ratio)\n"
    )
    print("\n".join(estimator_table()), "\n")
    rows, _ = scenario_table(args.reports, args.max_n)
    print(f"Scenarios ({args.reports} A/A reports of 102 pairs; max_n = {args.max_n})\n")
    print("\n".join(rows), "\n")
    few = max(2, args.reports // 5)
    print(f"A flagship-like report (3 tools × 30 operations: worktree ≈ git, jj ×1.3 … ×7), {few} reports\n")
    print("\n".join(flagship_table(few)), "\n")
    print("max_n needed: reports of borderline pairs only (25 operations × 3 tools: ×1.05, ×1.00, ×0.95)\n")
    print("\n".join(max_n_table(few)), "\n")
    print(
        "At the margin (true ratio 1.03 = 1 + δ: slower and equivalent are both wrong), 50 pairs per report\n"
    )
    print("\n".join(margin_table(max(4, args.reports // 2), args.max_n)), "\n")
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
