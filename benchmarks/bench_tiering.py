"""Tiering benchmark (SPEC §13): 10 million hot samples over 200 days → `tier --as-of`.

Targets: the move takes under 30 s; the warm (and cold) Parquet files are at most 5 % of the bytes
the moved hot rows occupied.

How "hot bytes" are measured (both printed):
- **DuckDB**: the moved rows (samples + their cell_stats) copied into a fresh DuckDB file, checkpointed;
  its size is what those rows cost in the store (DuckDB's own column compression).
- **Parquet**: the same sample rows written as ZSTD Parquet at the warm tier's level (3): a
  compressed-columnar baseline that is not flattered by DuckDB's block overhead.

The warm size grows with cells, not samples, so the ratio depends on samples per cell; a second
table sweeps that (1 million samples each). Usage::

    uv run python benchmarks/bench_tiering.py [--rows 10000000] [--per-cell 333] [--no-sweep]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_pipeline.ops.tiering import TierSettings, move_to_cold, move_to_warm  # noqa: E402
from bench_pipeline.store import Store  # noqa: E402

AS_OF = date(2025, 7, 20)
DAYS = 200
TOOLS, OPERATIONS, FIXTURES = 3, 50, 1  # 150 cells per run: the flagship suite's shape, one size

GENERATE_RUNS = """
INSERT INTO runs (run_id, suite, started_at, finished_at, status, trigger, backend, host, tool_versions, settings)
SELECT 'run-' || lpad(CAST(i AS VARCHAR), 6, '0'), 'vcs',
       TIMESTAMPTZ '{as_of} 02:00:00+00' - to_days(CAST(1 + i * $days // $runs AS INTEGER))
           + to_minutes(CAST(i % 60 AS INTEGER)),
       TIMESTAMPTZ '{as_of} 03:00:00+00' - to_days(CAST(1 + i * $days // $runs AS INTEGER)),
       CASE WHEN i % 29 = 0 THEN 'failed' ELSE 'succeeded' END, 'schedule', 'local', '{{}}', '{{}}', '{{}}'
FROM range($runs) t(i)
"""

# Timings: log-normal noise around a per-cell centre; CPU below wall; a few failures; RSS per tool.
GENERATE_SAMPLES = """
INSERT INTO samples BY NAME
SELECT 'run-' || lpad(CAST(r AS VARCHAR), 6, '0') AS run_id, 'vcs' AS suite, 'tool' || (c % $tools) AS tool,
       'op' || lpad(CAST(c // $tools AS VARCHAR), 3, '0') AS operation, 'small' AS fixture, 'local' AS backend,
       k AS round, k AS iteration, false AS warmup,
       CAST(1e6 * (1 + c % 50) * exp(0.05 * sqrt(-2 * ln(random())) * cos(6.283185 * random())) AS BIGINT) AS wall_ns,
       CAST(6e5 * (1 + c % 50) * (1 + 0.1 * random()) AS BIGINT) AS user_ns,
       CAST(1e5 * (1 + random()) AS BIGINT) AS sys_ns,
       CAST(1e7 + (c % $tools) * 1e6 + 4096 * CAST(random() * 100 AS BIGINT) AS BIGINT) AS peak_rss_bytes,
       CAST(0 AS BIGINT) AS read_bytes, 4096 * CAST(random() * 10 AS BIGINT) AS write_bytes,
       CAST(random() * 20 AS BIGINT) AS ctx_switches,
       CASE WHEN (r * 7919 + c * 104729 + k) % 500 = 0 THEN 1 ELSE 0 END AS exit_code, false AS timed_out,
       (r * 7919 + c * 104729 + k) % 500 <> 0 AS ok,
       CAST(random() * 2000 AS BIGINT) AS stdout_bytes, CAST(0 AS BIGINT) AS stderr_bytes, NULL AS stderr_tail,
       TIMESTAMPTZ '{as_of} 02:00:00+00' - to_days(CAST(1 + r * $days // $runs AS INTEGER)) + to_seconds(k) AS created_at
FROM range($runs) a(r), range($cells) b(c), range($per_cell) d(k)
"""

# Hot cell_stats as the statistics asset would leave them (approximated in SQL: the benchmark
# measures the move, not the statistics).
GENERATE_STATS = """
INSERT INTO cell_stats BY NAME
WITH long AS (
    SELECT run_id, suite, tool, operation, fixture, ok, m.metric,
           CASE m.metric WHEN 'wall' THEN wall_ns WHEN 'cpu' THEN user_ns + sys_ns ELSE peak_rss_bytes END AS x
    FROM samples CROSS JOIN (VALUES ('wall'), ('cpu'), ('rss')) m(metric)
)
SELECT run_id, suite, tool, operation, fixture, metric, count(x) FILTER (WHERE ok) AS n,
       count(*) FILTER (WHERE NOT ok) AS n_failed, median(x) FILTER (WHERE ok) AS median,
       avg(x) FILTER (WHERE ok) AS mean, avg(x) FILTER (WHERE ok) AS trimmed_mean,
       stddev_samp(x) FILTER (WHERE ok) AS std, mad(x) FILTER (WHERE ok) AS mad,
       min(x) FILTER (WHERE ok) AS min, max(x) FILTER (WHERE ok) AS max,
       quantile_cont(x, 0.05) FILTER (WHERE ok) AS p5, quantile_cont(x, 0.95) FILTER (WHERE ok) AS p95,
       quantile_cont(x, 0.99) FILTER (WHERE ok) AS p99, min(x) FILTER (WHERE ok) AS ci_low,
       max(x) FILTER (WHERE ok) AS ci_high, 0.95 AS ci_coverage, 0.0 AS outlier_share, 1.0 AS first_run_ratio,
       CAST([] AS VARCHAR[]) AS warnings, now() AS computed_at
FROM long GROUP BY ALL
"""


def synthesize(store: Store, rows: int, per_cell: int) -> dict[str, int]:
    cells = TOOLS * OPERATIONS * FIXTURES
    runs = max(1, rows // (cells * per_cell))
    params = {"runs": runs, "cells": cells, "per_cell": per_cell, "tools": TOOLS, "days": DAYS}
    with store.connect() as con:
        con.execute(GENERATE_RUNS.format(as_of=AS_OF), {k: params[k] for k in ("runs", "days")})
        con.execute(GENERATE_SAMPLES.format(as_of=AS_OF), params)
        con.execute(GENERATE_STATS)
        con.execute("CHECKPOINT")
    return {"runs": runs, "samples": runs * cells * per_cell}


def hot_bytes(store: Store, settings: TierSettings, work: Path) -> dict[str, int]:
    """Bytes the rows a move will take out of the hot tables occupy (see the module docstring)."""
    cutoff = f"TIMESTAMPTZ '{AS_OF}' - to_days({settings.hot_days})"
    moving = f"SELECT run_id FROM runs WHERE started_at < {cutoff}"
    copy_db = work / "moved-rows.duckdb"
    parquet = work / "moved-samples.parquet"
    with store.connect() as con:
        con.execute(f"ATTACH '{copy_db}' AS m")
        con.execute(f"CREATE TABLE m.samples AS SELECT * FROM samples WHERE run_id IN ({moving})")
        con.execute(f"CREATE TABLE m.cell_stats AS SELECT * FROM cell_stats WHERE run_id IN ({moving})")
        con.execute("CHECKPOINT m")
        con.execute("DETACH m")
        con.execute(
            f"COPY (SELECT * FROM samples WHERE run_id IN ({moving})) TO '{parquet}' "
            "(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 3)"
        )
        moved = con.execute(f"SELECT count(*) FROM samples WHERE run_id IN ({moving})").fetchone()[0]
    return {"duckdb": copy_db.stat().st_size, "parquet": parquet.stat().st_size, "samples": moved}


def run_case(rows: int, per_cell: int, work: Path) -> dict:
    home = work / f"home-{rows}-{per_cell}"
    home.mkdir(parents=True)
    os.environ["BENCH_PIPELINE_HOME"] = str(home)
    store = Store(home / "bench.duckdb")
    settings = TierSettings(hot_days=7, warm_days=90)
    t0 = time.perf_counter()
    shape = synthesize(store, rows, per_cell)
    generated = time.perf_counter() - t0
    hot = hot_bytes(store, settings, home)
    warm_result = move_to_warm(AS_OF, settings, store=store)  # what `tier` does, in its two steps
    cold_result = move_to_cold(AS_OF, settings, store=store)
    totals = cold_result.totals
    warm, cold = totals["warm"]["bytes"], totals["cold"]["bytes"]
    return {
        "rows": shape["samples"],
        "per_cell": per_cell,
        "runs": shape["runs"],
        "generate_s": generated,
        "warm_s": warm_result.seconds,
        "cold_s": cold_result.seconds,
        "moved": warm_result.warm["samples"],
        "cells": warm_result.warm["cells"],
        "cold_cells": cold_result.cold["cells"],
        "hot_duckdb": hot["duckdb"],
        "hot_parquet": hot["parquet"],
        "warm": warm,
        "cold": cold,
    }


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--per-cell", type=int, default=333, help="timed samples per cell and run")
    parser.add_argument("--no-sweep", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tiering-") as tmp:
        work = Path(tmp)
        r = run_case(args.rows, args.per_cell, work)
        print(
            f"\n## Tiering: {r['rows']:,} hot samples over {DAYS} days ({r['runs']} runs, {r['per_cell']} per cell)\n"
        )
        print("| measure | value | target |")
        print("|---|---|---|")
        print(f"| hot → warm | {r['warm_s']:.1f} s | < 30 s |")
        print(
            f"| warm → cold (first compaction of {r['cold_cells']:,} rows, ZSTD-19) | {r['cold_s']:.1f} s | |"
        )
        print(f"| `tier --as-of` in total | {r['warm_s'] + r['cold_s']:.1f} s | |")
        print(f"| samples moved out of DuckDB | {r['moved']:,} | |")
        print(f"| cell × metric rows written | {r['cells']:,} (of which cold {r['cold_cells']:,}) | |")
        print(f"| hot bytes of the moved rows, DuckDB | {_mb(r['hot_duckdb'])} | |")
        print(f"| hot bytes of the moved samples, Parquet ZSTD-3 | {_mb(r['hot_parquet'])} | |")
        print(
            f"| warm + cold files | {_mb(r['warm'] + r['cold'])} (warm {_mb(r['warm'])}, cold {_mb(r['cold'])}) | |"
        )
        print(f"| ratio to DuckDB bytes | {100 * (r['warm'] + r['cold']) / r['hot_duckdb']:.2f} % | ≤ 5 % |")
        print(
            f"| ratio to Parquet bytes | {100 * (r['warm'] + r['cold']) / r['hot_parquet']:.2f} % | ≤ 5 % |"
        )
        print(f"\n(synthetic data generated in {r['generate_s']:.1f} s; {os.cpu_count()} CPUs)")
        if args.no_sweep:
            return
        print("\n## Size ratio by samples per cell (1,000,000 samples each)\n")
        print(
            "| samples per cell | cells | hot → warm | warm → cold | hot DuckDB | hot Parquet | warm + cold "
            "| ratio DuckDB | ratio Parquet |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for per_cell in (10, 30, 100, 333, 1000):
            s = run_case(1_000_000, per_cell, work)
            tiered = s["warm"] + s["cold"]
            print(
                f"| {per_cell} | {s['cells'] // 3:,} | {s['warm_s']:.1f} s | {s['cold_s']:.1f} s | {_mb(s['hot_duckdb'])} | "
                f"{_mb(s['hot_parquet'])} | {_mb(tiered)} | {100 * tiered / s['hot_duckdb']:.1f} % | "
                f"{100 * tiered / s['hot_parquet']:.1f} % |"
            )


if __name__ == "__main__":
    main()
