"""Report rendering time: build the report model from the store, then Markdown, JSON and HTML.

SPEC §13 target: report rendering under 5 s. Synthetic run: 3 tools × 50 operations × 3 fixtures,
about 100,000 timed samples (the generator of ``bench_analysis.py``), written through the real store
API (landing Parquet files → ``Store.load_landing``), with cell statistics and comparisons computed by
``bench_pipeline.analysis`` as the pipeline does (setup, not timed). Prints a Markdown table: median of
``--repeats`` timings per stage.

    uv run python benchmarks/bench_report.py [--samples 100000] [--repeats 3] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from bench_analysis import synthetic_samples  # same directory: one generator for both benchmarks

from bench_pipeline import analysis
from bench_pipeline.execution.rounds import CELL_SCHEMA, SAMPLE_SCHEMA
from bench_pipeline.report import build_report
from bench_pipeline.report.html import render_html
from bench_pipeline.report.json_export import render_json
from bench_pipeline.report.markdown import render_markdown
from bench_pipeline.store import Store
from bench_pipeline.store.landing import write_landing

SUITE = "synthetic"
RUN_ID = "20250101T000000Z-synthetic-000001"
TARGET_S = 5.0


def _store_with_run(root: Path, n_samples: int, seed: int) -> tuple[Store, int]:
    """A store holding one finished run of about ``n_samples`` timed samples, analysed."""
    raw = synthetic_samples(n_samples, seed)
    samples = raw.with_columns(
        run_id=pl.lit(RUN_ID),
        suite=pl.lit(SUITE),
        backend=pl.lit("local"),
        iteration=pl.col("round").rank("ordinal").over("tool", "operation", "fixture").cast(pl.Int32) - 2,
        ok=(pl.col("exit_code") == 0) & ~pl.col("timed_out"),
        created_at=pl.lit(datetime.now(UTC)),
    )
    samples = samples.with_columns(
        iteration=pl.when(pl.col("warmup")).then(-1).otherwise(pl.col("iteration"))
    )
    samples = samples.select(
        [
            (pl.col(c) if c in samples.columns else pl.lit(None)).cast(dtype).alias(c)
            for c, dtype in SAMPLE_SCHEMA.items()
        ]
    )
    cells = (
        samples.filter(~pl.col("warmup"))
        .group_by("run_id", "suite", "tool", "operation", "fixture")
        .agg(n_ok=pl.col("ok").sum(), n_failed=(~pl.col("ok")).sum())
        .with_columns(
            category=pl.lit("read"),
            status=pl.when(pl.col("n_ok") > 0).then(pl.lit("measured")).otherwise(pl.lit("failed")),
            reason=pl.lit(""),
            stop=pl.lit("max_runs"),
        )
    )
    cells = cells.select(
        [(pl.col(c) if c in cells.columns else pl.lit(None)).cast(t).alias(c) for c, t in CELL_SCHEMA.items()]
    )

    store = Store(root / "bench.duckdb")
    tools = sorted(samples["tool"].unique().to_list())
    store.create_run(
        RUN_ID, SUITE, trigger="manual", backend="local", host={"cpu_model": platform.processor()},
        settings={"synthetic": True}, tools=tools, sizes=["small", "medium", "large"], quick=False,
        suite_sha256="synthetic",
    )  # fmt: skip
    landing = root / "landing"
    for tool in tools:
        write_landing(
            samples.filter(pl.col("tool") == tool),
            landing,
            run_id=RUN_ID,
            kind="samples",
            suite=SUITE,
            tool=tool,
        )
        write_landing(
            cells.filter(pl.col("tool") == tool), landing, run_id=RUN_ID, kind="cells", suite=SUITE, tool=tool
        )
    store.load_landing(landing)
    store.finish_run(RUN_ID, "succeeded", tool_versions={t: f"{t} 1.0" for t in tools}, seconds=600.0)
    for tool in tools:
        analysis.update_cell_stats(store, SUITE, tool)
    analysis.update_comparisons(store, SUITE, 0.03)
    return store, int((~samples["warmup"]).sum())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        t0 = time.perf_counter()
        store, timed = _store_with_run(Path(tmp), args.samples, args.seed)
        setup_s = time.perf_counter() - t0
        timings: dict[str, list[float]] = {
            "build_report": [],
            "markdown": [],
            "json": [],
            "html": [],
            "total": [],
        }
        sizes: dict[str, int] = {}
        for _ in range(args.repeats):
            start = time.perf_counter()
            report = build_report(store, SUITE, RUN_ID)
            t1 = time.perf_counter()
            md = render_markdown(report, html_name="report.html")
            t2 = time.perf_counter()
            js = render_json(report)
            t3 = time.perf_counter()
            html = render_html(report)
            t4 = time.perf_counter()
            for stage, seconds in zip(
                timings, (t1 - start, t2 - t1, t3 - t2, t4 - t3, t4 - start), strict=True
            ):
                timings[stage].append(seconds)
            sizes = {"markdown": len(md), "json": len(js), "html": len(html)}

    print(
        f"# report benchmark: {timed:,} timed samples · {len(report.operations)} operation rows · "
        f"{len(report.comparisons)} comparisons · {os.cpu_count()} CPUs · "
        f"{platform.processor() or platform.machine()}\n"
    )
    print(f"store set-up (landing load, cell statistics, comparisons; not timed below): {setup_s:.1f} s\n")
    print("| stage | median (s) | min (s) | max (s) | output |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for stage, ts in timings.items():
        name = f"**{stage}**" if stage == "total" else stage
        out = f"{sizes[stage] / 1e3:,.0f} kB" if stage in sizes else ""
        print(f"| {name} | {statistics.median(ts):.2f} | {min(ts):.2f} | {max(ts):.2f} | {out} |")
    total = statistics.median(timings["total"])
    print(
        f"\ntarget (SPEC §13): < {TARGET_S:.0f} s → {'met' if total < TARGET_S else 'NOT met'} ({total:.2f} s)"
    )


if __name__ == "__main__":
    main()
