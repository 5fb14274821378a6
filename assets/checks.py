"""Asset checks: noise, sanity, completeness (per suite × tool), equivalence, targets and the
blocking regression gate (per suite). Each wraps a function of ``bench_pipeline.checks``."""

import warnings

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    MetadataValue,
    PreviewWarning,
    asset_check,
)

from assets.cell_stats import cell_stats
from assets.comparisons import comparisons
from assets.partitions import suite_partitions, suite_tool, suite_tool_partitions
from assets.report import report
from bench_pipeline import checks
from resources import StoreResource

warnings.filterwarnings("ignore", category=PreviewWarning)  # partitioned asset checks are "preview" in 1.13


def _result(outcome: checks.CheckOutcome, severity=AssetCheckSeverity.ERROR) -> AssetCheckResult:
    return AssetCheckResult(
        passed=outcome.passed,
        severity=severity,
        description=outcome.summary,
        metadata={"cells": MetadataValue.json(outcome.cells[:200]), "count": len(outcome.cells)},
    )


def _run(store: StoreResource, suite: str):
    db = store.get()
    return db, checks.newest_run(db, suite)


def _no_run(suite: str) -> AssetCheckResult:
    return AssetCheckResult(passed=True, description=f"suite {suite} has no finished run yet")


@asset_check(
    asset=cell_stats,
    partitions_def=suite_tool_partitions,
    description="Warns when a cell's coefficient of variation is ≥ 10% (noisy measurement).",
)
def noise(context: AssetCheckExecutionContext, store: StoreResource) -> AssetCheckResult:
    suite, tool = suite_tool(context.partition_key)
    db, run_id = _run(store, suite)
    return _result(checks.noise(db, run_id, tool), AssetCheckSeverity.WARN) if run_id else _no_run(suite)


@asset_check(
    asset=cell_stats,
    partitions_def=suite_tool_partitions,
    description="No zero or negative times, no zero peak memory among successful samples.",
)
def sanity(context: AssetCheckExecutionContext, store: StoreResource) -> AssetCheckResult:
    suite, tool = suite_tool(context.partition_key)
    db, run_id = _run(store, suite)
    return _result(checks.sanity(db, run_id, tool)) if run_id else _no_run(suite)


@asset_check(
    asset=cell_stats,
    partitions_def=suite_tool_partitions,
    description="Every planned cell has samples or an explicit failure / n/a / unavailable state.",
)
def completeness(context: AssetCheckExecutionContext, store: StoreResource) -> AssetCheckResult:
    suite, tool = suite_tool(context.partition_key)
    db, run_id = _run(store, suite)
    return _result(checks.completeness(db, run_id, tool)) if run_id else _no_run(suite)


@asset_check(
    asset=comparisons,
    partitions_def=suite_partitions,
    description="Every tool reached the same resulting state as the reference tool (else: invalid cell).",
)
def equivalence(context: AssetCheckExecutionContext, store: StoreResource) -> AssetCheckResult:
    db, run_id = _run(store, context.partition_key)
    return _result(checks.equivalence(db, run_id)) if run_id else _no_run(context.partition_key)


@asset_check(
    asset=comparisons,
    partitions_def=suite_partitions,
    description="Per-operation targets of the suite (e.g. p99 < 500ms); non-blocking.",
)
def targets(context: AssetCheckExecutionContext, store: StoreResource) -> AssetCheckResult:
    db, run_id = _run(store, context.partition_key)
    outcome = checks.targets(db, context.partition_key, run_id) if run_id else None
    return _result(outcome, AssetCheckSeverity.WARN) if outcome else _no_run(context.partition_key)


@asset_check(
    asset=report,
    partitions_def=suite_partitions,
    blocking=True,
    description="Fails on a confirmed regression of the newest run against its baseline (CI can fail on it).",
)
def regression_gate(context: AssetCheckExecutionContext, store: StoreResource) -> AssetCheckResult:
    db, run_id = _run(store, context.partition_key)
    return (
        _result(checks.regression_gate(db, context.partition_key, run_id))
        if run_id
        else _no_run(context.partition_key)
    )


CHECKS = [noise, sanity, completeness, equivalence, targets, regression_gate]
