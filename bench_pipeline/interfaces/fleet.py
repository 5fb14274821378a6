"""Driving the fleet from the central machine: launch ``fleet_job``, then ingest and report centrally.

``run_fleet`` gives every host class its own bench run (all tools of a run stay on one host),
launches ``fleet_job`` with the ops of the classes used (Celery sends each to its class's queue),
waits for it, loads every delivered run into DuckDB in one transaction per run, and runs the
ingest and report stages in-process as ``bench-pipeline run`` does. A measuring step that failed
(a host lost, no host on a queue) leaves its run undelivered and the store untouched; the runs
that were delivered are completed, and ``resume_fleet`` re-executes the failed steps of the
Dagster run (as the UI's "Re-execute from failure" does) and completes the rest.
The worker command of a host (``worker_argv``) lives here too.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_pipeline import paths
from bench_pipeline.errors import BenchError, FleetError
from bench_pipeline.execution.environment import HOST_CLASS_ENV, HOST_ENV
from bench_pipeline.fleet import delivered_runs, load_fleet, op_name
from bench_pipeline.interfaces.inprocess import PROFILE_ENV, _execute, _stage_config, ensure_dagster_home
from bench_pipeline.pipeline import STAGE_BY_NAME


@dataclass
class FleetRun:
    """One host class's run of a fleet launch."""

    host_class: str
    run_id: str
    sizes: list[str]
    delivered: bool = False
    host: str = ""
    samples: int = 0
    reports: dict[str, str] = field(default_factory=dict)
    error: str = ""


@dataclass
class FleetResult:
    dagster_run: str
    suite: str
    tools: list[str]
    success: bool
    seconds: float
    runs: list[FleetRun]

    def as_json(self) -> dict[str, Any]:
        return {
            "dagster_run": self.dagster_run,
            "suite": self.suite,
            "status": "succeeded" if self.success else "failed",
            "seconds": round(self.seconds, 2),
            "runs": [r.__dict__ for r in self.runs],
        }


def _require_fleet_instance(instance: Any) -> None:
    from dagster_postgres import PostgresRunStorage

    if not isinstance(instance.run_storage, PostgresRunStorage):
        raise FleetError(
            "the Dagster instance keeps its runs in local SQLite: hosts cannot reach it",
            fix=f"select the fleet profile: {PROFILE_ENV}=fleet and BENCH_PIPELINE_POSTGRES_URL (docs/scaling.md)",
        )


def _fleet_job() -> Any:
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    root = paths.PROJECT_ROOT
    repo = ReconstructableRepository.for_file(
        str(root / "definitions.py"), "load_definitions", working_directory=str(root)
    )
    return repo.get_reconstructable_job("fleet_job")


def _step_failures(instance: Any, dagster_run: str) -> dict[str, str]:
    from dagster import DagsterEventType

    failures = {}
    records = instance.all_logs(dagster_run, of_type=DagsterEventType.STEP_FAILURE)
    for record in records:
        event = record.dagster_event
        error = event.step_failure_data.error if event and event.step_failure_data else None
        if event and event.step_key:
            failures[event.step_key] = (error.message.strip() if error else "failed").splitlines()[0]
    return failures


def _execute_fleet(
    run_config: dict, tags: dict, op_selection: list[str], reexecute_of: str | None
) -> tuple[str, bool]:
    from dagster import DagsterInstance, ReexecutionOptions, execute_job

    instance = DagsterInstance.get()
    _require_fleet_instance(instance)
    options = ReexecutionOptions.from_failure(reexecute_of, instance) if reexecute_of else None
    with execute_job(
        _fleet_job(),
        instance=instance,
        run_config=None if options else run_config,
        tags=tags,
        op_selection=None if options else op_selection,
        reexecution_options=options,
        raise_on_error=False,
    ) as result:
        return result.run_id, result.success


def run_fleet(
    suite: str,
    placement: dict[str, list[str]],
    *,
    tools: list[str] | None = None,
    quick: bool = False,
    trigger: str = "fleet",
    formats: tuple[str, ...] | None = None,
    seed: int | None = None,
) -> FleetResult:
    """Measure ``placement`` (host class → sizes) on the fleet, then ingest and report centrally."""
    import time

    ensure_dagster_home()
    from dagster import DagsterInstance

    from assets.partitions import sync_partitions
    from bench_pipeline.execution.suite_run import new_run_id
    from bench_pipeline.suite import find_suite

    fleet = load_fleet()
    for host_class in placement:
        fleet.host_class(host_class)
    definition = find_suite(suite)
    selected = definition.select_tools(tools)
    instance = DagsterInstance.get()
    _require_fleet_instance(instance)
    sync_partitions(instance, {suite: selected})
    runs = [FleetRun(c, new_run_id(suite), sizes) for c, sizes in placement.items()]
    run_config = {
        "ops": {
            op_name(r.host_class): {
                "config": {
                    "suite": suite,
                    "run_id": r.run_id,
                    "sizes": r.sizes,
                    "tools": selected,
                    "quick": quick,
                    "trigger": trigger,
                    "seed": -1 if seed is None else seed,
                }
            }
            for r in runs
        }
    }
    tags = {
        "bench/trigger": trigger,
        "bench/suite": suite,
        "bench/tools": ",".join(selected),
        "bench/fleet_runs": ",".join(f"{r.host_class}={r.run_id}" for r in runs),
    }
    started = time.monotonic()
    dagster_run, success = _execute_fleet(run_config, tags, [op_name(r.host_class) for r in runs], None)
    return _finish(instance, dagster_run, success, suite, selected, runs, formats, started)


def resume_fleet(dagster_run: str, *, formats: tuple[str, ...] | None = None) -> FleetResult:
    """Re-execute the failed steps of fleet run ``dagster_run`` (from failure), then complete its runs."""
    import time

    ensure_dagster_home()
    from dagster import DagsterInstance

    instance = DagsterInstance.get()
    _require_fleet_instance(instance)
    parent = instance.get_run_by_id(dagster_run)
    if parent is None or parent.job_name != "fleet_job":
        raise FleetError(
            f"no fleet run {dagster_run!r} in this instance", fix="the UI's Runs page lists them"
        )
    suite = parent.tags["bench/suite"]
    tools = [t for t in parent.tags.get("bench/tools", "").split(",") if t]
    runs = []
    for item in parent.tags.get("bench/fleet_runs", "").split(","):
        host_class, _, run_id = item.partition("=")
        ops: Any = parent.run_config.get("ops") or {}
        sizes = ops[op_name(host_class)]["config"]["sizes"]
        runs.append(FleetRun(host_class, run_id, sizes))
    started = time.monotonic()
    tags = {k: v for k, v in parent.tags.items() if k.startswith("bench/")}
    new_run, success = (dagster_run, True) if parent.is_success else _execute_fleet({}, tags, [], dagster_run)
    return _finish(instance, new_run, success, suite, tools, runs, formats, started)


def _finish(
    instance: Any,
    dagster_run: str,
    success: bool,
    suite: str,
    tools: list[str],
    runs: list[FleetRun],
    formats: tuple[str, ...] | None,
    started: float,
) -> FleetResult:
    """Load every delivered run (one transaction each), ingest and report them centrally; say why
    the others are missing."""
    import time

    from assets.partitions import suite_tool_key
    from bench_pipeline.report.archive import FORMATS
    from bench_pipeline.store import Store

    failures = _step_failures(instance, dagster_run) if not success else {}
    delivered = delivered_runs(paths.landing_dir(), [r.run_id for r in runs])
    store = Store()
    status: dict[str, str] = {}
    if store.path.exists():
        status = dict(store.query("SELECT run_id, status FROM main.runs").iter_rows())
    todo = []
    for r in runs:
        r.delivered = delivered[r.run_id]
        if not r.delivered:
            r.error = failures.get(
                op_name(r.host_class),
                "not delivered: the fleet run failed before its step ended (see its events)",
            )
            continue
        if r.run_id not in status:  # a run is loaded whole, in one transaction, or not at all
            store.load_landing(run_id=r.run_id)
        if status.get(r.run_id) in (None, "running"):
            todo.append(r)  # not completed yet (a resume leaves completed runs as they are)
    formats = tuple(formats or FORMATS)
    tags = {"bench/suite": suite, "bench/fleet_dagster_run": dagster_run}
    if todo:
        ingest = STAGE_BY_NAME["ingest"]
        for tool in tools:
            _execute(ingest.job, suite_tool_key(suite, tool), {}, instance, {**tags, "bench/stage": "ingest"})
        report = STAGE_BY_NAME["report"]
        for r in todo:
            config = _stage_config(report, {"report": {"run": r.run_id, "formats": list(formats)}})
            _execute(
                report.job,
                suite,
                config,
                instance,
                {**tags, "bench/run_id": r.run_id},
                gate="regression_gate",
            )
    for r in runs:
        if r.delivered:
            folder = paths.reports_dir() / suite / r.run_id
            r.reports = {
                fmt: str(folder / f"report.{fmt}") for fmt in formats if (folder / f"report.{fmt}").exists()
            }
            r.host, r.samples = str(Store().run(r.run_id).get("hostname") or ""), _samples(r.run_id)
    return FleetResult(dagster_run, suite, tools, success, time.monotonic() - started, runs)


def _samples(run_id: str) -> int:
    from bench_pipeline.store import Store

    df = Store().query("SELECT count(*) AS n FROM samples_all WHERE run_id = ? AND iteration >= 0", [run_id])
    return int(df["n"][0])


# ------------------------------------------------------------------------------------- a host
def worker_argv(
    host_class: str, host: str | None = None, *, loglevel: str = "INFO"
) -> tuple[list[str], dict[str, str]]:
    """The command and environment of a host's Celery worker serving ``host_class``'s queue.

    One step at a time (``--concurrency 1``, prefetch 1): the host measures one run at a time.
    The Celery settings are those of the orchestrator's executor (``jobs.fleet.CELERY_SETTINGS``),
    written as the ``dagster_celery_config`` module that ``dagster_celery.app`` reads."""
    from jobs.fleet import CELERY_SETTINGS, broker_url

    fleet = load_fleet()
    queue = fleet.host_class(host_class).queue
    host = host or os.environ.get(HOST_ENV) or os.uname().nodename
    ensure_dagster_home()
    config_dir = Path(tempfile.mkdtemp(prefix="bench-fleet-celery-"))
    settings = {"broker_url": broker_url(), "result_backend": broker_url(), **CELERY_SETTINGS}
    (config_dir / "dagster_celery_config.py").write_text(
        "".join(f"{k} = {v!r}\n" for k, v in settings.items())
    )
    env = {
        **os.environ,
        HOST_ENV: host,
        HOST_CLASS_ENV: host_class,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(config_dir), str(paths.PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "dagster_celery.app",
        "worker",
        "-Q",
        queue,
        "-n",
        f"{host}@%h",
        "--concurrency",
        "1",
        "--prefetch-multiplier",
        "1",
        "--without-gossip",
        "--without-mingle",
        "-l",
        loglevel,
    ]
    return argv, env


__all__ = ["BenchError", "FleetResult", "FleetRun", "resume_fleet", "run_fleet", "worker_argv"]
