"""Running the pipeline in-process, as the CLI does: the same jobs and assets the UI materializes.

A Dagster run covers one partitions definition, so a suite run is a short sequence of runs:
fixtures (per tool) → measurements (suite) → samples + cell_stats (per tool) → report (suite).
They share the project-local Dagster instance, so they show up in the UI like any other run.
"""

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from bench_pipeline import paths
from bench_pipeline.errors import BenchError, RunnerError

PROJECT_DAGSTER_YAML = paths.PROJECT_ROOT / "dagster.yaml"


def ensure_dagster_home() -> Path:
    """Point DAGSTER_HOME at $BENCH_PIPELINE_HOME/dagster holding the project's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or paths.dagster_home())
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_bytes() != PROJECT_DAGSTER_YAML.read_bytes():
        shutil.copyfile(PROJECT_DAGSTER_YAML, target)
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
    dagster_runs: list[str] = field(default_factory=list)
    regression: bool = False  # the blocking regression gate failed
    gate: str = ""


def _execute(
    job_name: str,
    partition_key,
    run_config: dict,
    instance,
    tags: dict | None = None,
    gate: str | None = None,
):
    """Execute a job in-process; with ``gate``, a failure of only that blocking check is returned, not raised."""
    from dagster import DagsterExecutionInterruptedError

    from definitions import defs

    job = defs.resolve_job_def(job_name)
    # the CLI shows our own progress lines; Dagster's console logger only speaks up for problems
    run_config = {**run_config, "loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    try:
        result = job.execute_in_process(
            run_config=run_config,
            partition_key=partition_key,
            instance=instance,
            tags=tags or {},
            raise_on_error=gate is None,
        )
        if gate is not None and not result.success:
            failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
            others = [e for e in result.all_events if e.is_step_failure and gate not in (e.step_key or "")]
            if gate not in failed or others:
                raise RunnerError(
                    f"{job_name} failed: {'; '.join(e.message or '' for e in others) or failed}"
                )
    except DagsterExecutionInterruptedError:
        raise KeyboardInterrupt from None
    except BenchError:
        raise
    except Exception as exc:  # a step failed: surface the library error when there is one
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, BenchError):
            cause = cause.__cause__ or getattr(cause, "user_exception", None)
        if isinstance(cause, BenchError):
            raise cause from None
        raise RunnerError(f"{job_name} failed: {exc}") from exc
    return result


def run_pipeline(
    suite: str,
    *,
    tools: list[str] | None = None,
    sizes: list[str] | None = None,
    quick: bool = False,
    backend: str = "auto",
    trigger: str = "manual",
    git_tag: str | None = None,
    git_commit: str | None = None,
    formats: tuple[str, ...] | None = None,
) -> PipelineResult:
    ensure_dagster_home()
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
    from dagster import DagsterInstance

    from assets.partitions import suite_tool_key

    selected = definition.select_tools(tools)
    instance = DagsterInstance.get()
    release_dead_runs(instance)
    tags = {"bench/trigger": trigger, **_process_tags(), **({"bench/git_tag": git_tag} if git_tag else {})}
    dagster_runs = []
    for tool in selected:
        r = _execute(
            "fixtures_job",
            suite_tool_key(suite, tool),
            {"ops": {"fixtures": {"config": {"sizes": list(sizes or []), "quick": quick}}}},
            instance,
            tags,
        )
        dagster_runs.append(r.run_id)
    measure_cfg = {
        "tools": selected,
        "sizes": list(sizes or []),
        "quick": quick,
        "backend": backend,
        "trigger": trigger,
        "git_tag": git_tag or "",
        "git_commit": git_commit or "",
    }
    r = _execute("measure_job", suite, {"ops": {"measurements": {"config": measure_cfg}}}, instance, tags)
    dagster_runs.append(r.run_id)
    mat = r.asset_materializations_for_node("measurements")[0]
    meta = {k: v.value for k, v in mat.metadata.items()}
    run_id = str(meta["run_id"])
    for tool in selected:
        r = _execute("ingest_job", suite_tool_key(suite, tool), {}, instance, tags)
        dagster_runs.append(r.run_id)
    r = _execute(
        "report_job",
        suite,
        {"ops": {"report": {"config": {"run": run_id, "formats": list(formats)}}}},
        instance,
        tags,
        gate="regression_gate",
    )
    dagster_runs.append(r.run_id)
    gate = [e for e in r.get_asset_check_evaluations() if e.check_name == "regression_gate"]
    regression = bool(gate) and not gate[0].passed
    rep = {k: v.value for k, v in r.asset_materializations_for_node("report")[0].metadata.items()}
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
        dagster_runs=dagster_runs,
    )
