"""``bench-pipeline serve``: the results HTTP API (docs/api.md) on uvicorn."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from bench_pipeline.errors import BenchError
from bench_pipeline.interfaces.http.guard import RedactQuery

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--token-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="read the bearer token from this file instead of $BENCH_PIPELINE_API_TOKEN",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(1),
    default=None,
    help="largest accepted request body (default $BENCH_PIPELINE_API_MAX_BYTES or 16 MiB)",
)
@click.option(
    "--anonymous-reads/--no-anonymous-reads",
    default=None,
    help="allow GET /api/... without the token (default: on for 127.0.0.1/localhost/::1, off otherwise; "
    "$BENCH_PIPELINE_API_ANONYMOUS_READS); anonymous readers never see host details",
)
def serve(
    host: str, port: int, token_file: Path | None, max_body_bytes: int | None, anonymous_reads: bool | None
) -> None:
    """Serve the results API: POST /api/results (bearer token), GET /api/runs, /api/stats, … and
    the OpenAPI document at /openapi.json. Submissions go through the landing area like local runs."""
    import uvicorn

    from bench_pipeline.interfaces.http import create_app

    token = None
    if token_file is not None:
        try:
            token = token_file.read_text().strip()
        except OSError as exc:
            raise BenchError(f"cannot read the token file: {exc.strerror}", where=str(token_file)) from None
        if not token:
            raise BenchError("the token file is empty", where=str(token_file), fix="write the token into it")
    elif os.environ.get("BENCH_PIPELINE_API_TOKEN"):
        token = os.environ["BENCH_PIPELINE_API_TOKEN"]
    if token is None:
        click.echo(
            "warning: no token configured (BENCH_PIPELINE_API_TOKEN or --token-file): "
            "submissions are refused, reads work",
            err=True,
        )
    if anonymous_reads is None and not os.environ.get("BENCH_PIPELINE_API_ANONYMOUS_READS"):
        anonymous_reads = host in LOOPBACK  # beyond this machine, reads need the token too
    app = create_app(token=token or "", max_body_bytes=max_body_bytes, anonymous_reads=anonymous_reads)
    logging.getLogger("uvicorn.access").addFilter(RedactQuery())  # no token of a URL reaches the log
    click.echo(
        f"results API on http://{host}:{port} (OpenAPI: /openapi.json, docs: /docs); "
        f"anonymous reads {'on' if app.state.anonymous_reads else 'off'}",
        err=True,
    )
    uvicorn.run(app, host=host, port=port, log_level="info")


COMMANDS = [serve]
