"""The operations settings: ``$BENCH_PIPELINE_HOME/operations.yaml`` (or ``$BENCH_PIPELINE_OPERATIONS``),
overridden by ``BENCH_PIPELINE_*`` environment variables (docs/schedules-and-sensors.md).

Sections: ``schedules`` (nightly runs, tier moves), ``watch`` (repositories whose new tags start
runs), ``drop`` (the ingestion drop folder), ``alerts`` (webhook) and ``tiering`` (read by
``bench_pipeline.ops.tiering``). Everything is read when asked, never at import time.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bench_pipeline import paths
from bench_pipeline.errors import BenchError
from bench_pipeline.safe_yaml import MAX_BYTES as MAX_YAML_BYTES
from bench_pipeline.safe_yaml import YamlProblem, load_yaml

log = logging.getLogger(__name__)


class OperationsConfigError(BenchError):
    """The operations settings (operations.yaml / environment) are invalid."""


def operations_file() -> Path:
    """The operations settings file: ``$BENCH_PIPELINE_OPERATIONS`` or ``$BENCH_PIPELINE_HOME/operations.yaml``."""
    explicit = os.environ.get("BENCH_PIPELINE_OPERATIONS")
    return Path(explicit) if explicit else paths.home() / "operations.yaml"


def read_config_section(name: str) -> dict[str, Any]:
    """One top-level section of the operations file (tiering, schedules, watch, drop, alerts); {} if absent."""
    path = operations_file()
    if not path.exists():
        return {}
    try:
        if path.stat().st_size > MAX_YAML_BYTES:
            raise YamlProblem(f"the file is over {MAX_YAML_BYTES:,} bytes", None, "check the path")
        data = load_yaml(path.read_text()).data or {}
    except YamlProblem as exc:
        raise OperationsConfigError(
            exc.message,
            where=f"{path}:{exc.line}" if exc.line else str(path),
            fix=exc.fix or "fix the YAML syntax",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise OperationsConfigError(
            f"cannot read the file: {exc}", where=str(path), fix="check the path"
        ) from None
    if not isinstance(data, dict):
        raise OperationsConfigError(
            "expected a mapping of sections", where=str(path), fix="see docs/schedules-and-sensors.md"
        )
    section = data.get(name) or {}
    if not isinstance(section, dict):
        raise OperationsConfigError(
            f"section {name!r} must be a mapping", where=str(path), fix="see docs/tiering.md"
        )
    return section


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
    tool: str = Field(
        "",
        description="the suite tool this repository is the source of: a new tag is built and measured "
        "interleaved against the previous tag's build (empty: the run measures the installed tools)",
    )
    baseline: str = Field(
        "",
        description="with `tool`: a revision measured in every tag run too (e.g. main; `default`: the "
        "revision the suite's build section names)",
    )

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


_CRON_FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))  # minute hour day month weekday
_CRON_NAMES = {
    3: {
        m: i + 1
        for i, m in enumerate(
            ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        )
    },
    4: {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
}
_CRON_ITEM = re.compile(r"^(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/([0-9]+))?$")


def valid_cron(expression: str) -> bool:
    """True for a five-field cron expression (minute hour day month weekday) with values in range:
    ``*``, ``a``, ``a-b``, each optionally ``/step``, comma-separated; month and weekday names allowed."""
    fields = expression.lower().split()
    if len(fields) != 5:
        return False
    for index, (text, (low, high)) in enumerate(zip(fields, _CRON_FIELDS, strict=True)):
        for item in text.split(","):
            match = _CRON_ITEM.match(item)
            if not match or (match.group(2) is not None and int(match.group(2)) == 0):
                return False
            if match.group(1) == "*":
                continue
            for bound in match.group(1).split("-"):
                value = _CRON_NAMES.get(index, {}).get(bound, int(bound) if bound.isdigit() else None)
                if value is None or not low <= value <= high:
                    return False
    return True


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
        if not valid_cron(cron):
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
