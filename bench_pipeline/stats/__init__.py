"""Statistics core: cleaning flags, per-cell summaries, two-sample comparisons with verdicts.

Plain Python over Polars frames (no Dagster). Methods, formulas, references and defaults are in
``docs/methods.md``; each module's docstring states its own.

    clean_samples(samples)                      -> samples + flag columns        (clean.py)
    cell_stats(samples, metrics)                -> one row per cell × metric     (summary.py)
    compare_tools(samples, pairs, metric, ...)  -> tool B vs tool A per cell     (compare.py)
    compare_runs(baseline, candidate, metric)   -> candidate vs baseline per cell
    geomean_ratios(comparisons)                 -> geometric mean ratio per pair with a CI
    benjamini_hochberg(p)                       -> BH-adjusted p-values          (mtc.py)
    merge_moments(parts), welch_test(a, b)      -> from (n, mean, M2) aggregates (sufficient.py)
    histogram_quantile(merge_histograms(h), q)  -> a pooled quantile from log histograms
    SequentialTracker(pairs, SequentialDesign()) -> sampling to a verdict: looks, stops, report
                                                 (sequential.py: decide, finalize, looks, simulate)
"""

from bench_pipeline.stats._schema import (
    CELL_KEYS,
    EXTRA_PREFIX,
    METRICS,
    SAMPLE_COLUMNS,
    StatsInputError,
    extra_column,
    extra_metric_names,
)
from bench_pipeline.stats.clean import FLAG_COLUMNS, clean_samples
from bench_pipeline.stats.compare import (
    DEFAULT_ALPHA,
    DEFAULT_DELTA,
    DEFAULT_N_BOOT,
    DEFAULT_SEED,
    RUN_COLUMNS,
    TOOL_COLUMNS,
    compare_runs,
    compare_tools,
    geomean_ratios,
    verdict_expr,
)
from bench_pipeline.stats.mtc import benjamini_hochberg
from bench_pipeline.stats.sequential import LOOK_COLUMNS, SequentialDesign, SequentialTracker
from bench_pipeline.stats.sufficient import (
    Moments,
    WelchResult,
    histogram_quantile,
    merge_histograms,
    merge_moments,
    welch_test,
)
from bench_pipeline.stats.summary import STAT_COLUMNS, cell_stats, median_ci_rank

__all__ = [
    "CELL_KEYS",
    "DEFAULT_ALPHA",
    "DEFAULT_DELTA",
    "DEFAULT_N_BOOT",
    "DEFAULT_SEED",
    "EXTRA_PREFIX",
    "FLAG_COLUMNS",
    "LOOK_COLUMNS",
    "METRICS",
    "RUN_COLUMNS",
    "SAMPLE_COLUMNS",
    "STAT_COLUMNS",
    "TOOL_COLUMNS",
    "Moments",
    "SequentialDesign",
    "SequentialTracker",
    "StatsInputError",
    "WelchResult",
    "benjamini_hochberg",
    "cell_stats",
    "clean_samples",
    "compare_runs",
    "compare_tools",
    "extra_column",
    "extra_metric_names",
    "geomean_ratios",
    "histogram_quantile",
    "median_ci_rank",
    "merge_histograms",
    "merge_moments",
    "verdict_expr",
    "welch_test",
]
