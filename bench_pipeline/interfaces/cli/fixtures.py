"""``bench-pipeline fixtures``."""

from __future__ import annotations

import time

import click

from bench_pipeline import paths
from bench_pipeline.interfaces.cli.app import emit_json, progress


@click.command("fixtures")
@click.option("--suite", default="vcs", show_default=True)
@click.option("--size", required=True, type=click.Choice(["small", "medium", "large"]))
@click.option("--json", "as_json", is_flag=True)
def fixtures_cmd(suite: str, size: str, as_json: bool) -> None:
    """Build (or find in the cache) a suite's fixture of one size and print its path."""
    from bench_pipeline import fixtures
    from bench_pipeline.suite import find_suite

    find_suite(suite)  # validates the suite name
    started = time.perf_counter()
    with progress(not as_json) as say:
        fx = fixtures.ensure_fixture(fixtures.fixture_for(size), paths.fixtures_dir(), progress=say)
    seconds = fx.seconds if not fx.cached else time.perf_counter() - started
    if as_json:
        emit_json(
            {
                "path": str(fx.path),
                "commits": fx.commits,
                "files": fx.files,
                "seconds": round(seconds, 3),
                "cached": fx.cached,
                "id": fx.id,
            }
        )
        return
    click.echo(
        f"{fx.path}\n  {fx.commits} commits, {fx.files} files, "
        + (f"from cache (generated in {fx.seconds:.1f}s)" if fx.cached else f"generated in {seconds:.1f}s")
    )


COMMANDS = [fixtures_cmd]
