"""Jobs, one per stage group: a Dagster run covers one partitions definition."""

from dagster import define_asset_job

from assets.partitions import suite_partitions, suite_tool_partitions

fixtures_job = define_asset_job(
    "fixtures_job",
    selection=["fixtures"],
    partitions_def=suite_tool_partitions,
    description="Generate and prepare fixtures of one suite × tool.",
)
measure_job = define_asset_job(
    "measure_job",
    selection=["measurements"],
    partitions_def=suite_partitions,
    description="Measure one suite (all or selected tools, interleaved).",
)
ingest_job = define_asset_job(
    "ingest_job",
    selection=["samples", "clean_samples", "cell_stats"],
    partitions_def=suite_tool_partitions,
    description="Load landing files of one suite × tool and compute its statistics.",
)
report_job = define_asset_job(
    "report_job",
    selection=["comparisons", "history", "patterns", "report"],
    partitions_def=suite_partitions,
    description="Compare the tools of a suite's new runs and render the reports of a run.",
)

JOBS = [fixtures_job, measure_job, ingest_job, report_job]
