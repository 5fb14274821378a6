"""Sensors (SPEC §8), each a thin call into the core: new git tags in watched repositories
(``ops.watch``), new files in the drop folder (``ops.drop``), failed runs (``ops.alerts``), the
follow-up that continues a measured run through the pipeline's stages (``pipeline.follow_up``),
and the partitions sensor that keeps the dynamic partitions in step with the suites.

Built from the operations settings when Dagster loads the code location (``build_sensors``):
intervals and whether a sensor starts switched on are read then, everything else at every tick.
"""

import json

from dagster import (
    AddDynamicPartitionsRequest,
    DagsterEventType,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    RunsFilter,
    RunStatusSensorContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    run_status_sensor,
    sensor,
)

from assets.partitions import (
    SUITES,
    TOOLS,
    missing_partitions,
    suite_tool_key,
    sync_partitions,
)
from bench_pipeline.errors import BenchError
from bench_pipeline.ops.alerts import record_alert
from bench_pipeline.ops.drop import drop_folder, new_drop_files
from bench_pipeline.ops.settings import OperationsSettings, load_settings, settings_at_load
from bench_pipeline.ops.watch import TagRun, new_tags, plan_tag_run, sanitize_key
from bench_pipeline.pipeline import MEASURE, STAGE_BY_JOB, STAGES, catalogue, follow_up, measurable_suite
from jobs.ingest_files import ingest_files_job
from jobs.resume import resume_job, resume_sensor
from jobs.schedules import measure_run_config
from jobs.stages import JOB_BY_NAME, measure_job


def _status(enabled: bool) -> DefaultSensorStatus:
    return DefaultSensorStatus.RUNNING if enabled else DefaultSensorStatus.STOPPED


# ---------------------------------------------------------------------------------------- git tags
def tag_sensor(settings: OperationsSettings) -> SensorDefinition:
    @sensor(
        name="git_tag_sensor",
        job=measure_job,
        minimum_interval_seconds=settings.watch.interval_seconds,
        default_status=_status(settings.watch.enabled),
        description="Starts measure_job for each suite when a watched repository gets a new tag; a "
        "repository that is a suite tool's source builds the tag and measures it against the previous tag's build.",
    )
    def git_tag_sensor(context: SensorEvaluationContext):
        current = load_settings()
        if not current.watch.repositories:
            return SkipReason("no repositories watched (watch.repositories / BENCH_PIPELINE_WATCH_REPOS)")
        cursor = json.loads(context.cursor) if context.cursor else {}
        suites = catalogue()
        found, new_cursor, problems = new_tags(cursor, sorted(suites), current, context.log)
        for problem in problems:
            context.log.warning(problem)
        context.update_cursor(json.dumps(new_cursor, sort_keys=True))
        if not found:
            return SkipReason("; ".join(problems) if problems else "no new tags")
        requests = []
        for new in found:
            for suite in new.suites:
                try:  # the tagged revision against the previous tag's build, when the repository names a tool
                    plan = plan_tag_run(new, measurable_suite(suite)) if new.tool else TagRun(suite, ())
                except BenchError as exc:
                    context.log.warning(exc.message)
                    continue
                for note in plan.notes:
                    context.log.info(f"{new.tag} ({suite}): {note}")
                suites[suite] = [*suites[suite], *plan.tools]  # revisions become tool partitions
                requests.append(
                    RunRequest(
                        run_key=f"{new.run_key}-{suite}",
                        partition_key=suite,
                        run_config=measure_run_config(
                            trigger="tag", git_tag=new.tag, git_commit=new.commit, tools=list(plan.tools)
                        ),
                        tags={
                            "bench/trigger": "tag",
                            "bench/git_tag": new.tag,
                            "bench/commit": new.commit,
                            "bench/repository": new.repository,
                            **({"bench/tools": ",".join(plan.tools)} if plan.tools else {}),
                            **({"bench/previous_tag": plan.previous} if plan.previous else {}),
                        },
                    )
                )
        sync_partitions(context.instance, suites)
        return requests or SkipReason("; ".join(problems) or "new tags, but no run to start")

    return git_tag_sensor


# ---------------------------------------------------------------------------------------- drop folder
def drop_sensor(settings: OperationsSettings) -> SensorDefinition:
    @sensor(
        name="drop_folder_sensor",
        job=ingest_files_job,
        minimum_interval_seconds=settings.drop.interval_seconds,
        default_status=_status(settings.drop.enabled),
        description="Starts ingest_files_job for each new (or changed) file in the drop folder.",
    )
    def drop_folder_sensor(context: SensorEvaluationContext):
        drop = load_settings().drop
        folder = drop_folder(drop)
        if not folder.is_dir():
            return SkipReason(f"no drop folder at {folder}")
        seen = json.loads(context.cursor) if context.cursor else {}
        fresh, cursor = new_drop_files(folder, seen, drop.settle_seconds)
        context.update_cursor(json.dumps(cursor, sort_keys=True))
        if not fresh:
            return SkipReason("no new files")
        requests = []
        for path in fresh:
            mtime_ns, size = cursor[path.name]
            config = {"paths": [str(path)], "format": drop.format, "suite": drop.suite, "tool": drop.tool}
            requests.append(
                RunRequest(
                    run_key=f"drop-{sanitize_key(path.name)}-{mtime_ns}-{size}",
                    run_config={"ops": {"ingest_files": {"config": config}}},
                    tags={"bench/trigger": "drop", "bench/file": path.name},
                )
            )
        return requests

    return drop_folder_sensor


# ---------------------------------------------------------------------------------------- alerts
def failure_sensor(settings: OperationsSettings) -> SensorDefinition:
    @run_failure_sensor(
        name="run_failure_alert",
        default_status=_status(settings.alerts.enabled),
        description="Records an alert (DuckDB table alerts) for every failed run; POSTs it to the webhook if set.",
    )
    def run_failure_alert(context: RunFailureSensorContext):
        run = context.dagster_run
        tags = run.tags
        partition = tags.get("dagster/partition")
        suite = tags.get("dagster/partition/suite") or tags.get("bench/suite")
        if suite is None and partition and "|" not in partition:
            suite = partition
        steps = [e.step_key for e in context.get_step_failure_events() if e.step_key]
        alert = record_alert(
            kind="run_failure",
            message=(context.failure_event.message or "run failed")[:2000],
            dagster_run_id=run.run_id,
            job_name=run.job_name,
            partition_key=partition,
            suite=suite,
            details={
                "failed_steps": steps,
                "tags": {k: v for k, v in tags.items() if k.startswith("bench/")},
            },
        )
        webhook = f"; webhook {alert['webhook_status']}" if alert["webhook_status"] else ""
        context.log.error(
            f"alert {alert['alert_id']}: {run.job_name} run {run.run_id} failed"
            f"{f' (partition {partition})' if partition else ''}{webhook}"
        )

    return run_failure_alert


# ---------------------------------------------------------------------------------------- follow-up
def _measured(instance, dagster_run_id: str) -> dict:
    """The ``measurements`` materialization's metadata (bench run id, tools) of a measure_job run."""
    for record in instance.get_records_for_run(
        dagster_run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
    ).records:
        mat = record.event_log_entry.asset_materialization
        if mat is not None and "run_id" in mat.metadata:
            return {k: v.value for k, v in mat.metadata.items()}
    return {}


FOLLOWED = [JOB_BY_NAME[s.job] for s in STAGES[STAGES.index(MEASURE) :]]


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    name="measure_followup",
    monitored_jobs=FOLLOWED[:-1],
    request_jobs=FOLLOWED[1:],
    default_status=DefaultSensorStatus.RUNNING,
    description="Continues a measured run through the pipeline's stages (bench_pipeline.pipeline.STAGES): "
    "ingest_job for each tool, then report_job — unless its next stage was started already.",
)
def measure_followup(context: RunStatusSensorContext):
    run = context.dagster_run
    tags = run.tags
    finished = STAGE_BY_JOB.get(run.job_name)
    if finished is None:
        return SkipReason(f"{run.job_name} is not a stage")
    if finished is MEASURE:
        meta = _measured(context.instance, run.run_id)
        bench_run = meta.get("run_id") or tags.get("bench/run_id")
        suite = tags.get("dagster/partition")
        run_config: dict = run.run_config if isinstance(run.run_config, dict) else {}
        configured = (run_config.get("ops", {}).get("measurements", {}) or {}).get("config") or {}
        tools = [str(t) for t in meta.get("tools") or configured.get("tools") or []]
    else:
        bench_run, suite = tags.get("bench/run_id"), tags.get("bench/suite")
        tools = [t for t in tags.get("bench/tools", "").split(",") if t]
    if not bench_run or not suite or not tools:
        return SkipReason(f"run {run.run_id} carries no bench run to continue")
    started: dict[str, int] = {}
    succeeded: dict[str, int] = {}
    for other in context.instance.get_runs(RunsFilter(tags={"bench/run_id": str(bench_run)})):
        stage = STAGE_BY_JOB.get(other.job_name)
        if stage is not None:
            started[stage.name] = started.get(stage.name, 0) + 1
            if other.status == DagsterRunStatus.SUCCESS:
                succeeded[stage.name] = succeeded.get(stage.name, 0) + 1
    requests = follow_up(
        finished, suite=suite, tools=tools, bench_run=str(bench_run), started=started, succeeded=succeeded
    )
    if not requests:
        return SkipReason(f"nothing to start after {run.job_name} of bench run {bench_run}")
    sync_partitions(context.instance, {suite: tools})  # a revision measured from the launchpad (jj@0.44.0)
    passed = {k: v for k, v in tags.items() if k in ("bench/trigger", "bench/git_tag", "bench/commit")}
    return [
        RunRequest(
            job_name=r.stage.job,
            partition_key=suite_tool_key(suite, r.tool) if r.tool else suite,
            run_key=r.run_key,
            run_config={"ops": {"report": {"config": {"run": r.bench_run}}}}
            if r.stage.name == "report"
            else {},
            tags={
                **passed,
                "bench/run_id": r.bench_run,
                "bench/suite": suite,
                "bench/tools": ",".join(tools),
                "bench/stage": r.stage.name,
            },
        )
        for r in requests
    ]


# ---------------------------------------------------------------------------------------- partitions
@sensor(
    name="partitions_sensor",
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Adds new suites (suite files, ingested suites) and tools to the dynamic partitions.",
)
def partitions_sensor(context: SensorEvaluationContext):
    suites, tools = missing_partitions(context.instance)
    if not suites and not tools:
        return SkipReason("partitions up to date")
    return SensorResult(
        dynamic_partitions_requests=[
            AddDynamicPartitionsRequest(SUITES, suites),
            AddDynamicPartitionsRequest(TOOLS, tools),
        ]
    )


def build_sensors(settings: OperationsSettings | None = None) -> list[SensorDefinition]:
    settings = settings or settings_at_load()
    return [
        tag_sensor(settings),
        drop_sensor(settings),
        failure_sensor(settings),
        measure_followup,
        partitions_sensor,
        resume_sensor,
    ]


JOBS = [ingest_files_job, resume_job]


def __getattr__(name: str):  # jobs.sensors.git_tag_sensor etc.: built from the settings of now
    factories = {
        "git_tag_sensor": tag_sensor,
        "drop_folder_sensor": drop_sensor,
        "run_failure_alert": failure_sensor,
    }
    if name in factories:
        return factories[name](settings_at_load())
    raise AttributeError(name)
