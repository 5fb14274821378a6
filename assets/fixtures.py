"""fixtures (suite × tool): generated repositories, prepared for one tool, cached on disk."""

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset

from assets.partitions import suite_tool, suite_tool_partitions
from bench_pipeline.builds import builds_allowed, describe, record_builds
from bench_pipeline.execution.suite_run import prepare_fixtures
from bench_pipeline.pipeline import measurable_suite
from bench_pipeline.progress import tee
from resources import StoreResource


class FixturesConfig(Config):
    sizes: list[str] = []  # empty: the suite's default sizes
    quick: bool = False
    build: bool = (
        True  # build a missing tool from its suite recipe (false, or BENCH_PIPELINE_NO_BUILD=1: skip)
    )
    run_id: str = ""  # the bench run these fixtures are for: its builds are recorded under it


@asset(
    partitions_def=suite_tool_partitions,
    pool="measure",
    group_name="pipeline",
    description="Deterministic generated repositories, prepared by each tool's setup commands (cached).",
)
def fixtures(
    context: AssetExecutionContext, config: FixturesConfig, store: StoreResource
) -> MaterializeResult:
    suite_name, tool = suite_tool(context.partition_key)
    suite = measurable_suite(suite_name, [tool])  # a revision partition (jj@0.44.0) is built at its rev
    if tool not in suite.tools:
        return MaterializeResult(
            metadata={"status": f"suite {suite_name} has no tool {tool}: nothing to prepare"}
        )
    sizes = config.sizes or (suite.quick.sizes if config.quick else suite.settings.sizes)
    prepared = prepare_fixtures(
        suite, [tool], list(sizes), tee(context.log.info), allow_build=builds_allowed(config.build)
    )
    status = prepared.statuses[tool]
    record_builds(store.get(), [status], suite=suite_name, run_id=config.run_id or None)
    if not status.available:  # never fatal: the run goes on with the other tools, and says why
        context.log.warning(describe(status) + (f" — fix: {status.fix}" if status.fix else ""))
        return MaterializeResult(
            metadata={
                "status": "unavailable",
                "reason": status.reason,
                "fix": status.fix,
                "action": status.action,
            }
        )
    rows = [
        f"| {tf.size} | {tf.commits} | {tf.files} | {tf.generation_seconds:.1f} | {tf.setup_seconds:.1f} | `{tf.root}` |"
        for tf in prepared.fixtures.values()
    ]
    table = (
        "| size | commits | files | generation s | setup s | path |\n|---|---|---|---|---|---|\n"
        + "\n".join(rows)
    )
    return MaterializeResult(
        metadata={
            "status": status.action,
            "sizes": MetadataValue.json(list(sizes)),
            "fixtures": MetadataValue.md(table),
            "commits": MetadataValue.int(sum(tf.commits for tf in prepared.fixtures.values())),
        }
    )
