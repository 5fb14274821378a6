"""``bench-pipeline run``: a suite through the pipeline's stages, in-process, ending with the reports."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

from bench_pipeline.builds import NO_BUILD_ENV
from bench_pipeline.execution.backends import BACKENDS, DEFAULT_BACKEND
from bench_pipeline.interfaces.cli.app import EXIT_REGRESSION, code_location, emit_json, err, progress
from bench_pipeline.interfaces.cli.github import GITHUB_HELP, print_outputs

if TYPE_CHECKING:
    from bench_pipeline.interfaces.inprocess import PipelineResult


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
@click.option("--github", is_flag=True, help=GITHUB_HELP)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object as the last line of stdout")
def run(
    suite: str,
    tools: tuple[str, ...],
    sizes: tuple[str, ...],
    backend: str,
    quick: bool,
    no_build: bool,
    github: bool,
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
    outputs = {"github": _github(result)} if github else {}
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
                **outputs,
            }
        )
    else:
        click.echo(
            f"run {result.run_id}: {result.status}, {result.samples} samples, "
            f"{time.monotonic() - started:.0f}s ({result.backend} backend)"
        )
        for fmt, path in result.reports.items():
            click.echo(f"{fmt:>4}: {path}")
        if outputs:
            print_outputs(outputs["github"])
    if result.regression:
        sys.exit(EXIT_REGRESSION)


def _github(result: PipelineResult) -> dict:
    """The run's Markdown report under the regression gate's cells (re-judged read-only), as the
    step summary and a comment file beside the reports."""
    from pathlib import Path

    from bench_pipeline import paths
    from bench_pipeline.checks import regression_gate
    from bench_pipeline.errors import BenchError
    from bench_pipeline.interfaces.cli.github import write_outputs
    from bench_pipeline.report.github import comment_body
    from bench_pipeline.store import Store

    md = Path(result.reports["md"]) if result.reports.get("md") else None
    run_dir = md.parent if md else paths.reports_dir() / result.suite / result.run_id
    try:
        gate = regression_gate(Store(), result.suite, result.run_id)
        lead = (
            f"Regression gate: {gate.summary}."
            if gate.passed
            else f"**Regression gate failed**: {gate.summary}."
        )
        cells = gate.cells
    except BenchError as exc:
        lead, cells = f"Regression gate not judged: {exc.message}.", []
    text = comment_body(
        f"bench-pipeline: {result.suite} run `{result.run_id}` {result.status}",
        cells,
        md.read_text(encoding="utf-8") if md and md.exists() else "No Markdown report was written.",
        pointer=f"the HTML report `{run_dir / 'report.html'}`"
        if (run_dir / "report.html").exists()
        else f"`{run_dir}`",
        lead=lead,
        heading="Regressions and alerts of the gate",
        none_text="No regression against the baseline.",
    )
    return write_outputs(text, run_dir / "comment.md")


COMMANDS = [run]
