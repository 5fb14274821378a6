"""ingest_files_job: load external result files (hyperfine, criterion, …) through bench_pipeline.ingest.

Started by the drop-folder sensor (one run per new file) or by hand from the launchpad.
"""

from pathlib import Path

from dagster import Config, OpExecutionContext, job, op

from assets.partitions import sync_partitions
from resources import StoreResource


class IngestFilesConfig(Config):
    paths: list[str]
    format: str = "auto"
    suite: str = ""  # empty: what the file says, or the adapter's default
    tool: str = ""
    run_id: str = ""  # files with the same run id join one run


@op(pool="duckdb", description="Parse, validate and store result files as one run (nothing stored on error).")
def ingest_files(context: OpExecutionContext, config: IngestFilesConfig, store: StoreResource) -> dict:
    # heavy adapters: import on use; the runs are completed (analysed, finished) before the op ends
    from bench_pipeline.resume import ingest_and_complete as ingest

    result = ingest(
        [Path(p) for p in config.paths],
        fmt=config.format,
        suite=config.suite or None,
        tool=config.tool or None,
        run_id=config.run_id or None,
        store=store.get(),
    )
    for warning in result.warnings:
        context.log.warning(warning)
    sync_partitions(context.instance)  # a new suite or tool is a partition from now on
    context.log.info(
        f"ingested {result.samples} samples into run {result.run_id} from {len(config.paths)} file(s)"
    )
    context.add_output_metadata(
        {"run_id": result.run_id, "samples": result.samples, "operations": result.operations}
    )
    return {"run_id": result.run_id, "samples": result.samples, "operations": result.operations}


@job(description="Ingest result files (see docs/ingest.md); the drop-folder sensor starts one run per file.")
def ingest_files_job():
    ingest_files()
