"""comparisons (suite): every tool pair per cell and metric, with BCa CIs, p-values and verdicts."""

from dagster import AssetDep, AssetExecutionContext, MaterializeResult, MetadataValue, asset

from assets.cell_stats import cell_stats
from assets.partitions import by_suite, suite_partitions
from bench_pipeline.analysis import update_comparisons
from bench_pipeline.history import suite_delta
from resources import StoreResource


@asset(
    partitions_def=suite_partitions,
    deps=[AssetDep(cell_stats, partition_mapping=by_suite)],
    pool="duckdb",
    group_name="pipeline",
    description="Tool B vs tool A per operation × fixture × metric: ratio of medians (BCa 95% CI), "
    "Brunner–Munzel p, Benjamini–Hochberg across the run, verdict with margin δ.",
)
def comparisons(context: AssetExecutionContext, store: StoreResource) -> MaterializeResult:
    # δ from the suite file, or the default for a suite that arrived by ingestion
    db = store.get()
    written = update_comparisons(db, context.partition_key, suite_delta(context.partition_key))
    preview = "no new runs"
    if written:
        last = sorted(written)[-1]
        df = db.query(
            """SELECT operation, fixture, tool_a, tool_b, round(ratio, 3) AS ratio, round(ci_low, 3) AS ci_low,
                      round(ci_high, 3) AS ci_high, verdict
               FROM comparisons WHERE run_id = ? AND metric = 'wall' ORDER BY operation, fixture LIMIT 60""",
            [last],
        )
        head = "| " + " | ".join(df.columns) + " |\n|" + "---|" * len(df.columns) + "\n"
        preview = head + "\n".join("| " + " | ".join(str(v) for v in r) + " |" for r in df.iter_rows())
    return MaterializeResult(
        metadata={
            "runs": MetadataValue.json(written),
            "rows": MetadataValue.int(sum(written.values())),
            "preview": MetadataValue.md(preview),
        }
    )
