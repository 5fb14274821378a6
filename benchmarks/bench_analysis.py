"""Analysis throughput: clean → cell_stats → comparisons (wall, cpu, rss) on 1 million synthetic samples.

SPEC §13 target: under 10 s. Synthetic design: 3 tools × 50 operations × 3 fixtures in one run, every
(tool, operation, fixture) measured once per interleaving round (as the runner does), lognormal wall
times with a per-cell CV of 2–8 %, a machine drift shared by all tools within a round, 0.5 % outliers,
0.1 % failures, one warmup per cell. Prints a Markdown table: median of ``--repeats`` timings per stage.

    uv run python benchmarks/bench_analysis.py [--samples 1000000] [--repeats 3] [--seed 1]
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import time

import numpy as np
import polars as pl

from bench_pipeline.stats import cell_stats, clean_samples, compare_tools, geomean_ratios

TOOLS = ("git", "git-worktree", "jj")
N_OPERATIONS = 50
FIXTURES = ("small", "medium", "large")


def synthetic_samples(n_samples: int = 1_000_000, seed: int = 1) -> pl.DataFrame:
    """About ``n_samples`` timed samples plus one warmup per cell, rounds interleaved across all cells."""
    rng = np.random.default_rng(seed)
    cells = list(itertools.product(TOOLS, [f"op{i:02d}" for i in range(N_OPERATIONS)], FIXTURES))
    n_cells = len(cells)
    rounds = max(2, n_samples // n_cells)
    tool_i = np.array([TOOLS.index(t) for t, _, _ in cells])
    op_i = np.array([int(o[2:]) for _, o, _ in cells])
    fix_i = np.array([FIXTURES.index(f) for _, _, f in cells])

    base = np.exp(rng.uniform(np.log(5e6), np.log(5e8), size=(N_OPERATIONS, len(FIXTURES))))
    tool_factor = np.exp(rng.normal(0.0, 0.15, size=(len(TOOLS), N_OPERATIONS)))
    tool_factor[0] = 1.0
    cell_median = base[op_i, fix_i] * tool_factor[tool_i, op_i]
    cell_cv = rng.uniform(0.02, 0.08, size=n_cells)

    # rows: round-major, every cell once per round (round -1: warmup)
    cell = np.tile(np.arange(n_cells), rounds + 1)
    rnd = np.repeat(np.arange(-1, rounds), n_cells)
    n = cell.size
    drift = 1.0 + 0.02 * np.sin(np.arange(-1, rounds) / 50.0) + rng.normal(0, 0.005, rounds + 1)
    wall = cell_median[cell] * drift[rnd + 1] * np.exp(rng.normal(0.0, cell_cv[cell]))
    spikes = rng.random(n) < 0.005
    wall[spikes] *= rng.uniform(1.5, 3.0, spikes.sum())
    user = wall * rng.uniform(0.7, 0.9, n)
    sys_ = wall * rng.uniform(0.05, 0.15, n)
    rss = (np.exp(rng.normal(np.log(5e7), 0.01, n)) // 4096) * 4096 * (1 + 0.2 * tool_i[cell])
    failed = rng.random(n) < 0.001
    return pl.DataFrame(
        {
            "run_id": "run-bench",
            "suite": "vcs",
            "tool": np.array(TOOLS)[tool_i[cell]],
            "operation": np.char.add("op", np.char.zfill(op_i[cell].astype(str), 2)),
            "fixture": np.array(FIXTURES)[fix_i[cell]],
            "round": rnd,
            "iteration": np.zeros(n, dtype=np.int64),
            "wall_ns": wall.astype(np.int64),
            "user_ns": user.astype(np.int64),
            "sys_ns": sys_.astype(np.int64),
            "peak_rss_bytes": rss.astype(np.int64),
            "exit_code": np.where(failed, 1, 0),
            "timed_out": np.zeros(n, dtype=bool),
            "warmup": rnd < 0,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    t0 = time.perf_counter()
    df = synthetic_samples(args.samples, args.seed)
    gen_s = time.perf_counter() - t0
    timings: dict[str, list[float]] = {
        "clean_samples": [],
        "cell_stats": [],
        "compare_tools": [],
        "total": [],
    }
    results: dict[str, pl.DataFrame] = {}
    for _ in range(args.repeats):
        t_start = time.perf_counter()
        cleaned = clean_samples(df)
        t1 = time.perf_counter()
        stats = cell_stats(cleaned)
        t2 = time.perf_counter()
        comps = compare_tools(cleaned, None, ("wall", "cpu", "rss"))
        t3 = time.perf_counter()
        timings["clean_samples"].append(t1 - t_start)
        timings["cell_stats"].append(t2 - t1)
        timings["compare_tools"].append(t3 - t2)
        timings["total"].append(t3 - t_start)
        results = {"stats": stats, "comparisons": comps}

    comps = results["comparisons"]
    print(
        f"# analysis benchmark: {df.height:,} rows ({(~df['warmup']).sum():,} timed) · "
        f"{comps.height} comparisons · {os.cpu_count()} CPUs · {platform.processor() or platform.machine()}\n"
    )
    print(f"synthetic data generated in {gen_s:.2f} s (not timed below)\n")
    print("| stage | median (s) | min (s) | max (s) |")
    print("| --- | ---: | ---: | ---: |")
    for stage, ts in timings.items():
        name = f"**{stage}**" if stage == "total" else stage
        print(f"| {name} | {statistics.median(ts):.2f} | {min(ts):.2f} | {max(ts):.2f} |")
    target = 10.0
    total = statistics.median(timings["total"])
    print(f"\ntarget (SPEC §13): < {target:.0f} s → {'met' if total < target else 'NOT met'} ({total:.2f} s)")
    print("\nverdicts:", dict(comps.group_by("verdict").len().iter_rows()))
    print(
        "\n"
        + str(
            geomean_ratios(comps).select("tool_a", "tool_b", "metric", "geomean_ratio", "ci_low", "ci_high")
        )
    )


if __name__ == "__main__":
    main()
