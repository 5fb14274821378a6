"""``bench-pipeline export``: a stored run as CSV, Bencher Metric Format, hyperfine JSON or native JSON."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bench_pipeline.ingest.exporters import FORMATS
from bench_pipeline.interfaces.cli.app import emit_json


@click.command("export")
@click.option("--suite", default="vcs", show_default=True, help="suite name")
@click.option(
    "--run", "ref", default="latest", show_default=True, help="run id, latest, latest~N or tag:NAME"
)
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS), help="what to write")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="write to this file (atomically) instead of stdout",
)
@click.option("--json", "as_json", is_flag=True, help="with --output: print one JSON object as the last line")
def export(suite: str, ref: str, fmt: str, output: Path | None, as_json: bool) -> None:
    """Write a run's results in a format other tools read: csv (one row per sample), bmf (Bencher
    Metric Format: median and CI per cell), hyperfine (hyperfine's --export-json shape) or native
    (bench-pipeline's own JSON). `bench-pipeline ingest` reads each of them back (docs/ingest.md)."""
    from bench_pipeline.errors import BenchError
    from bench_pipeline.files import write_text_atomic
    from bench_pipeline.ingest.exporters import export_text
    from bench_pipeline.store import Store

    if as_json and output is None:
        raise BenchError("--json needs --output (stdout carries the export)", fix="add --output FILE")
    store = Store()
    run_id = store.resolve_run(suite, ref)
    text = export_text(store, run_id, fmt)
    if output is None:
        sys.stdout.write(text)
        return
    write_text_atomic(output, text)
    if as_json:
        emit_json({"run_id": run_id, "format": fmt, "path": str(output), "bytes": len(text.encode())})
    else:
        click.echo(f"{fmt}: {output}")


COMMANDS = [export]
