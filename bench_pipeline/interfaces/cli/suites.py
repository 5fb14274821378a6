"""``bench-pipeline suites / validate``."""

from __future__ import annotations

from pathlib import Path

import click

from bench_pipeline import paths
from bench_pipeline.errors import BenchError


@click.command()
def suites() -> None:
    """List the suites, their tools and operations."""
    from bench_pipeline.suite import available_suites, load_suite_file

    found = available_suites()
    if not found:
        click.echo(f"no suites in {paths.SUITES_DIR}")
    for name, path in found.items():
        try:
            s = load_suite_file(path)
        except BenchError as exc:
            click.echo(
                f"{name}: INVALID ({exc.message.splitlines()[0]}); run `bench-pipeline validate {path}`"
            )
            continue
        click.echo(
            f"{name}: {len(s.operations)} operations × tools {', '.join(s.tools)} — {s.description.strip()[:100]}"
        )
        for op in s.operations:
            na = f"  (n/a: {', '.join(op.na)})" if op.na else ""
            click.echo(f"  {op.name:<24} {op.category:<12}{' mutating' if op.mutating else ''}{na}")


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
def validate(file: Path) -> None:
    """Validate a suite file; errors name the line, the field and the fix."""
    from bench_pipeline.suite import load_suite_file

    s = load_suite_file(file)
    na = sum(len(op.na) for op in s.operations)
    click.echo(
        f"{file}: valid — suite {s.name!r}, {len(s.tools)} tools, {len(s.operations)} operations, {na} n/a cells"
    )


COMMANDS = [suites, validate]
