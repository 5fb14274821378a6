"""``bench-pipeline fleet``: measure on named hosts through Celery queues (docs/scaling.md).

``fleet run`` places fixture sizes on host classes and completes the runs centrally, ``fleet resume``
re-executes a failed fleet run from its failure, ``fleet worker`` is the command a host runs.
"""

from __future__ import annotations

import os
import sys

import click

from bench_pipeline.interfaces.cli.app import code_location, emit_json, err, progress


@click.group()
def fleet() -> None:
    """Measure on fleet hosts (needs BENCH_PIPELINE_PROFILE=fleet, PostgreSQL and a broker)."""


def _print(result, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    for r in result.runs:
        if r.delivered:
            err.print(
                f"{r.host_class}: run {r.run_id} on {r.host}, {r.samples} samples, {', '.join(r.sizes)}"
            )
            for fmt, path in r.reports.items():
                click.echo(f"{fmt}: {path}")
        else:
            err.print(f"{r.host_class}: run {r.run_id} not delivered: {r.error}", markup=False)
    if as_json:
        emit_json(result.as_json())
    if not result.success:
        err.print(
            f"fleet run {result.dagster_run} failed; `bench-pipeline fleet resume {result.dagster_run}` "
            "re-executes it from the failure",
            markup=False,
        )
        sys.exit(1)


@fleet.command("run")
@click.option("--suite", default="vcs", show_default=True)
@click.option(
    "--tool", "tools", multiple=True, help="only these tools (repeatable); default: all of the suite"
)
@click.option(
    "--place",
    "places",
    multiple=True,
    required=True,
    help="SIZE=HOST_CLASS (repeatable): measure that fixture size on a host of the class",
)
@click.option("--quick", is_flag=True, help="the suite's quick subset")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object as the last line of stdout")
def fleet_run(
    suite: str, tools: tuple[str, ...], places: tuple[str, ...], quick: bool, as_json: bool
) -> None:
    """One run per host class, measured in parallel; ingestion and reports here."""
    code_location()
    from bench_pipeline.fleet import load_fleet, parse_placement
    from bench_pipeline.interfaces.fleet import run_fleet

    placement = parse_placement(places, load_fleet())
    with progress(not as_json):
        result = run_fleet(suite, placement, tools=list(tools), quick=quick)
    _print(result, as_json)


@fleet.command("resume")
@click.argument("dagster_run")
@click.option("--json", "as_json", is_flag=True)
def fleet_resume(dagster_run: str, as_json: bool) -> None:
    """Re-execute a failed fleet run from its failure and complete its runs."""
    code_location()
    from bench_pipeline.interfaces.fleet import resume_fleet

    with progress(not as_json):
        result = resume_fleet(dagster_run)
    _print(result, as_json)


@fleet.command("worker")
@click.option("--host-class", required=True, help="the class of this host (its queue is the fleet file's)")
@click.option("--host", default=None, help="this host's name as runs record it [default: the hostname]")
@click.option("--loglevel", default="INFO", show_default=True)
def fleet_worker(host_class: str, host: str | None, loglevel: str) -> None:
    """Serve the host class's queue: one measuring step at a time (replaces this process)."""
    code_location()
    from bench_pipeline.interfaces.fleet import worker_argv

    argv, env = worker_argv(host_class, host, loglevel=loglevel)
    err.print(
        f"worker {env['BENCH_PIPELINE_HOST']} of class {host_class}: {' '.join(argv[1:])}", markup=False
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(argv[0], argv, env)


COMMANDS = [fleet]
