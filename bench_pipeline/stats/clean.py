"""Cleaning: flag outliers, slow first runs and failures on samples; never drop a row.

Model. Within a cell (suite, tool, operation, fixture, run_id) the timed, successful samples of a metric
are draws from one distribution with a heavy right tail. A sample is judged against the cell's robust
centre (median *m*) and robust scale, so that the outliers being judged do not inflate the yardstick.

Modified z-score (Iglewicz & Hoaglin 1993, "How to Detect and Handle Outliers", ASQC vol. 16, §3.3)::

    M_i = 0.6745 · |x_i − m| / MAD,        MAD = median_i |x_i − m|,      outlier  ⇔  M_i > 3.5

0.6745 = Φ⁻¹(0.75), so MAD / 0.6745 (= 1.4826 · MAD) estimates σ for normal data and M_i is in
σ units. When MAD = 0 (more than half the samples are identical, e.g. integer-valued or quantised
metrics) the scale falls back to the mean absolute deviation from the median, which for normal data
is σ·√(2/π), i.e. σ̂ = 1.2533 · MeanAD (the fallback IBM SPSS documents for the modified z-score); if
that is 0 too, every sample equals the median and no sample is an outlier.

Tukey fences (Tukey 1977, *Exploratory Data Analysis*, §2): with quartiles Q1, Q3 (linear
interpolation, as numpy's default) and IQR = Q3 − Q1, a sample is ``tukey_mild`` outside
[Q1 − 1.5·IQR, Q3 + 1.5·IQR] and ``tukey_extreme`` outside [Q1 − 3·IQR, Q3 + 3·IQR] (extreme implies
mild). They are kept for box plots; the modified z-score is the outlier rule used in statistics.

Slow first run. The first timed, successful sample of a cell (smallest (round, iteration)) is
``slow_first`` when the cell has at least 3 such samples and::

    x_first > m + 3·σ̂      or      x_first > 1.5 · m

with σ̂ the robust scale above. The first clause catches a cold cache on a quiet cell, the second on a
noisy one (where 3σ̂ would be large). hyperfine warns about the same effect.

Cost: a few grouped median/quantile passes over the frame, O(N log N) in the number of rows.
"""

from __future__ import annotations

import polars as pl

from bench_pipeline.stats._schema import (
    SAMPLE_COLUMNS,
    cell_id_expr,
    failed_expr,
    included_expr,
    metric_expr,
    require_columns,
)

#: Φ⁻¹(0.75): MAD / MODIFIED_Z_CONSTANT estimates σ for normal data (Iglewicz & Hoaglin 1993).
MODIFIED_Z_CONSTANT = 0.6745
#: outlier threshold on the modified z-score (Iglewicz & Hoaglin 1993).
MODIFIED_Z_THRESHOLD = 3.5
#: σ / MeanAD for normal data, √(π/2): fallback scale when MAD = 0.
MEANAD_TO_SIGMA = 1.2533141373155001
#: Tukey's inner and outer fences, in IQRs.
TUKEY_MILD = 1.5
TUKEY_EXTREME = 3.0
#: slow first run: more than this many robust σ above the median ...
SLOW_FIRST_SIGMAS = 3.0
#: ... or more than this multiple of the median.
SLOW_FIRST_RATIO = 1.5
#: fewer included samples than this: no slow-first judgement.
SLOW_FIRST_MIN_N = 3

FLAG_COLUMNS: tuple[str, ...] = (
    "failed",
    "included",
    "modified_z",
    "outlier",
    "tukey_mild",
    "tukey_extreme",
    "slow_first",
)


def robust_centre_and_scale(value: str, keys: list[str]) -> list[list[pl.Expr]]:
    """Stages of ``with_columns`` adding ``_med``, ``_dev`` and ``_scale`` (robust σ̂) per group.

    ``value`` must be null where a row does not count. Shared by cleaning and the per-cell summary so
    both judge samples by the same rule.
    """
    x = pl.col(value)
    return [
        [x.median().over(keys).alias("_med")],
        [(x - pl.col("_med")).abs().alias("_dev")],
        [
            pl.col("_dev").median().over(keys).alias("_mad"),
            pl.col("_dev").mean().over(keys).alias("_meanad"),
        ],
        [
            pl.when(pl.col("_mad") > 0)
            .then(pl.col("_mad") / MODIFIED_Z_CONSTANT)
            .when(pl.col("_meanad") > 0)
            .then(pl.col("_meanad") * MEANAD_TO_SIGMA)
            .otherwise(0.0)
            .alias("_scale")
        ],
    ]


def modified_z_expr() -> pl.Expr:
    """|x − m| / σ̂, 0 when every sample equals the median (σ̂ = 0); needs the robust stages."""
    return pl.when(pl.col("_scale") > 0).then(pl.col("_dev") / pl.col("_scale")).otherwise(0.0)


def is_first_expr(keys: list[str]) -> pl.Expr:
    """True on the first included sample (smallest round, then iteration) of each group.

    (round, iteration) is packed into one Int64 (round · 2³² + iteration) so that a grouped ``min``
    finds it; a grouped sort would cost several times more.
    """
    order = pl.when(pl.col("_included")).then(
        pl.col("round").cast(pl.Int64) * (1 << 32) + pl.col("iteration").cast(pl.Int64)
    )
    return pl.col("_included") & (order == order.min().over(keys)).fill_null(False)


def slow_first_expr(value: str) -> pl.Expr:
    """Slow-first rule on ``value`` for a row already known to be the first (see module docstring)."""
    x = pl.col(value)
    return (pl.col("_n") >= SLOW_FIRST_MIN_N) & (
        (x > pl.col("_med") + SLOW_FIRST_SIGMAS * pl.col("_scale")) | (x > SLOW_FIRST_RATIO * pl.col("_med"))
    )


def clean_samples(df: pl.DataFrame) -> pl.DataFrame:
    """Add flag columns to a samples frame; rows and their order are unchanged.

    Added columns (all judged on wall time against the cell's included samples):

    - ``failed``: exit_code ≠ 0 or timed_out;
    - ``included``: not warmup and not failed: the samples statistics use;
    - ``modified_z``: 0.6745·|x − m| / MAD (MeanAD fallback when MAD = 0), null when not included;
    - ``outlier``: modified_z > 3.5 (Iglewicz & Hoaglin 1993);
    - ``tukey_mild`` / ``tukey_extreme``: outside Q1 − k·IQR .. Q3 + k·IQR, k = 1.5 / 3 (Tukey 1977);
    - ``slow_first``: the cell's first included sample is > m + 3σ̂ or > 1.5·m.

    Flags are False on rows that are not included (warmups, failures).
    """
    require_columns(df, SAMPLE_COLUMNS, what="clean_samples")
    keys = ["_cell"]
    lf = (
        df.lazy()
        .with_row_index("_row")
        .with_columns(
            failed_expr().alias("_failed"), included_expr().alias("_included"), cell_id_expr().alias("_cell")
        )
        .with_columns(pl.when(pl.col("_included")).then(metric_expr("wall")).alias("_x"))
        .with_columns(pl.col("_included") & pl.col("_x").is_not_null())
        .with_columns(
            pl.col("_x").count().over(keys).alias("_n"),
            pl.col("_x").quantile(0.25, "linear").over(keys).alias("_q1"),
            pl.col("_x").quantile(0.75, "linear").over(keys).alias("_q3"),
            is_first_expr(keys).alias("_first"),
        )
    )
    for stage in robust_centre_and_scale("_x", keys):
        lf = lf.with_columns(stage)
    iqr = pl.col("_q3") - pl.col("_q1")
    x = pl.col("_x")

    def outside(k: float) -> pl.Expr:
        return ((x < pl.col("_q1") - k * iqr) | (x > pl.col("_q3") + k * iqr)).fill_null(False)

    lf = lf.with_columns(
        pl.col("_failed").alias("failed"),
        pl.col("_included").alias("included"),
        pl.when(pl.col("_included")).then(modified_z_expr()).alias("modified_z"),
        (modified_z_expr() > MODIFIED_Z_THRESHOLD).fill_null(False).alias("outlier"),
        outside(TUKEY_MILD).alias("tukey_mild"),
        outside(TUKEY_EXTREME).alias("tukey_extreme"),
        (pl.col("_first") & slow_first_expr("_x")).fill_null(False).alias("slow_first"),
    )
    out = lf.select([c for c in df.columns if c not in FLAG_COLUMNS] + list(FLAG_COLUMNS)).collect()
    # outlier flags only ever apply to included rows
    return out.with_columns(
        [pl.col(c) & pl.col("included") for c in ("outlier", "tukey_mild", "tukey_extreme", "slow_first")]
    )
