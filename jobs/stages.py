"""The stage jobs, built from the one declaration of the stages (``bench_pipeline.pipeline.STAGES``).

A Dagster run covers one partitions definition; Dagster infers it from the selected assets
(suite × tool for fixtures and ingest, suite for measure and report).
"""

from dagster import define_asset_job

from bench_pipeline.pipeline import STAGES

JOBS = [define_asset_job(s.job, selection=list(s.assets), description=s.description) for s in STAGES]
JOB_BY_NAME = {job.name: job for job in JOBS}
fixtures_job, measure_job, ingest_job, report_job = (JOB_BY_NAME[s.job] for s in STAGES)
