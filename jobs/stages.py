"""Jobs, one per stage group: a Dagster run covers one partitions definition (Dagster infers it
from the selected assets: suite × tool for fixtures and ingest, suite for measure and report)."""

from dagster import define_asset_job

fixtures_job = define_asset_job(
    "fixtures_job",
    selection=["fixtures"],
    description="Generate and prepare fixtures of one suite × tool.",
)
measure_job = define_asset_job(
    "measure_job",
    selection=["measurements"],
    description="Measure one suite (all or selected tools, interleaved).",
)
ingest_job = define_asset_job(
    "ingest_job",
    selection=["samples", "clean_samples", "cell_stats"],
    description="Load landing files of one suite × tool and compute its statistics.",
)
report_job = define_asset_job(
    "report_job",
    selection=["comparisons", "history", "patterns", "report"],
    description="Compare the tools of a suite's new runs and render the reports of a run.",
)

JOBS = [fixtures_job, measure_job, ingest_job, report_job]
