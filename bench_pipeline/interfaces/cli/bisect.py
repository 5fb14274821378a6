"""``bench-pipeline bisect``: the first commit between a good and a bad revision that regresses an operation."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bench_pipeline.execution.backends import BACKENDS
from bench_pipeline.interfaces.cli.app import emit_json, progress


@click.command("bisect")
@click.option("--suite", required=True, help="suite name or path")
@click.option("--tool", required=True, help="the suite tool (built from a git source) to bisect")
@click.option("--good", required=True, help="a revision without the regression (tag, branch, commit)")
@click.option("--bad", required=True, help="a later revision with it")
@click.option("--operation", required=True, help="the operation that regressed")
@click.option("--fixture", default=None, help="fixture size (default: the suite's first)")
@click.option(
    "--metric",
    default="wall",
    show_default=True,
    type=click.Choice(["wall", "cpu", "rss"]),
    help="the metric whose verdict decides (cpu: user + sys, steadier on a busy machine)",
)
@click.option("--backend", default="local", show_default=True, type=click.Choice(BACKENDS))
@click.option("--json", "as_json", is_flag=True, help="print one JSON object as the last line of stdout")
def bisect(
    suite: str,
    tool: str,
    good: str,
    bad: str,
    operation: str,
    fixture: str | None,
    metric: str,
    backend: str,
    as_json: bool,
) -> None:
    """Find the first commit whose verdict against GOOD is a regression (binary search, one run per step).

    Each step builds a candidate and measures it interleaved against the good build; the run's
    stored comparison decides. Every step is recorded (DuckDB tables bisects, bisect_steps).
    Exit 0 when the commit is found, 1 when BAD is no regression or the search cannot decide.
    """
    from bench_pipeline import paths
    from bench_pipeline.bisect import bisect as run_bisect
    from bench_pipeline.suite import find_suite

    definition = find_suite(suite)
    if Path(suite).suffix in (".yaml", ".yml"):  # its settings (δ) are found by name from now on
        paths.add_suite_dir(Path(suite).parent)
    with progress(not as_json) as say:
        result = run_bisect(
            definition,
            tool,
            good,
            bad,
            operation,
            fixture=fixture,
            metric=metric,
            backend=backend,
            progress=say,
        )
    if as_json:
        emit_json(result.as_json())
    else:
        for s in result.steps:
            what = (
                f"{s.verdict}, ratio {s.ratio:.3f} (95% CI {s.ci_low:.3f}–{s.ci_high:.3f}), run {s.run_id}"
                if s.verdict and s.ratio and s.ci_low and s.ci_high
                else s.reason
            )
            click.echo(f"step {s.step}: {s.commit[:12]} {s.subject[:60]!r}: {what} → {s.decision}")
        if result.status == "found":
            evidence = next(s for s in result.steps if s.commit == result.first_bad and s.decision == "bad")
            click.echo(
                f"first bad commit: {result.first_bad} {evidence.subject!r}\n"
                f"  {result.operation} on {result.fixture} is {evidence.ratio:.3f}× the {result.metric} of "
                f"{result.good} (95% CI {evidence.ci_low:.3f}–{evidence.ci_high:.3f}, verdict {evidence.verdict}, "
                f"run {evidence.run_id}); bisect {result.bisect_id}"
            )
        else:
            click.echo(f"{result.status}: {result.message}")
    if result.status != "found":
        sys.exit(1)


COMMANDS = [bisect]
