"""history and patterns (suite): change points, trends and the gate per cell; scaling, failures,
recommendations and run quality — stored in the learning tables under the suite's newest run."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from assets.comparisons import comparisons
from assets.partitions import suite_partitions
from bench_pipeline.patterns.record import record_history, record_patterns
from resources import StoreResource


@asset(
    partitions_def=suite_partitions,
    deps=[comparisons],
    pool="duckdb",
    group_name="pipeline",
    description="Each cell's run medians over time: E-divisive change points (PELT-L1 cross-check), "
    "Theil–Sen / Mann–Kendall trend with a forecast, same-run gate; into performance_trends.",
)
def history(context: AssetExecutionContext, store: StoreResource) -> MaterializeResult:
    record = record_history(store.get(), context.partition_key)
    return MaterializeResult(
        metadata={
            "run_id": MetadataValue.text(record.run_id or ""),
            "cells": MetadataValue.int(sum(len(v) for v in record.cells.values())),
            "change_points": MetadataValue.int(len(record.change_points)),
            "anomalies": MetadataValue.int(len(record.anomalies)),
            "preview": MetadataValue.md(record.markdown()),
        }
    )


@asset(
    partitions_def=suite_partitions,
    deps=[history],
    pool="duckdb",
    group_name="pipeline",
    description="Growth class of each operation's cost with fixture size, failure clusters, bottlenecks, "
    "hot paths, configuration advice and the run's quality score; into the learning tables.",
)
def patterns(context: AssetExecutionContext, store: StoreResource) -> MaterializeResult:
    record = record_patterns(store.get(), context.partition_key)
    quality = record.quality.quality if record.quality and record.quality.quality is not None else 0.0
    return MaterializeResult(
        metadata={
            "run_id": MetadataValue.text(record.run_id or ""),
            "scaling_fits": MetadataValue.int(len(record.fits)),
            "growth_differences": MetadataValue.int(len(record.differences)),
            "failure_clusters": MetadataValue.int(len(record.errors)),
            "recommendations": MetadataValue.int(len(record.recommendations)),
            "quality": MetadataValue.float(float(quality)),
            "preview": MetadataValue.md(record.markdown()),
        }
    )
