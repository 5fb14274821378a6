"""measurements (suite): one interleaved run of all selected tools, landed as Parquet files.

Suite-partitioned on purpose: randomised interleaving needs every tool of the run inside one
step (SPEC §4.1), while containers and landing files stay per suite × tool.
"""

from dagster import (
    AssetDep,
    AssetExecutionContext,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)

from assets.fixtures import fixtures
from assets.partitions import by_suite, suite_partitions
from bench_pipeline.builds import builds_allowed
from bench_pipeline.execution.suite_run import RunRequest, run_suite
from bench_pipeline.pipeline import measurable_suite
from bench_pipeline.progress import tee
from resources import BackendResource, StoreResource


class MeasureConfig(Config):
    tools: list[str] = []  # empty: every tool of the suite; a revision: tool@rev (jj@0.44.0)
    sizes: list[str] = []  # empty: the suite's default (or quick) sizes
    quick: bool = False
    backend: str = ""  # empty: the backend resource's choice
    trigger: str = "manual"
    git_tag: str = ""
    git_commit: str = ""
    run_id: str = ""
    seed: int = -1
    build: bool = (
        True  # build a missing tool from its suite recipe (false, or BENCH_PIPELINE_NO_BUILD=1: skip)
    )


@asset(
    partitions_def=suite_partitions,
    deps=[AssetDep(fixtures, partition_mapping=by_suite)],
    pool="measure",
    group_name="pipeline",
    description="Executes the suite's operations for its tools in randomised rounds; writes landing Parquet.",
)
def measurements(
    context: AssetExecutionContext, config: MeasureConfig, store: StoreResource, backend: BackendResource
) -> MaterializeResult:
    suite = measurable_suite(context.partition_key)
    request = RunRequest(
        suite=suite,
        tools=config.tools,
        sizes=config.sizes,
        quick=config.quick,
        backend=config.backend or backend.backend,
        trigger=config.trigger,
        git_tag=config.git_tag or None,
        git_commit=config.git_commit or None,
        run_id=config.run_id or None,
        seed=None if config.seed < 0 else config.seed,
        allow_build=builds_allowed(config.build),
    )
    outcome = run_suite(request, store=store.get(), progress=tee(context.log.info))
    return MaterializeResult(
        metadata={
            "run_id": outcome.run_id,
            "samples": MetadataValue.int(outcome.samples),
            "cells": MetadataValue.json(outcome.cells),
            "tools": MetadataValue.json(outcome.tools),
            "backend": outcome.backend.kind,
            "backend_reason": outcome.backend.reason,
            "seconds": MetadataValue.float(round(outcome.seconds, 2)),
            "tool_versions": MetadataValue.json(outcome.tool_versions),
            "unavailable": MetadataValue.json(outcome.unavailable),
            "landing": MetadataValue.json([str(p) for p in outcome.landing]),
        }
    )
