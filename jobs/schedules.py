"""Schedules (SPEC §8): nightly suite runs and the daily tier moves.

Built from the operations settings (``bench_pipeline.ops.settings``) when Dagster loads the code
location (``build_schedules``), never at import: cron strings, time zone and whether a schedule
starts switched on are read then; the suites to run at every tick.
"""

from datetime import UTC, datetime

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
)

from assets.partitions import sync_partitions
from assets.tiering import cold_tier, warm_tier
from bench_pipeline.ops.settings import OperationsSettings, load_settings, settings_at_load
from bench_pipeline.pipeline import catalogue
from jobs.stages import measure_job

tier_job = define_asset_job(
    "tier_job",
    selection=[warm_tier, cold_tier],
    description="Move hot samples to the warm tier and old warm rows to the cold archives.",
)


def measure_run_config(
    *,
    trigger: str,
    git_tag: str = "",
    git_commit: str = "",
    quick: bool = False,
    sizes: list[str] | None = None,
    backend: str = "",
    tools: list[str] | None = None,
) -> dict:
    """Run config of ``measure_job`` (see ``MeasureConfig`` in assets/measurements.py)."""
    config: dict = {"trigger": trigger, "git_tag": git_tag, "git_commit": git_commit, "quick": quick}
    if tools:
        config["tools"] = list(tools)
    if sizes:
        config["sizes"] = list(sizes)
    if backend:
        config["backend"] = backend
    return {"ops": {"measurements": {"config": config}}}


def known_suites(wanted: list[str]) -> tuple[list[str], list[str]]:
    """(suites to run, unknown names): ``wanted`` empty means every suite."""
    everything = sorted(catalogue())
    if not wanted:
        return everything, []
    return [s for s in wanted if s in everything], [s for s in wanted if s not in everything]


def _status(enabled: bool) -> DefaultScheduleStatus:
    return DefaultScheduleStatus.RUNNING if enabled else DefaultScheduleStatus.STOPPED


def _tick_time(context: ScheduleEvaluationContext) -> datetime:
    return context.scheduled_execution_time or datetime.now(UTC)


def nightly_schedule(settings: OperationsSettings) -> ScheduleDefinition:
    nightly_at_load = settings.schedules.nightly

    @schedule(
        name="nightly_suites",
        cron_schedule=nightly_at_load.cron,
        execution_timezone=settings.schedules.timezone,
        job=measure_job,
        default_status=_status(nightly_at_load.enabled),
        description="One measure_job run per suite each night (measure_followup ingests and reports).",
    )
    def nightly_suites(context: ScheduleEvaluationContext):
        nightly = load_settings().schedules.nightly
        suites, unknown = known_suites(nightly.suites)
        if unknown:
            context.log.warning(f"nightly: unknown suites skipped: {', '.join(unknown)}")
        if not suites:
            return SkipReason("no suites to run")
        sync_partitions(context.instance)
        day = _tick_time(context).strftime("%Y-%m-%d")
        return [
            RunRequest(
                run_key=f"nightly-{suite}-{day}",
                partition_key=suite,
                run_config=measure_run_config(
                    trigger="schedule", quick=nightly.quick, sizes=nightly.sizes, backend=nightly.backend
                ),
                tags={"bench/trigger": "schedule", "bench/nightly": day},
            )
            for suite in suites
        ]

    return nightly_suites


def tiering_schedule(settings: OperationsSettings) -> ScheduleDefinition:
    @schedule(
        name="daily_tiering",
        cron_schedule=settings.schedules.tiering.cron,
        execution_timezone=settings.schedules.timezone,
        job=tier_job,
        default_status=_status(settings.schedules.tiering.enabled),
        description="Daily hot → warm → cold moves, as of the tick's date.",
    )
    def daily_tiering(context: ScheduleEvaluationContext):
        day = _tick_time(context).date().isoformat()
        config = {"config": {"as_of": day}}
        return RunRequest(
            run_key=f"tier-{day}",
            run_config={"ops": {"warm_tier": config, "cold_tier": config}},
            tags={"bench/trigger": "schedule"},
        )

    return daily_tiering


def build_schedules(settings: OperationsSettings | None = None) -> list[ScheduleDefinition]:
    settings = settings or settings_at_load()
    return [nightly_schedule(settings), tiering_schedule(settings)]


def __getattr__(name: str):  # jobs.schedules.nightly_suites etc.: built from the settings of now
    factories = {"nightly_suites": nightly_schedule, "daily_tiering": tiering_schedule}
    if name in factories:
        return factories[name](settings_at_load())
    raise AttributeError(name)
