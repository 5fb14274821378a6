"""Glue between the store and the statistics: which runs need statistics, read, compute, write."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from bench_pipeline.store import Store

CELL = ["run_id", "suite", "tool", "operation", "fixture"]
METRICS = {"wall": pl.col("wall_ns"), "cpu": pl.col("user_ns") + pl.col("sys_ns"), "rss": pl.col("peak_rss_bytes")}


def cell_stats_frame(samples: pl.DataFrame) -> pl.DataFrame:
    """Per cell × metric summaries of successful timed samples (long format)."""
    if samples.is_empty():
        return pl.DataFrame()
    long = pl.concat([
        samples.select(*CELL, "ok", pl.lit(name).alias("metric"), expr.cast(pl.Float64).alias("value"))
        for name, expr in METRICS.items()
    ])
    ok = long.filter(pl.col("ok"))
    stats = ok.group_by([*CELL, "metric"]).agg(
        n=pl.len(),
        median=pl.col("value").median(),
        mean=pl.col("value").mean(),
        std=pl.col("value").std(),
        mad=(pl.col("value") - pl.col("value").median()).abs().median(),
        min=pl.col("value").min(),
        max=pl.col("value").max(),
        p5=pl.col("value").quantile(0.05, "linear"),
        p95=pl.col("value").quantile(0.95, "linear"),
    ).with_columns(cv=pl.col("std") / pl.col("mean"))
    failed = long.filter(~pl.col("ok")).group_by([*CELL, "metric"]).agg(n_failed=pl.len())
    out = stats.join(failed, on=[*CELL, "metric"], how="full", coalesce=True).with_columns(
        n=pl.col("n").fill_null(0), n_failed=pl.col("n_failed").fill_null(0),
        computed_at=pl.lit(datetime.now(UTC)),
    )
    return out.sort([*CELL, "metric"])


def runs_missing_stats(store: Store, suite: str, tool: str) -> list[str]:
    df = store.query(
        """SELECT DISTINCT s.run_id FROM samples_all s
           WHERE s.suite = ? AND s.tool = ?
             AND NOT EXISTS (SELECT 1 FROM cell_stats c WHERE c.run_id = s.run_id AND c.tool = s.tool)
           ORDER BY s.run_id""",
        [suite, tool],
    )
    return df["run_id"].to_list()


def update_cell_stats(store: Store, suite: str, tool: str) -> dict[str, int]:
    """Compute statistics for every run of suite × tool that has samples but no statistics yet."""
    written = {}
    for run_id in runs_missing_stats(store, suite, tool):
        samples = store.query("SELECT * FROM samples_all WHERE run_id = ? AND tool = ?", [run_id, tool])
        written[run_id] = store.replace_cell_stats(run_id, tool, cell_stats_frame(samples))
    return written
