"""Hot, warm and cold storage tiers (SPEC §7): old raw samples leave DuckDB as per-cell aggregates.

- **hot**: raw samples and ``cell_stats`` of runs younger than ``hot_days`` (default 7), in DuckDB.
- **warm**: for older runs, one row per run × tool × operation × fixture × metric with sufficient
  statistics (n, mean, M2 = Σ(x − mean)², min, max), quantiles p5/p25/p50/p75/p95/p99, the
  statistics ``cell_stats`` had (CI of the median, MAD, trimmed mean, …) and a compact log-spaced
  histogram; ZSTD Parquet, one file per month of the runs' start (``tiers/warm/YYYY-MM/``).
- **cold**: the same rows for runs older than ``warm_days`` (default 90), compacted into one
  read-only archive per year (``tiers/cold/YYYY/``, ZSTD level 19) with ``tiers/cold/manifest.json``
  (row counts, bytes, SHA-256 of every file).
- **raw**: raw samples of moved runs whose suite sets ``keep_raw: true``, ZSTD Parquet per month
  (``tiers/raw/YYYY-MM/``); ``samples_all`` reads them.

A run moves as a whole, by its ``started_at``; runs still ``running`` never move.

What stays exact: every per-cell quantile is computed from the raw samples at move time with the
definition ``cell_stats`` uses (linear interpolation, Hyndman & Fan type 7), so a cell's median,
p5…p99, min, max, n and mean are exact in every tier; mean-based tests (Welch) and pooled means
and variances of several cells are exact from (n, mean, M2) (Chan, Golub & LeVeque 1979). What is
approximate: quantiles of a *pooled* set of cells (e.g. the median of a week of runs) come from
the merged histograms, within one bin width, ≈ 2.2 %. The formulas and references are in
:mod:`bench_pipeline.stats.sufficient` (re-exported here).

Crash safety (every move): journal row ``started`` → write each file to a temporary name → fsync →
rename → verify its row count against the source and its SHA-256 → journal ``written`` → one DuckDB
transaction deletes the source rows, registers the new files (retiring the ones they replace),
rebuilds the views over the registered files and marks the move ``done``. Files are read only when
registered, and source rows are deleted only by the transaction that registers their copy, so a
move killed at any point loses and duplicates nothing: the next run marks it ``abandoned``, deletes
its files, and moves again. ``BENCH_PIPELINE_TIER_PAUSE=<point>`` makes a move stop at a named
point (tests kill it there; see :data:`PAUSE_POINTS`).

Modules: ``settings`` (retention, :class:`TierError`), ``files`` (lock, fsync, pause points),
``journal`` (``tier_moves``, ``tier_files``, recovery, verification), ``mover`` (the moves).
"""

from bench_pipeline.ops.tiering.files import LOCK_TIMEOUT_S, PAUSE_ENV, PAUSE_FILE_ENV, PAUSE_POINTS
from bench_pipeline.ops.tiering.journal import verify_tiers
from bench_pipeline.ops.tiering.mover import (
    CELL_COLUMN_NAMES,
    FINISHED,
    TierResult,
    move_to_cold,
    move_to_warm,
    refresh_views,
    tier,
)
from bench_pipeline.ops.tiering.settings import TierError, TierSettings
from bench_pipeline.stats.sufficient import (
    HIST_BINS_PER_OCTAVE,
    HIST_RELATIVE_ERROR,
    QUANTILES,
    Moments,
    WelchResult,
    histogram_bin,
    histogram_quantile,
    merge_histograms,
    merge_moments,
    welch_test,
)

__all__ = [
    "CELL_COLUMN_NAMES",
    "FINISHED",
    "HIST_BINS_PER_OCTAVE",
    "HIST_RELATIVE_ERROR",
    "LOCK_TIMEOUT_S",
    "PAUSE_ENV",
    "PAUSE_FILE_ENV",
    "PAUSE_POINTS",
    "QUANTILES",
    "Moments",
    "TierError",
    "TierResult",
    "TierSettings",
    "WelchResult",
    "histogram_bin",
    "histogram_quantile",
    "merge_histograms",
    "merge_moments",
    "move_to_cold",
    "move_to_warm",
    "refresh_views",
    "tier",
    "verify_tiers",
    "welch_test",
]
