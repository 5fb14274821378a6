"""resume_job and its sensor: the daemon completes runs whose process died between their stages
(``bench_pipeline.resume``): measured or ingested, but without statistics or reports yet."""

from datetime import UTC, datetime, timedelta

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    OpExecutionContext,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    job,
    op,
    sensor,
)

from bench_pipeline import paths
from bench_pipeline.resume import complete_runs
from bench_pipeline.store import Store
from resources import StoreResource

#: a pending run is left to the stages that are about to run for it for this long
GRACE = timedelta(minutes=10)
ACTIVE = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


@op(pool="duckdb", description="Load, analyse and report every pending run; then give it its status.")
def complete_pending_runs(context: OpExecutionContext, store: StoreResource) -> dict:
    done = complete_runs(store.get(), progress=context.log.info)
    context.add_output_metadata({"completed": done})
    return done


@job(description="Complete runs whose process died after measuring or ingesting (docs/operating.md).")
def resume_job():
    complete_pending_runs()


@sensor(
    name="resume_sensor",
    job=resume_job,
    minimum_interval_seconds=300,
    default_status=DefaultSensorStatus.RUNNING,
    description="Starts resume_job when a run has been pending for 10 minutes with none of its stages running.",
)
def resume_sensor(context: SensorEvaluationContext):
    if not paths.db_path().exists():
        return SkipReason("no store yet")
    now = datetime.now(UTC)
    stale = [r for r in Store().pending_runs() if r["finished_at"] is None or now - r["finished_at"] > GRACE]
    if not stale:
        return SkipReason("no run waits for its analysis")
    active = context.instance.get_runs(RunsFilter(statuses=ACTIVE))
    if any(r.job_name == resume_job.name for r in active):
        return SkipReason("resume_job is running")
    busy = {r.tags.get("bench/run_id") for r in active}
    todo = sorted(r["run_id"] for r in stale if r["run_id"] not in busy)
    if not todo:
        return SkipReason("the pending runs' stages are running")
    return RunRequest(
        run_key=f"resume-{now:%Y%m%dT%H%M}-{len(todo)}", tags={"bench/resume": ",".join(todo)[:200]}
    )
