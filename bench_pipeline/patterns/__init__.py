"""Patterns across cells and runs: how cost scales with size, how failures cluster, what is anomalous.

Plain Python (no Dagster); methods in ``docs/history.md`` and each module's docstring.

    classify_growth(n, median, rel_se)           -> GrowthFit                 (scaling.py)
    scaling_fits(store, suite, metric)           -> list[ScalingFit]
    growth_differences(fits)                     -> list[GrowthDifference]
    report_scaling(fits)                         -> the report's ``scaling`` field
    error_clusters(store, suite)                 -> list[ErrorCluster]        (errors.py)
    stderr_signature(text)                       -> normalised signature
    find_anomalies(cells)                        -> list[Anomaly]             (anomalies.py)
    similar_runs(store, run_id)                  -> the runs most like it     (similarity.py)
    run_quality(store, run_id)                   -> RunQuality, 0–1           (quality.py)
    run_findings(store, suite, run_id)           -> recommendations, errors, quality, similar runs (findings.py)
    record_history(store, suite)                 -> into the learning store   (record.py)
    record_patterns(store, suite)                -> into the learning store
"""

from bench_pipeline.patterns.anomalies import Anomaly, find_anomalies
from bench_pipeline.patterns.errors import ErrorCluster, cluster_failures, error_clusters, stderr_signature
from bench_pipeline.patterns.scaling import (
    GROWTH,
    GrowthDifference,
    GrowthFit,
    ScalingFit,
    ScalingPoint,
    classify_growth,
    fits_frame,
    growth_differences,
    report_scaling,
    scaling_fits,
)

__all__ = [
    "GROWTH",
    "Anomaly",
    "ErrorCluster",
    "GrowthDifference",
    "GrowthFit",
    "ScalingFit",
    "ScalingPoint",
    "classify_growth",
    "cluster_failures",
    "error_clusters",
    "find_anomalies",
    "fits_frame",
    "growth_differences",
    "report_scaling",
    "scaling_fits",
    "stderr_signature",
]
