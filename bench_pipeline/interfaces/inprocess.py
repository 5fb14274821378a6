"""Running the pipeline in-process, as the CLI does: the same jobs and assets the UI materializes.

A Dagster run covers one partitions definition, so a suite run is the chain of stage runs that
``bench_pipeline.pipeline.STAGES`` declares, executed here in order. They share the project-local
Dagster instance, so they show up in the UI like any other run; each carries the bench run id
(``bench/run_id``), so the daemon's follow-up sensor sees the chain is already being continued.
"""

import functools
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from bench_pipeline import paths
from bench_pipeline.errors import BenchError
from bench_pipeline.execution.backends import DEFAULT_BACKEND
from bench_pipeline.pipeline import STAGE_BY_JOB, STAGES, Stage

PROJECT_DAGSTER_YAML = paths.PROJECT_ROOT / "dagster.yaml"
#: the Dagster instance profiles, selected by BENCH_PIPELINE_PROFILE (docs/scaling.md)
PROFILES = {
    "local": PROJECT_DAGSTER_YAML,  # SQLite under $BENCH_PIPELINE_HOME/dagster: nothing to start
    "fleet": paths.PROJECT_ROOT / "deploy" / "fleet" / "dagster.yaml",  # PostgreSQL, Celery hosts
}
PROFILE_ENV = "BENCH_PIPELINE_PROFILE"


def profile_dagster_yaml() -> Path:
    """The dagster.yaml of the profile BENCH_PIPELINE_PROFILE names (default ``local``)."""
    name = os.environ.get(PROFILE_ENV) or "local"
    if name not in PROFILES:
        raise BenchError(
            f"{PROFILE_ENV}={name!r} is no profile", fix=f"one of {', '.join(PROFILES)} (docs/scaling.md)"
        )
    if name == "fleet" and not os.environ.get("BENCH_PIPELINE_POSTGRES_URL"):
        raise BenchError(
            "BENCH_PIPELINE_PROFILE=fleet keeps Dagster's instance in PostgreSQL, but BENCH_PIPELINE_POSTGRES_URL is not set",
            fix="export BENCH_PIPELINE_POSTGRES_URL=postgresql+psycopg2://USER:PASSWORD@HOST:5432/DB (docs/scaling.md)",
        )
    return PROFILES[name]


def ensure_dagster_home() -> Path:
    """Point DAGSTER_HOME at $BENCH_PIPELINE_HOME/dagster holding the profile's dagster.yaml
    (the project's own, or the fleet's with BENCH_PIPELINE_PROFILE=fleet)."""
    home = Path(os.environ.get("DAGSTER_HOME") or paths.dagster_home())
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    source = profile_dagster_yaml()
    if not target.exists() or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def release_dead_runs(instance) -> list[str]:
    """Fail in-process runs of this host whose process is gone, and free their pool slots.

    A process killed mid-step cannot release the concurrency slot it claimed; without this
    the next measuring step would wait for that slot forever.
    """
    import socket

    import psutil
    from dagster import DagsterRunStatus, RunsFilter

    released = []
    active = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING]))
    for run in active:
        pid = run.tags.get("bench/pid")
        if not pid or run.tags.get("bench/host") != socket.gethostname():
            continue
        try:
            alive = psutil.Process(int(pid)).create_time() == float(run.tags.get("bench/pid_started", "0"))
        except (psutil.Error, ValueError):
            alive = False
        if alive:
            continue
        instance.report_run_failed(
            run, "the process running it disappeared (killed); released by bench-pipeline"
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append(run.run_id)
    for run_id in instance.event_log_storage.get_concurrency_run_ids():
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    return released


def _process_tags() -> dict[str, str]:
    import socket

    import psutil

    return {
        "bench/pid": str(os.getpid()),
        "bench/pid_started": str(psutil.Process().create_time()),
        "bench/host": socket.gethostname(),
    }


@dataclass
class PipelineResult:
    run_id: str
    suite: str
    status: str
    samples: int
    reports: dict[str, str] = field(default_factory=dict)
    cells: dict[str, int] = field(default_factory=dict)
    backend: str = ""
    backend_reason: str = ""
    unavailable: dict[str, dict[str, str]] = field(default_factory=dict)  # tool -> action, reason, fix
    dagster_runs: list[str] = field(default_factory=list)
    regression: bool = False  # the blocking regression gate failed
    gate: str = ""


@functools.cache
def _definitions():
    from definitions import load_definitions

    return load_definitions()


class StageFailed(BenchError):
    """A stage of the pipeline failed: which stage, for which partition, why, and the fix."""

    def __init__(
        self,
        stage: str,
        job: str,
        key: object,
        cause: str,
        fix: str | None,
        *,
        exit_code: int,
        traces: tuple[str, ...] = (),
    ) -> None:
        self.exit_code = exit_code
        self.traces = traces
        super().__init__(
            f"stage {stage} ({job}, partition {key}) failed: {cause}",
            fix=fix
            or "the log holds the full trace; the Dagster UI (`bench-pipeline ui`) shows the run's events",
        )


def _root_cause(exc: BaseException) -> BaseException:
    """The library's own exception behind Dagster's wrappers (a BenchError when there is one)."""
    seen: BaseException | None = exc
    found = exc
    while seen is not None:
        found = seen
        if isinstance(seen, BenchError):
            return seen
        seen = getattr(seen, "user_exception", None) or seen.__cause__
    return found


def _execute(
    job_name: str,
    partition_key,
    run_config: dict,
    instance,
    tags: dict | None = None,
    gate: str | None = None,
):
    """Execute a job in-process; with ``gate``, a failure of only that blocking check is returned, not raised.

    Any other failure becomes one ``StageFailed`` naming the stage, the partition, the cause in plain
    words and the fix; the full trace travels with it to the CLI's log file.
    """
    from dagster import DagsterExecutionInterruptedError

    stage = STAGE_BY_JOB[job_name].name if job_name in STAGE_BY_JOB else job_name
    job = _definitions().resolve_job_def(job_name)
    # the CLI shows our own progress lines; Dagster's console logger stays silent (the run's events
    # are kept in the instance, and a failure reaches the person as one StageFailed)
    run_config = {**run_config, "loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    try:
        result = job.execute_in_process(
            run_config=run_config,
            partition_key=partition_key,
            instance=instance,
            tags=tags or {},
            raise_on_error=gate is None,
        )
    except DagsterExecutionInterruptedError:
        raise KeyboardInterrupt from None
    except Exception as exc:  # a step failed
        cause = _root_cause(exc)
        if isinstance(cause, BenchError):
            raise StageFailed(
                stage, job_name, partition_key, cause.message, cause.fix, exit_code=cause.exit_code
            ) from exc
        raise StageFailed(
            stage, job_name, partition_key, f"{type(cause).__name__}: {cause}", None, exit_code=1
        ) from exc
    if gate is not None and not result.success:
        failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
        others = [e for e in result.all_events if e.is_step_failure and gate not in (e.step_key or "")]
        if gate not in failed or others:
            errors = [
                e.step_failure_data.error for e in others if e.step_failure_data and e.step_failure_data.error
            ]
            first = errors[0].message.strip().splitlines()[0] if errors else f"checks failed: {failed}"
            raise StageFailed(
                stage,
                job_name,
                partition_key,
                first,
                None,
                exit_code=1,
                traces=tuple(e.to_string() for e in errors),
            )
    return result


def _stage_config(stage: Stage, config: dict[str, dict]) -> dict:
    """Run config of one stage's job: each asset of the stage that takes config gets its own."""
    ops = {asset: {"config": config[asset]} for asset in stage.assets if asset in config}
    return {"ops": ops} if ops else {}


def run_pipeline(
    suite: str,
    *,
    tools: list[str] | None = None,
    sizes: list[str] | None = None,
    quick: bool = False,
    backend: str = DEFAULT_BACKEND,
    trigger: str = "manual",
    git_tag: str | None = None,
    git_commit: str | None = None,
    formats: tuple[str, ...] | None = None,
    build: bool = True,
) -> PipelineResult:
    """Run every stage of ``bench_pipeline.pipeline.STAGES`` in order, in-process, for one suite run."""
    ensure_dagster_home()
    from bench_pipeline.execution.suite_run import new_run_id
    from bench_pipeline.report.archive import FORMATS
    from bench_pipeline.suite import find_suite

    formats = tuple(formats or FORMATS)

    definition = find_suite(suite)  # fail fast, with the suite loader's message
    if Path(suite).suffix in (".yaml", ".yml"):  # a suite file outside suites/: make it a partition
        if Path(suite).stem != definition.name:
            raise BenchError(
                f"the file declares suite {definition.name!r}",
                where=suite,
                fix=f"name the file {definition.name}.yaml",
            )
        paths.add_suite_dir(Path(suite).parent)
        suite = definition.name
    if backend == "docker":  # asked for explicitly: say now, before fixtures, when it cannot be had
        from bench_pipeline.execution.backends import choose_backend

        choose_backend("docker", bin_dir=paths.home() / "bin")
    from dagster import DagsterInstance

    from assets.partitions import suite_tool_key, sync_partitions

    selected = definition.select_tools(tools)
    instance = DagsterInstance.get()
    release_dead_runs(instance)
    from bench_pipeline.resume import complete_runs
    from bench_pipeline.store import Store

    complete_runs(Store())  # runs an earlier, killed invocation measured but did not finish
    sync_partitions(instance, {suite: selected})
    run_id = new_run_id(suite)
    tags = {
        "bench/trigger": trigger,
        "bench/run_id": run_id,
        "bench/suite": suite,
        "bench/tools": ",".join(selected),
        **_process_tags(),
        **({"bench/git_tag": git_tag} if git_tag else {}),
        **({"bench/commit": git_commit} if git_commit else {}),
    }
    config: dict[str, dict] = {
        "fixtures": {"sizes": list(sizes or []), "quick": quick, "build": build, "run_id": run_id},
        "measurements": {
            "tools": selected,
            "sizes": list(sizes or []),
            "quick": quick,
            "backend": backend,
            "trigger": trigger,
            "git_tag": git_tag or "",
            "git_commit": git_commit or "",
            "run_id": run_id,
            "build": build,
        },
        "report": {"run": run_id, "formats": list(formats)},
    }
    dagster_runs, results = [], {}
    for stage in STAGES:
        keys = [suite_tool_key(suite, tool) for tool in selected] if stage.per_tool else [suite]
        for key in keys:
            r = _execute(
                stage.job,
                key,
                _stage_config(stage, config),
                instance,
                {**tags, "bench/stage": stage.name},
                gate="regression_gate" if stage.name == "report" else None,
            )
            dagster_runs.append(r.run_id)
            results[stage.name] = r
    measured = results["measure"].asset_materializations_for_node("measurements")[0]
    meta = {k: v.value for k, v in measured.metadata.items()}
    reported = results["report"]
    gate = [e for e in reported.get_asset_check_evaluations() if e.check_name == "regression_gate"]
    regression = bool(gate) and not gate[0].passed
    rep = {k: v.value for k, v in reported.asset_materializations_for_node("report")[0].metadata.items()}
    reports = {fmt: str(rep[f"{fmt}_path"]) for fmt in formats if f"{fmt}_path" in rep}
    return PipelineResult(
        run_id=run_id,
        suite=suite,
        status="succeeded",
        regression=regression,
        gate=gate[0].description or "" if gate else "",
        samples=int(meta["samples"]),
        reports=reports,
        cells=dict(meta["cells"]),
        backend=str(meta["backend"]),
        backend_reason=str(meta.get("backend_reason", "")),
        unavailable=dict(meta.get("unavailable") or {}),
        dagster_runs=dagster_runs,
    )
