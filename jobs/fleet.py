"""The fleet job: measuring steps on named host classes through Celery queues (docs/scaling.md).

``fleet_job`` has one op per host class of the fleet file (``bench_pipeline.fleet``), tagged with
the class's queue (``dagster-celery/queue``); each measures one run — the sizes placed on that
class, every tool interleaved — on whichever host of the class takes it, and delivers the run to
the landing area. A launch selects the ops of the classes it uses (``op_selection``). Ingestion
and analysis stay central: ``ingest_job`` and ``report_job`` after it (``bench-pipeline fleet run``,
or the ``measure_followup`` sensor).

Its executor is dagster-celery's, with a watchdog the stock loop lacks: a step nobody takes from
its queue, or whose host stops answering pings, or that runs past its limit, fails with the reason
(``bench_pipeline.fleet.StepWatch``) instead of leaving the run waiting forever.
"""

import os
import sys
import time
import warnings
from typing import Any

from dagster import (
    Config,
    DagsterEvent,
    DagsterRunStatus,
    DefaultSensorStatus,
    Field,
    JobDefinition,
    OpDefinition,
    OpExecutionContext,
    RunsFilter,
    RunStatusSensorContext,
    SensorDefinition,
    SkipReason,
    executor,
    job,
    multiple_process_executor_requirements,
    op,
    run_status_sensor,
)
from dagster import (
    RunRequest as DagsterRunRequest,
)
from dagster._core.events import EngineEventData
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.execution.plan.objects import StepFailureData
from dagster._serdes import deserialize_value
from dagster._utils.error import SerializableErrorInfo, serializable_error_info_from_exc_info
from dagster_celery.executor import CELERY_CONFIG, CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tags import DAGSTER_CELERY_QUEUE_TAG

from assets.partitions import suite_tool_key
from bench_pipeline.builds import builds_allowed
from bench_pipeline.errors import FleetError
from bench_pipeline.execution.suite_run import RunRequest
from bench_pipeline.fleet import Fleet, StepWatch, Timeouts, load_fleet, measure_on_host, op_name
from bench_pipeline.pipeline import measurable_suite
from bench_pipeline.progress import tee
from jobs.stages import ingest_job

BROKER_ENV = "BENCH_PIPELINE_BROKER"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
HOST_CLASS_TAG = "bench/host_class"
#: Celery settings shared by the orchestrator and every worker (``bench-pipeline fleet worker``)
CELERY_SETTINGS: dict[str, Any] = {
    "task_track_started": True,  # STARTED carries the worker's name: the watchdog pings it
    "worker_prefetch_multiplier": 1,  # a host takes one step at a time, never reserves the next
    "task_acks_late": False,  # a killed host's step is not redelivered behind our back: the watchdog decides
    "broker_connection_retry_on_startup": True,
    "result_expires": 86400,
}


def broker_url() -> str:
    return os.environ.get(BROKER_ENV) or DEFAULT_BROKER


# ------------------------------------------------------------------------------------------- ops
class FleetMeasureConfig(Config):
    suite: str
    # the bench run's id: a retried or re-executed step measures the same run. Empty (a launch from
    # the launchpad): derived from the Dagster run's root run, so a re-execution keeps it too
    run_id: str = ""
    sizes: list[str]
    tools: list[str] = []  # empty: every tool of the suite
    quick: bool = False
    backend: str = "local"  # the host is the sandbox (its container or machine); docker if it has an engine
    trigger: str = "fleet"
    seed: int = -1
    build: bool = True


def _measure_op(host_class: str, queue: str) -> OpDefinition:
    @op(
        name=op_name(host_class),
        tags={DAGSTER_CELERY_QUEUE_TAG: queue, HOST_CLASS_TAG: host_class},
        description=f"Measures one run (its sizes, every tool interleaved) on a host of class {host_class} "
        f"(queue {queue}) and delivers it to the landing area.",
    )
    def measure(context: OpExecutionContext, config: FleetMeasureConfig) -> None:
        request = RunRequest(
            suite=measurable_suite(config.suite, config.tools),
            tools=config.tools,
            sizes=config.sizes,
            quick=config.quick,
            backend=config.backend,
            trigger=config.trigger,
            run_id=config.run_id
            or fleet_run_id(config.suite, host_class, context.run.root_run_id or context.run_id),
            seed=None if config.seed < 0 else config.seed,
            allow_build=builds_allowed(config.build),
        )
        done = measure_on_host(request, host_class, progress=tee(context.log.info))
        context.log.info(
            f"run {done.run_id}: host {done.host['host']} ({done.host['host_class']}), {done.samples} samples, "
            + ("delivered" if done.delivered else "delivered earlier")
        )

    return measure


# ------------------------------------------------------------------------------------- executor
FLEET_EXECUTOR_CONFIG = {
    **{k: v for k, v in CELERY_CONFIG.items() if k not in ("broker", "backend")},
    "broker": Field(str, is_required=False, description=f"Celery broker URL (default ${BROKER_ENV})"),
    "backend": Field(str, is_required=False, description="result backend (default: the broker)"),
}


class FleetCeleryExecutor(CeleryExecutor):
    """dagster-celery's executor with a watchdog per step (``StepWatch``)."""

    def __init__(self, timeouts: Timeouts, host_classes: dict[str, str], **kw: Any) -> None:
        super().__init__(**kw)
        self.timeouts = timeouts
        self.host_classes = host_classes  # queue -> host class

    def execute(self, plan_context, execution_plan):  # type: ignore[no-untyped-def]
        return _watched_loop(self, plan_context, execution_plan)


def fleet_executor_for(fleet: Fleet):  # type: ignore[no-untyped-def]
    @executor(
        name="fleet_celery",
        config_schema=FLEET_EXECUTOR_CONFIG,
        requirements=multiple_process_executor_requirements(),
    )
    def fleet_celery(init_context):  # type: ignore[no-untyped-def]
        from dagster._core.execution.retries import RetryMode

        cfg = init_context.executor_config
        broker = cfg.get("broker") or broker_url()
        return FleetCeleryExecutor(
            timeouts=fleet.timeouts,
            host_classes={c.queue: name for name, c in fleet.host_classes.items()},
            broker=broker,
            backend=cfg.get("backend") or broker,
            include=cfg.get("include"),
            config_source={**CELERY_SETTINGS, **(cfg.get("config_source") or {})},
            retries=RetryMode.from_config(cfg["retries"]),
        )

    return fleet_celery


def _failure(plan_context, step, reason: str) -> DagsterEvent:  # type: ignore[no-untyped-def]
    error = SerializableErrorInfo(message=reason, stack=[], cls_name=FleetError.__name__)
    return DagsterEvent.step_failure_event(
        step_context=plan_context.for_step(step),
        step_failure_data=StepFailureData(error=error, user_failure_data=None),
        message=f'Step "{step.key}" failed: {reason}',
    )


def _ping(app, worker: str | None) -> bool:  # type: ignore[no-untyped-def]
    if not worker:
        return True
    try:
        return bool(app.control.ping(destination=[worker], timeout=1.0))
    except Exception:
        return False


def _submit(app, plan_context, step, queue: str, known_state, timeouts: Timeouts):  # type: ignore[no-untyped-def]
    """dagster_celery.executor._submit_task, with an expiry: a step no host took from its queue
    within ``queue_s`` is discarded by the worker that finally reads it (the watchdog has failed it
    by then), so a host that comes back does not run a stale step."""
    from dagster._grpc.types import ExecuteStepArgs
    from dagster._serdes import pack_value
    from dagster_celery.tasks import create_task

    args = ExecuteStepArgs(
        job_origin=plan_context.reconstructable_job.get_python_origin(),
        run_id=plan_context.dagster_run.run_id,
        step_keys_to_execute=[step.key],
        instance_ref=plan_context.instance.get_ref(),
        retry_mode=plan_context.executor.retries.for_inner_plan(),
        known_state=known_state,
        print_serialized_events=True,
    )
    with warnings.catch_warnings():  # dagster-celery registers its task again per step
        warnings.filterwarnings("ignore", message="Task name 'execute_plan' is already registered")
        signature = create_task(app).si(
            execute_step_args_packed=pack_value(args),
            executable_dict=plan_context.reconstructable_job.to_dict(),
        )
    return signature.apply_async(
        priority=app.conf.task_default_priority,
        queue=queue,
        routing_key=f"{queue}.execute_plan",
        expires=timeouts.queue_s,
    )


def _watched_loop(executor_: FleetCeleryExecutor, plan_context, execution_plan):  # type: ignore[no-untyped-def]
    """dagster_celery.core_execution_loop.core_celery_execution_loop, plus the watchdog: each tick
    asks every submitted step's watch whether it is lost; a lost step is revoked and fails."""
    app = make_app(executor_.app_args())
    default_queue = app.conf.task_default_queue
    results: dict[str, Any] = {}
    watches: dict[str, StepWatch] = {}
    errors: dict[str, SerializableErrorInfo] = {}
    with (
        InstanceConcurrencyContext(plan_context.instance, plan_context.dagster_run) as concurrency,
        execution_plan.start(
            retry_mode=executor_.retries, instance_concurrency_context=concurrency
        ) as active,
    ):
        stopping = False
        while (not active.is_complete and not stopping) or results:
            if active.check_for_interrupts():
                yield DagsterEvent.engine_event(
                    plan_context,
                    "fleet executor: interrupted, revoking the steps sent to hosts",
                    EngineEventData.interrupted(list(results)),
                )
                stopping = True
                active.mark_interrupted()
                for result in results.values():
                    result.revoke()
            now = time.monotonic()
            for key in list(results):
                result, watch = results[key], watches[key]
                step = active.get_step_by_key(key)
                if result.ready():
                    try:
                        events = [deserialize_value(e, DagsterEvent) for e in result.get()]
                    except Exception:
                        events = []
                        errors[key] = serializable_error_info_from_exc_info(sys.exc_info())
                    for event in events:
                        yield event
                        active.handle_event(event)
                    del results[key]
                    active.verify_complete(plan_context, key)
                    continue
                state = result.state
                info = result.info if state == "STARTED" and isinstance(result.info, dict) else {}
                answered = _ping(app, watch.worker) if watch.due_ping(now) else None
                reason = watch.observe(
                    now, started=state == "STARTED", worker=info.get("hostname"), answered=answered
                )
                if reason is None:
                    continue
                result.revoke()
                yield DagsterEvent.engine_event(
                    plan_context.for_step(step), f"fleet executor: {reason}", EngineEventData()
                )
                failure = _failure(plan_context, step, reason)
                yield failure
                active.handle_event(failure)
                del results[key]
                active.verify_complete(plan_context, key)
            yield from active.plan_events_iterator(plan_context)
            if stopping or errors:
                time.sleep(0.5) if results else None
                continue
            for step in active.get_steps_to_execute():
                queue = step.tags.get(DAGSTER_CELERY_QUEUE_TAG, default_queue)
                yield DagsterEvent.engine_event(
                    plan_context.for_step(step),
                    f'Submitting step "{step.key}" to queue "{queue}".',
                    EngineEventData(marker_start="celery_queue_wait"),
                )
                results[step.key] = _submit(
                    app, plan_context, step, queue, active.get_known_state(), executor_.timeouts
                )
                watches[step.key] = StepWatch(
                    step.key, executor_.host_classes.get(queue, queue), queue, executor_.timeouts
                )
            time.sleep(0.5)
        if errors:
            raise FleetError(
                "steps failed in their hosts' workers: "
                + "; ".join(f"{k}: {e.message.strip()}" for k, e in errors.items())
            )


# ------------------------------------------------------------------------------------------ job
FLEET_JOB = "fleet_job"


def build_fleet_job(fleet: Fleet | None = None) -> JobDefinition:
    """The fleet job of the fleet file: one measuring op per host class, on the fleet executor."""
    fleet = fleet or load_fleet()
    measures = [_measure_op(name, c.queue) for name, c in sorted(fleet.host_classes.items())]

    @job(
        name=FLEET_JOB,
        executor_def=fleet_executor_for(fleet),
        description="Measure a suite's sizes on fleet hosts in parallel, one run per host class "
        "(launch with the ops of the classes used); ingestion and reports follow centrally.",
        tags={"bench/stage": "measure"},
    )
    def fleet_job() -> None:
        for measure in measures:
            measure()

    return fleet_job


# --------------------------------------------------------------------------------------- follow-up
def fleet_run_id(suite: str, host_class: str, root_run_id: str) -> str:
    """The bench run id of a fleet step launched without one (from the launchpad)."""
    return f"fleet-{root_run_id[:8]}-{suite}-{host_class}"


def bench_runs_of(run: Any) -> list[str]:
    """The bench runs a fleet Dagster run measured: from its ``bench/fleet_runs`` tag (the CLI), or
    its ops' config (the launchpad)."""
    tagged = [i.partition("=")[2] for i in run.tags.get("bench/fleet_runs", "").split(",") if "=" in i]
    if tagged:
        return tagged
    ops: Any = (run.run_config or {}).get("ops") or {}
    root = run.root_run_id or run.run_id
    out = []
    for name, entry in ops.items():
        config = (entry or {}).get("config") or {}
        if name.startswith("measure_on_") and config.get("suite"):
            host_class = next((h for h in load_fleet().host_classes if op_name(h) == name), None)
            if host_class:
                out.append(config.get("run_id") or fleet_run_id(config["suite"], host_class, root))
    return out


def build_fleet_followup(fleet_job: JobDefinition) -> SensorDefinition:
    """After a fleet run succeeds — launched from the UI, or re-executed there from its failure —
    start the central stages of each of its bench runs: ``ingest_job`` per tool (its ``samples``
    asset loads the delivered run, the run's own row first), after which ``measure_followup``
    starts ``report_job`` for the run. Runs the CLI already completed (``bench-pipeline fleet``)
    have their stage runs, and are skipped."""

    @run_status_sensor(
        run_status=DagsterRunStatus.SUCCESS,
        name="fleet_followup",
        monitored_jobs=[fleet_job],
        request_job=ingest_job,
        default_status=DefaultSensorStatus.RUNNING,
        description="Ingests and reports centrally the runs a finished fleet_job delivered.",
    )
    def fleet_followup(context: RunStatusSensorContext):  # type: ignore[no-untyped-def]
        tags = context.dagster_run.tags
        ops: Any = (context.dagster_run.run_config or {}).get("ops") or {}
        configs = [(e or {}).get("config") or {} for e in ops.values()]
        suite = tags.get("bench/suite") or next((c["suite"] for c in configs if c.get("suite")), None)
        tools = [t for t in tags.get("bench/tools", "").split(",") if t] or next(
            (list(c["tools"]) for c in configs if c.get("tools")), []
        )
        if suite and not tools:  # every tool of the suite
            tools = list(measurable_suite(suite).tools)
        bench_runs = bench_runs_of(context.dagster_run)
        if not suite or not tools or not bench_runs:
            return SkipReason(f"fleet run {context.dagster_run.run_id} carries no bench runs")
        requests = []
        for bench_run in bench_runs:
            if context.instance.get_runs(RunsFilter(tags={"bench/run_id": bench_run}), limit=1):
                continue  # its central stages were started already
            requests += [
                DagsterRunRequest(
                    partition_key=suite_tool_key(suite, tool),
                    run_key=f"ingest-{bench_run}-{tool}",
                    tags={
                        "bench/run_id": bench_run,
                        "bench/suite": suite,
                        "bench/tools": ",".join(tools),
                        "bench/stage": "ingest",
                        "bench/trigger": tags.get("bench/trigger", "fleet"),
                    },
                )
                for tool in tools
            ]
        return requests or SkipReason("every bench run of this fleet run was continued already")

    return fleet_followup
