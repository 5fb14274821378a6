"""The fleet: benchmark hosts grouped in host classes, one queue per class (docs/scaling.md).

A *host class* is a set of interchangeable machines (same CPU count, memory, kernel): measuring
steps of a class go to its queue and any host of the class may take them. A run is measured on
one host — every tool of it, interleaved — and records its host and host class; history,
baselines and the regression gate compare a run only with runs of the same host class.

Samples travel from a host to the single DuckDB writer through the landing area on shared
storage: a host writes a whole run (samples, cells, decisions and the run's own row) into a
private staging directory and *delivers* it with one rename into the landing area. A run is
therefore there entirely or not at all; delivering the same run twice (a retried step) leaves
the first delivery, so nothing is duplicated. The central ingestion loads a delivered run in one
transaction (``Store.load_landing(run_id=…)``).

This module is plain Python: the fleet file, placements, the ledger a remote run writes, the
delivery and the watchdog that tells a host that stopped answering (``StepWatch``). The Dagster
job and its Celery executor are in ``jobs/fleet.py``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench_pipeline import paths
from bench_pipeline.errors import FleetError
from bench_pipeline.execution.environment import HOST_CLASS_ENV, this_host
from bench_pipeline.execution.suite_run import RunRequest, run_suite
from bench_pipeline.safe_yaml import YamlProblem, load_yaml
from bench_pipeline.store.landing import write_landing
from bench_pipeline.store.schema import RUN_SCHEMA

FLEET_ENV = "BENCH_PIPELINE_FLEET"  # path of the fleet file (default deploy/fleet/fleet.yaml)
DEFAULT_FLEET_FILE = paths.PROJECT_ROOT / "deploy" / "fleet" / "fleet.yaml"
RUN_ROWS_TOOL = "all"  # a delivered run's own row: runs+<suite>+all.parquet
STAGING = ".fleet-staging"  # under the landing area: runs being written by a host, not delivered yet
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")


class HostClass(BaseModel):
    model_config = ConfigDict(extra="forbid")
    queue: str
    cpus: float = Field(gt=0)
    memory: str  # as Docker writes it: 1g, 2048m
    description: str = ""


class Timeouts(BaseModel):
    """How long the orchestrator waits for a host (``jobs/fleet.py``)."""

    model_config = ConfigDict(extra="forbid")
    queue_s: float = Field(120.0, gt=0)  # a step nobody took from its queue by then fails
    heartbeat_s: float = Field(5.0, gt=0)  # the host running a step is pinged this often
    missed_heartbeats: int = Field(3, ge=1)  # this many unanswered pings in a row: the host is lost
    step_s: float = Field(3600.0, gt=0)  # a step running longer fails


class Fleet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host_classes: dict[str, HostClass]
    timeouts: Timeouts = Timeouts()

    def host_class(self, name: str) -> HostClass:
        if name not in self.host_classes:
            raise FleetError(
                f"no host class {name!r} in the fleet file",
                fix=f"one of {', '.join(sorted(self.host_classes))}, or add it to {fleet_file()}",
            )
        return self.host_classes[name]


def fleet_file() -> Path:
    return Path(os.environ.get(FLEET_ENV) or DEFAULT_FLEET_FILE)


def load_fleet(path: Path | None = None) -> Fleet:
    """The fleet file (``BENCH_PIPELINE_FLEET``, default ``deploy/fleet/fleet.yaml``), validated."""
    path = path or fleet_file()
    try:
        data = load_yaml(path.read_text()).data
        fleet = Fleet.model_validate(data)
    except OSError as exc:
        raise FleetError(f"cannot read the fleet file: {exc.strerror}", where=str(path)) from None
    except YamlProblem as exc:
        raise FleetError(exc.message, where=f"{path}:{exc.line}" if exc.line else str(path)) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        field_ = ".".join(str(p) for p in first["loc"])
        raise FleetError(f"{field_}: {first['msg']}", where=str(path)) from None
    for name in fleet.host_classes:
        if not NAME_RE.match(name):
            raise FleetError(
                f"host class name {name!r} is not {NAME_RE.pattern}", where=str(path), fix="rename it"
            )
    return fleet


def op_name(host_class: str) -> str:
    """The Dagster op that measures on ``host_class`` (op names take no ``-``)."""
    return "measure_on_" + host_class.replace("-", "_")


def parse_placement(items: Iterable[str], fleet: Fleet) -> dict[str, list[str]]:
    """``["small=bench-a", "medium=bench-b"]`` → host class → sizes (in the given order)."""
    placed: dict[str, list[str]] = {}
    seen: set[str] = set()
    for item in items:
        size, sep, host_class = item.partition("=")
        if not sep or not size or not host_class:
            raise FleetError(f"placement {item!r} is not SIZE=HOST_CLASS", fix="e.g. --place small=bench-a")
        fleet.host_class(host_class)
        if size in seen:
            raise FleetError(f"size {size!r} is placed twice", fix="place each size on one host class")
        seen.add(size)
        placed.setdefault(host_class, []).append(size)
    if not placed:
        raise FleetError("nothing placed", fix="--place SIZE=HOST_CLASS, once per fixture size")
    return placed


# ------------------------------------------------------------------------------- a remote run's row


@dataclass
class LandingLedger:
    """What a run measured on a fleet host records, kept for its delivery instead of written to
    DuckDB (a host never opens the store). Has the two methods of ``Store`` a suite run calls."""

    landing_dir: Path
    row: dict[str, Any] = field(default_factory=dict)

    def create_run(self, run_id: str, suite: str, **kw: Any) -> None:
        host = {**kw["host"], **this_host()}
        self.row = {
            "run_id": run_id,
            "suite": suite,
            "started_at": datetime.now(UTC),
            "status": "running",
            "trigger": kw["trigger"],
            "backend": kw["backend"],
            "git_tag": kw.get("git_tag"),
            "git_commit": kw.get("git_commit"),
            "host": host,
            "host_class": host["host_class"],
            "settings": json.dumps(kw["settings"]),
            "tools": json.dumps(kw["tools"]),
            "sizes": json.dumps(kw["sizes"]),
            "quick": kw["quick"],
            "suite_sha256": kw["suite_sha256"],
            "hostname": host["host"],
        }

    def finish_run(self, run_id: str, status: str, **kw: Any) -> None:
        """A run that measured to its end is written as a ``runs`` landing file, pending like a
        local one (the report completes it). A failed run is not delivered: the step fails with
        its reason, and re-executing the step measures it again."""
        if not kw.get("pending"):
            return
        host = {**self.row["host"], **(kw.get("host") or {}), **this_host()}
        row = {
            **self.row,
            "finished_at": datetime.now(UTC),
            "status": "running",
            "pending_status": status,
            "host": json.dumps(host),
            "tool_versions": json.dumps(kw.get("tool_versions") or {}),
            "seconds": kw.get("seconds"),
            "message": kw.get("message"),
            "unavailable": json.dumps(kw.get("unavailable") or {}),
            "measuring": json.dumps(kw.get("measuring")) if kw.get("measuring") is not None else None,
        }
        frame = pl.DataFrame([row], schema=RUN_SCHEMA)
        write_landing(
            frame, self.landing_dir, run_id=run_id, kind="runs", suite=row["suite"], tool=RUN_ROWS_TOOL
        )


# ------------------------------------------------------------------------------------- delivery
def staging_dir(landing_dir: Path, run_id: str) -> Path:
    """A private directory under the landing area where one attempt writes ``run_id``'s files."""
    path = landing_dir / STAGING / f"{run_id}-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True, exist_ok=False)
    return path


def deliver(staging: Path, landing_dir: Path, run_id: str) -> bool:
    """Move the run written in ``staging`` into the landing area with one rename.

    False when the run was delivered before (a retried step whose first attempt got through):
    the first delivery stays, this attempt's files are dropped, so samples are never doubled."""
    target = landing_dir / run_id
    try:
        os.rename(staging / run_id, target)  # atomic; fails when the target exists and is not empty
        delivered = True
    except OSError:
        if not target.exists():
            raise
        delivered = False
    shutil.rmtree(staging, ignore_errors=True)
    return delivered


def remove_stale_staging(landing_dir: Path, *, older_than_s: float = 6 * 3600) -> list[Path]:
    """Drop staging directories of attempts that died long ago (their host was killed)."""
    root = landing_dir / STAGING
    removed = []
    if root.exists():
        now = time.time()
        for path in root.iterdir():
            try:
                if now - path.stat().st_mtime > older_than_s:
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path)
            except OSError:
                continue
    return removed


def delivered_runs(landing_dir: Path, run_ids: Iterable[str]) -> dict[str, bool]:
    """Which of ``run_ids`` were delivered (their ``runs`` landing file is in place)."""
    return {r: any((landing_dir / r).glob("runs+*.parquet")) for r in run_ids}


# ------------------------------------------------------------------------------------- watchdog
@dataclass
class StepWatch:
    """Decides when a step sent to a host class is lost. Fed what the orchestrator sees at each tick.

    - nobody took the step from its queue within ``queue_s`` → no host of the class answers;
    - the host running it missed ``missed_heartbeats`` pings in a row → the host is gone;
    - it ran longer than ``step_s`` → it hangs.
    Returns the reason in plain words, or None while all is well.
    """

    step: str
    host_class: str
    queue: str
    timeouts: Timeouts
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    worker: str | None = None
    missed: int = 0
    last_ping: float = 0.0

    def due_ping(self, now: float) -> bool:
        return self.started is not None and now - self.last_ping >= self.timeouts.heartbeat_s

    def observe(
        self, now: float, *, started: bool, worker: str | None = None, answered: bool | None = None
    ) -> str | None:
        if started and self.started is None:
            self.started, self.worker, self.last_ping = now, worker, now
        if answered is not None:
            self.last_ping = now
            self.missed = 0 if answered else self.missed + 1
        if self.started is None:
            if now - self.submitted > self.timeouts.queue_s:
                return (
                    f"no host of class {self.host_class} took step {self.step} from queue {self.queue!r} "
                    f"within {self.timeouts.queue_s:.0f} s: is a worker serving that queue? "
                    f"(`bench-pipeline fleet worker --host-class {self.host_class}` on a host of the class)"
                )
            return None
        if self.missed >= self.timeouts.missed_heartbeats:
            return (
                f"host {self.worker or '?'} (class {self.host_class}) stopped answering while it ran step "
                f"{self.step}: {self.missed} pings {self.timeouts.heartbeat_s:.0f} s apart went unanswered. "
                "Nothing of its run was delivered; re-execute the run (from failure) once a host of the "
                "class serves the queue again"
            )
        if now - self.started > self.timeouts.step_s:
            return (
                f"step {self.step} ran longer than {self.timeouts.step_s:.0f} s on host {self.worker or '?'} "
                f"(class {self.host_class}): given up"
            )
        return None


# ----------------------------------------------------------------------------- measuring on a host
@dataclass
class HostMeasurement:
    run_id: str
    host: dict[str, str]
    delivered: bool  # False: an earlier attempt had delivered this run already (nothing doubled)
    samples: int = 0
    seconds: float = 0.0
    landing: Path | None = None


def measure_on_host(
    request: RunRequest,
    host_class: str,
    *,
    landing_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> HostMeasurement:
    """Measure ``request`` (every tool, interleaved) on this host and deliver it to the landing area.

    The host must be of ``host_class`` (a worker serving another class's queue is refused). The
    run's id comes with the request, so a retried or re-executed step measures the same run; a run
    already delivered is not measured again."""
    say = progress or (lambda _m: None)
    landing_dir = landing_dir or paths.landing_dir()
    here = this_host()
    if here["host_class"] != host_class:
        raise FleetError(
            f"a step for host class {host_class} ran on host {here['host']} of class {here['host_class']}",
            fix=f"start this host's worker with the queue of its own class ({HOST_CLASS_ENV}={here['host_class']})",
        )
    if not request.run_id:
        raise FleetError("a fleet run needs its run id before it is sent to a host")
    remove_stale_staging(landing_dir)
    if delivered_runs(landing_dir, [request.run_id])[request.run_id]:
        say(f"run {request.run_id} was delivered by an earlier attempt: nothing to measure")
        return HostMeasurement(request.run_id, here, delivered=False, landing=landing_dir / request.run_id)
    staging = staging_dir(landing_dir, request.run_id)
    try:
        outcome = run_suite(request, ledger=LandingLedger(staging), landing_dir=staging, progress=say)
        delivered = deliver(staging, landing_dir, request.run_id)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    say(
        f"run {request.run_id} on host {here['host']} ({host_class}): {outcome.samples} samples "
        + ("delivered" if delivered else "already delivered by an earlier attempt: this one dropped")
    )
    return HostMeasurement(
        request.run_id, here, delivered, outcome.samples, outcome.seconds, landing_dir / request.run_id
    )
