"""``bench-pipeline ingest``: load result files of other benchmarking tools as a run (docs/ingest.md)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import click

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest.adapters import FORMATS
from bench_pipeline.timestamps import TimestampError, parse_time


def _started_at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except TimestampError as exc:
        raise IngestError(
            str(exc), where="--started-at", fix="write it like 2024-05-01T12:00:00Z or 2024-05-01"
        ) from None


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", *FORMATS]),
    help="source format; auto detects it from the content",
)
@click.option("--suite", default=None, help="suite of the run (default: from the data, else the format name)")
@click.option(
    "--tool", default=None, help="tool of every sample (default: from the data, else the format name)"
)
@click.option("--run-id", default=None, help="store into this run; files with the same run id join one run")
@click.option("--started-at", default=None, help="start time of the run (ISO 8601), e.g. to backfill history")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object as the last line of stdout")
def ingest(
    paths: tuple[Path, ...],
    fmt: str,
    suite: str | None,
    tool: str | None,
    run_id: str | None,
    started_at: str | None,
    as_json: bool,
) -> None:
    """Load external result files (hyperfine, criterion, cargo-criterion, pytest-benchmark, Google
    Benchmark, go test -bench, Bencher Metric Format, results bundles, bench-pipeline's own
    exports) into the store as a run; they then go through the same statistics and reports.

    Every file is parsed and validated before anything is stored; a bad file stores nothing.
    Ingesting the same file again is a no-op (with a warning).
    """
    from bench_pipeline.resume import ingest_and_complete

    # the same analysis the assets run, so `report` and `compare` work right away; the runs are
    # `succeeded` only then — also a run an earlier, killed ingestion left pending (skipped here)
    result = ingest_and_complete(
        list(paths),
        fmt=fmt,
        suite=suite,
        tool=tool,
        run_id=run_id,
        started_at=_started_at(started_at),
    )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        body = {
            "run_id": result.run_id,
            "samples": result.samples,
            "operations": result.operations,
            "warnings": result.warnings,
            "run_ids": result.run_ids,
            "formats": result.formats,
            "batch_id": result.batch_id,
            "created": result.created,
        }
        sys.stdout.write(json.dumps(body) + "\n")
        sys.stdout.flush()
        return
    runs = ", ".join(result.run_ids)
    click.echo(
        f"run {runs}: {result.samples} samples, {result.operations} operations ({', '.join(result.formats)})"
    )


COMMANDS = [ingest]
