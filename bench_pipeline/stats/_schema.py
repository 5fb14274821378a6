"""Column names and metric definitions shared by the statistics modules.

A *cell* is (suite, tool, operation, fixture, run_id); a *metric* is a named expression over a sample row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import polars as pl

from bench_pipeline.errors import BenchError

CELL_KEYS: tuple[str, ...] = ("suite", "tool", "operation", "fixture", "run_id")

#: the sample columns the statistics need: a subset of the sample declaration
#: (bench_pipeline.store.schema, which stats may not import: the two are independent layers;
#: tests/unit/test_sample_schema.py checks the subset)
SAMPLE_COLUMNS: tuple[str, ...] = (
    *CELL_KEYS,
    "round",
    "iteration",
    "wall_ns",
    "user_ns",
    "sys_ns",
    "peak_rss_bytes",
    "exit_code",
    "timed_out",
    "warmup",
)

#: metric name -> (columns it needs, expression computing it as Float64; NaN becomes null = missing)
METRICS: dict[str, tuple[tuple[str, ...], pl.Expr]] = {
    "wall": (("wall_ns",), pl.col("wall_ns").cast(pl.Float64).fill_nan(None)),
    "cpu": (("user_ns", "sys_ns"), (pl.col("user_ns") + pl.col("sys_ns")).cast(pl.Float64).fill_nan(None)),
    "rss": (("peak_rss_bytes",), pl.col("peak_rss_bytes").cast(pl.Float64).fill_nan(None)),
}


#: extra metrics (ingested key/value measurements: tokens, cost, scores, instructions, ...) are
#: columns named EXTRA_PREFIX + key next to the timing columns; their metric name is the key
EXTRA_PREFIX = "metric:"


def extra_column(name: str) -> str:
    return EXTRA_PREFIX + name


def extra_metric_names(columns: Iterable[str]) -> list[str]:
    """The extra metrics a frame carries (its ``metric:<key>`` columns), in column order."""
    return [c[len(EXTRA_PREFIX) :] for c in columns if c.startswith(EXTRA_PREFIX)]


class StatsInputError(BenchError):
    """A frame handed to the statistics functions lacks columns or names an unknown metric."""


def require_columns(df: pl.DataFrame, columns: Iterable[str], *, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise StatsInputError(
            f"missing column(s) {', '.join(missing)}",
            where=what,
            fix=f"pass a samples frame with columns {', '.join(SAMPLE_COLUMNS)}",
        )


def metric_names(metric: str | Sequence[str], columns: Iterable[str] = ()) -> list[str]:
    """Validated metric names: the built-in ones, or extra metrics whose column is in ``columns``."""
    names = [metric] if isinstance(metric, str) else list(metric)
    present = set(columns)
    unknown = [m for m in names if m not in METRICS and extra_column(m) not in present]
    if unknown or not names:
        extras = extra_metric_names(present)
        raise StatsInputError(
            f"unknown metric(s) {unknown or names!r}",
            where="metric",
            fix=f"use one or more of {', '.join([*METRICS, *sorted(extras)])}",
        )
    return names


def metric_expr(name: str) -> pl.Expr:
    if name in METRICS:
        return METRICS[name][1]
    return pl.col(extra_column(name)).cast(pl.Float64).fill_nan(None)


def cell_id_expr() -> pl.Expr:
    """An integer id per cell (the ``_row`` of its first row): grouping on one integer column is several
    times faster than on the five string keys. Needs a ``_row`` index column."""
    return pl.col("_row").min().over(list(CELL_KEYS))


def failed_expr() -> pl.Expr:
    """A sample failed when its exit code is non-zero or it timed out."""
    return (pl.col("exit_code") != 0).fill_null(True) | pl.col("timed_out").fill_null(False)


def included_expr() -> pl.Expr:
    """Samples that count for statistics: timed (not warmup) and successful."""
    return ~pl.col("warmup").fill_null(False) & ~failed_expr()
