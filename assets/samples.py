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
from bench_pipeline.fleet import RUN_ROWS_TOOL
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
    # a run delivered by a fleet host brings its own row (``runs+<suite>+all``): it is stored first
    runs = store.get().load_landing(suite=suite, tool=RUN_ROWS_TOOL)
    loaded = store.get().load_landing(suite=suite, tool=tool)
    loaded.rows["runs"] = loaded.rows.get("runs", 0) + runs.rows.get("runs", 0)
    context.log.info(f"loaded {len(loaded.files)} landing file(s): {loaded.rows}")
    return MaterializeResult(
        metadata={
            "files": MetadataValue.int(len(loaded.files)),
            "sample_rows": MetadataValue.int(loaded.rows.get("samples", 0)),
            "cell_rows": MetadataValue.int(loaded.rows.get("cells", 0)),
            "runs": MetadataValue.json(sorted(loaded.run_ids)),
        }
    )
