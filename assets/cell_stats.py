"""cell_stats (suite × tool): robust per-cell summaries of every run that has none yet."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from assets.clean_samples import clean_samples
from assets.partitions import suite_tool, suite_tool_partitions
from bench_pipeline.analysis import update_cell_stats
from resources import StoreResource


@asset(
    partitions_def=suite_tool_partitions,
    deps=[clean_samples],
    pool="duckdb",
    group_name="pipeline",
    description="n, median, mean, std, MAD, p95, CV … per run × operation × fixture × metric.",
)
def cell_stats(context: AssetExecutionContext, store: StoreResource) -> MaterializeResult:
    suite, tool = suite_tool(context.partition_key)
    db = store.get()
    written = update_cell_stats(db, suite, tool)
    preview = ""
    if written:
        last = sorted(written)[-1]
        df = db.query(
            """SELECT operation, fixture, n, round(median / 1e6, 3) AS median_ms, round(cv * 100, 1) AS cv_pct
               FROM cell_stats WHERE run_id = ? AND tool = ? AND metric = 'wall' ORDER BY operation, fixture""",
            [last, tool],
        )
        preview = _markdown_table(df)
    return MaterializeResult(
        metadata={
            "runs": MetadataValue.json(written),
            "rows": MetadataValue.int(sum(written.values())),
            "preview": MetadataValue.md(preview or "no new runs"),
        }
    )


def _markdown_table(df) -> str:
    head = "| " + " | ".join(df.columns) + " |\n|" + "---|" * len(df.columns) + "\n"
    return head + "\n".join("| " + " | ".join(str(v) for v in row) + " |" for row in df.iter_rows())
