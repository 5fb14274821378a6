"""samples (suite × tool): landing files loaded into DuckDB by the single writer."""

from dagster import (
    AssetDep,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)

from assets.measurements import measurements
from assets.partitions import by_suite, suite_tool, suite_tool_partitions
from resources import StoreResource


@asset(
    partitions_def=suite_tool_partitions,
    deps=[AssetDep(measurements, partition_mapping=by_suite)],
    pool="duckdb",
    group_name="pipeline",
    description="Loads pending landing files of this suite × tool into DuckDB in one transaction.",
)
def samples(context: AssetExecutionContext, store: StoreResource) -> MaterializeResult:
    suite, tool = suite_tool(context.partition_key)
    loaded = store.get().load_landing(suite=suite, tool=tool)
    context.log.info(f"loaded {len(loaded.files)} landing file(s): {loaded.rows}")
    return MaterializeResult(
        metadata={
            "files": MetadataValue.int(len(loaded.files)),
            "sample_rows": MetadataValue.int(loaded.rows.get("samples", 0)),
            "cell_rows": MetadataValue.int(loaded.rows.get("cells", 0)),
            "runs": MetadataValue.json(sorted(loaded.run_ids)),
        }
    )
