"""``bench-pipeline run``: a suite through the pipeline's stages, in-process, ending with the reports."""

from __future__ import annotations

import sys
import time

import click

from bench_pipeline.builds import NO_BUILD_ENV
from bench_pipeline.execution.backends import BACKENDS, DEFAULT_BACKEND
from bench_pipeline.interfaces.cli.app import EXIT_REGRESSION, code_location, emit_json, err, progress


@click.command()
@click.option("--suite", default="vcs", show_default=True, help="suite name (suites/NAME.yaml) or path")
@click.option(
    "--tool",
    "tools",
    multiple=True,
    help="only these tools (repeatable), or revisions TOOL@REV (jj@0.44.0: built at that revision); "
    "default: all of the suite",
)
@click.option(
    "--size",
    "sizes",
    multiple=True,
    type=click.Choice(["small", "medium", "large"]),
    help="fixture sizes (repeatable); default: the suite's",
)
@click.option("--backend", default=DEFAULT_BACKEND, show_default=True, type=click.Choice(BACKENDS))
@click.option("--quick", is_flag=True, help="a representative subset of operations, measured to verdicts")
@click.option(
    "--no-build",
    is_flag=True,
    envvar=NO_BUILD_ENV,
    help=f"do not build a missing tool (jj: minutes); it is reported unavailable instead [env {NO_BUILD_ENV}=1]",
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object as the last line of stdout")
def run(
    suite: str,
    tools: tuple[str, ...],
    sizes: tuple[str, ...],
    backend: str,
    quick: bool,
    no_build: bool,
    as_json: bool,
) -> None:
    """Run a suite through the Dagster pipeline (in-process) and print where the reports are."""
    code_location()
    from bench_pipeline.interfaces.inprocess import run_pipeline

    started = time.monotonic()
    with progress():
        result = run_pipeline(
            suite, tools=list(tools), sizes=list(sizes), quick=quick, backend=backend, build=not no_build
        )
    for tool, why in result.unavailable.items():
        err.print(f"note: {tool} unavailable — {why.get('reason', '')}", soft_wrap=True, markup=False)
        if why.get("fix"):
            err.print(f"  fix: {why['fix']}", soft_wrap=True, markup=False)
    if result.regression:
        err.print(f"[bold red]regression gate failed[/bold red]: {result.gate}", soft_wrap=True)
    if as_json:
        emit_json(
            {
                "run_id": result.run_id,
                "suite": result.suite,
                "status": result.status,
                "samples": result.samples,
                "reports": result.reports,
                "cells": result.cells,
                "backend": result.backend,
                "backend_reason": result.backend_reason,
                "unavailable": result.unavailable,
                "regression": result.regression,
                "gate": result.gate,
                "seconds": round(time.monotonic() - started, 1),
            }
        )
    else:
        click.echo(
            f"run {result.run_id}: {result.status}, {result.samples} samples, "
            f"{time.monotonic() - started:.0f}s ({result.backend} backend)"
        )
        for fmt, path in result.reports.items():
            click.echo(f"{fmt:>4}: {path}")
    if result.regression:
        sys.exit(EXIT_REGRESSION)


COMMANDS = [run]
