"""report (suite): Markdown, JSON and HTML reports of the suite's newest run (or a chosen one)."""

from dagster import (
    AssetExecutionContext,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)

from assets.comparisons import comparisons
from assets.history import patterns
from assets.partitions import suite_partitions
from bench_pipeline.report.archive import FORMATS
from bench_pipeline.report.render import render_run
from resources import StoreResource


class ReportConfig(Config):
    run: str = "latest"  # a run id, latest, latest~N or tag:NAME
    formats: list[str] = list(FORMATS)


@asset(
    partitions_def=suite_partitions,
    deps=[comparisons, patterns],
    group_name="pipeline",
    description="Renders the run's reports into reports/<suite>/<run_id>/ and moves reports/<suite>/latest.",
)
def report(context: AssetExecutionContext, config: ReportConfig, store: StoreResource) -> MaterializeResult:
    db = store.get()
    rendered, written = render_run(db, context.partition_key, config.run, config.formats)
    # samples, statistics and now reports are committed: the run gets the status it waited for
    completed = db.complete_run(rendered.run.run_id)
    summary = written["md"].read_text() if "md" in written else ""
    return MaterializeResult(
        metadata={
            "run_id": rendered.run.run_id,
            "completed": completed or "",
            **{f"{fmt}_path": MetadataValue.path(str(path)) for fmt, path in written.items()},
            "summary": MetadataValue.md(summary[:20_000]),
            "cells": MetadataValue.json(rendered.cell_counts),
        }
    )
