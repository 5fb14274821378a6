"""clean_samples (suite × tool): outlier and slow-first-run flags for every timed sample."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from assets.partitions import suite_tool, suite_tool_partitions
from assets.samples import samples
from bench_pipeline.analysis import update_flags
from resources import StoreResource


@asset(
    partitions_def=suite_tool_partitions,
    deps=[samples],
    pool="duckdb",
    group_name="pipeline",
    description="Flags (never drops) outliers — modified z-score > 3.5, Tukey fences 1.5/3 IQR — and slow "
    "first runs; view clean_samples_all.",
)
def clean_samples(context: AssetExecutionContext, store: StoreResource) -> MaterializeResult:
    suite, tool = suite_tool(context.partition_key)
    written = update_flags(store.get(), suite, tool)
    return MaterializeResult(
        metadata={
            "runs": MetadataValue.json(written),
            "flagged_outliers": MetadataValue.int(sum(v["outliers"] for v in written.values())),
            "samples": MetadataValue.int(sum(v["samples"] for v in written.values())),
        }
    )
