"""Schedules: nightly suite runs and the daily tier moves (SPEC §8), and the operations settings
that the schedules and sensors read (docs/schedules-and-sensors.md).

Settings come from ``$BENCH_PIPELINE_HOME/operations.yaml`` (or ``$BENCH_PIPELINE_OPERATIONS``),
overridden by environment variables. Cron strings, time zone, sensor intervals and whether a
schedule/sensor starts switched on are read when the code location loads; everything else (suites,
watched repositories, drop folder, webhook) at every tick.
"""

import json
import logging
import os
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
)
from dagster._utils.schedules import is_valid_cron_string
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assets.partitions import SUITE_NAMES
from assets.tiering import cold_tier, warm_tier
from bench_pipeline.errors import BenchError
from bench_pipeline.ops.tiering import operations_file, read_config_section
from jobs.stages import measure_job

log = logging.getLogger(__name__)


class OperationsConfigError(BenchError):
    """The operations settings (operations.yaml / environment) are invalid."""


# ---------------------------------------------------------------------------------------- settings
class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NightlySettings(_Section):
    cron: str = "0 2 * * *"
    suites: list[str] = Field(default_factory=list, description="empty: every suite")
    quick: bool = False
    sizes: list[str] = Field(default_factory=list, description="empty: the suite's sizes")
    backend: str = Field("", description="empty: the backend resource's choice (auto)")
    enabled: bool = True


class TieringScheduleSettings(_Section):
    cron: str = "30 4 * * *"
    enabled: bool = True


class ScheduleSettings(_Section):
    timezone: str = "UTC"
    nightly: NightlySettings = Field(default_factory=NightlySettings)
    tiering: TieringScheduleSettings = Field(default_factory=TieringScheduleSettings)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name such as Europe/Berlin)") from None
        return v


class Repository(_Section):
    """A watched repository: a local path or a remote URL that ``git ls-remote`` understands."""

    url: str
    suites: list[str] = Field(default_factory=list, description="empty: the watch section's suites")
    pattern: str = Field("", description="fnmatch pattern of tag names; empty: the watch section's")

    @field_validator("url")
    @classmethod
    def _not_an_option(cls, v: str) -> str:
        if not v.strip() or v.startswith("-"):
            raise ValueError("must be a path or URL (not empty, not starting with '-')")
        return v.strip()


class WatchSettings(_Section):
    repositories: list[Repository] = Field(default_factory=list)
    suites: list[str] = Field(default_factory=list, description="empty: every suite")
    pattern: str = "*"
    interval_seconds: int = Field(60, ge=5)
    timeout_seconds: float = Field(60, gt=0)
    enabled: bool = True

    @field_validator("repositories", mode="before")
    @classmethod
    def _strings_are_urls(cls, v: Any) -> Any:
        return [{"url": r} if isinstance(r, str) else r for r in v or []]


class DropSettings(_Section):
    folder: str = Field("", description="empty: $BENCH_PIPELINE_HOME/drop")
    format: str = "auto"
    suite: str = ""
    tool: str = ""
    settle_seconds: float = Field(2.0, ge=0, description="a file must be this old (unchanged) to be taken")
    interval_seconds: int = Field(30, ge=5)
    enabled: bool = True


class AlertSettings(_Section):
    webhook_url: str = Field("", description="POST a JSON alert here (never logged)")
    timeout_seconds: float = Field(10, gt=0)
    enabled: bool = True


class OperationsSettings(_Section):
    schedules: ScheduleSettings = Field(default_factory=ScheduleSettings)
    watch: WatchSettings = Field(default_factory=WatchSettings)
    drop: DropSettings = Field(default_factory=DropSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)


def _env_list(value: str) -> list[str]:
    """A JSON list, or items separated by commas / newlines."""
    value = value.strip()
    if value.startswith("["):
        return [str(v) for v in json.loads(value)]
    return [v.strip() for v in value.replace("\n", ",").split(",") if v.strip()]


#: environment variable -> (section path, parser)
ENVIRONMENT: dict[str, tuple[tuple[str, ...], Any]] = {
    "BENCH_PIPELINE_TIMEZONE": (("schedules", "timezone"), str),
    "BENCH_PIPELINE_NIGHTLY_CRON": (("schedules", "nightly", "cron"), str),
    "BENCH_PIPELINE_NIGHTLY_SUITES": (("schedules", "nightly", "suites"), _env_list),
    "BENCH_PIPELINE_TIER_CRON": (("schedules", "tiering", "cron"), str),
    "BENCH_PIPELINE_WATCH_REPOS": (("watch", "repositories"), _env_list),
    "BENCH_PIPELINE_WATCH_SUITES": (("watch", "suites"), _env_list),
    "BENCH_PIPELINE_TAG_PATTERN": (("watch", "pattern"), str),
    "BENCH_PIPELINE_TAG_INTERVAL": (("watch", "interval_seconds"), int),
    "BENCH_PIPELINE_DROP_DIR": (("drop", "folder"), str),
    "BENCH_PIPELINE_DROP_INTERVAL": (("drop", "interval_seconds"), int),
    "BENCH_PIPELINE_ALERT_WEBHOOK": (("alerts", "webhook_url"), str),
}


def load_settings() -> OperationsSettings:
    """The operations file's sections, overridden by the environment; errors name the file and field."""
    data: dict[str, Any] = {name: dict(read_config_section(name)) for name in OperationsSettings.model_fields}
    for var, (where, parse) in ENVIRONMENT.items():
        raw = os.environ.get(var)
        if raw is None or raw == "":
            continue
        node = data
        for key in where[:-1]:
            node = node.setdefault(key, {})
        try:
            node[where[-1]] = parse(raw)
        except ValueError as exc:
            raise OperationsConfigError(
                f"{var}: {exc}", where=var, fix="see docs/schedules-and-sensors.md"
            ) from None
    try:
        settings = OperationsSettings(**data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise OperationsConfigError(
            f"invalid operations settings: {problems}",
            where=f"{operations_file()} or BENCH_PIPELINE_* environment variables",
            fix="see docs/schedules-and-sensors.md",
        ) from None
    for name, cron in (
        ("nightly", settings.schedules.nightly.cron),
        ("tiering", settings.schedules.tiering.cron),
    ):
        if not is_valid_cron_string(cron):
            raise OperationsConfigError(
                f"schedules.{name}.cron {cron!r} is not a cron expression",
                fix="e.g. '0 2 * * *' (02:00 daily)",
            )
    return settings


def settings_at_load() -> OperationsSettings:
    """Settings for definitions: on an error, the defaults (logged), so the code location still loads."""
    try:
        return load_settings()
    except BenchError as exc:
        log.error("operations settings ignored, using defaults: %s", exc.render())
        return OperationsSettings()


def measure_run_config(
    *,
    trigger: str,
    git_tag: str = "",
    git_commit: str = "",
    quick: bool = False,
    sizes: list[str] | None = None,
    backend: str = "",
) -> dict:
    """Run config of ``measure_job`` (see ``MeasureConfig`` in assets/measurements.py)."""
    config = {"trigger": trigger, "git_tag": git_tag, "git_commit": git_commit, "quick": quick}
    if sizes:
        config["sizes"] = list(sizes)
    if backend:
        config["backend"] = backend
    return {"ops": {"measurements": {"config": config}}}


def known_suites(wanted: list[str]) -> tuple[list[str], list[str]]:
    """(suites to run, unknown names): ``wanted`` empty means every suite."""
    everything = [s for s in SUITE_NAMES if s != "none"]
    if not wanted:
        return everything, []
    return [s for s in wanted if s in everything], [s for s in wanted if s not in everything]


def _status(enabled: bool) -> DefaultScheduleStatus:
    return DefaultScheduleStatus.RUNNING if enabled else DefaultScheduleStatus.STOPPED


def _tick_time(context: ScheduleEvaluationContext) -> datetime:
    return context.scheduled_execution_time or datetime.now(UTC)


# ---------------------------------------------------------------------------------------- schedules
AT_LOAD = settings_at_load()

tier_job = define_asset_job(
    "tier_job",
    selection=[warm_tier, cold_tier],
    description="Move hot samples to the warm tier and old warm rows to the cold archives.",
)


@schedule(
    name="nightly_suites",
    cron_schedule=AT_LOAD.schedules.nightly.cron,
    execution_timezone=AT_LOAD.schedules.timezone,
    job=measure_job,
    default_status=_status(AT_LOAD.schedules.nightly.enabled),
    description="One measure_job run per suite each night (the measure_followup sensor ingests and reports).",
)
def nightly_suites(context: ScheduleEvaluationContext):
    nightly = load_settings().schedules.nightly
    suites, unknown = known_suites(nightly.suites)
    if unknown:
        context.log.warning(f"nightly: unknown suites skipped: {', '.join(unknown)}")
    if not suites:
        return SkipReason("no suites to run")
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


@schedule(
    name="daily_tiering",
    cron_schedule=AT_LOAD.schedules.tiering.cron,
    execution_timezone=AT_LOAD.schedules.timezone,
    job=tier_job,
    default_status=_status(AT_LOAD.schedules.tiering.enabled),
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


SCHEDULES = [nightly_suites, daily_tiering]
