"""``bench-pipeline report``."""

from __future__ import annotations

import click

from bench_pipeline.interfaces.cli.app import emit_json
from bench_pipeline.report.archive import FORMATS as REPORT_FORMATS


@click.command()
@click.option("--suite", default="vcs", show_default=True)
@click.option(
    "--run", "ref", default="latest", show_default=True, help="run id, latest, latest~N or tag:NAME"
)
@click.option(
    "--format", "fmt", default="all", show_default=True, type=click.Choice([*REPORT_FORMATS, "all"])
)
@click.option("--json", "as_json", is_flag=True)
def report(suite: str, ref: str, fmt: str, as_json: bool) -> None:
    """Render (or re-render) the reports of a run."""
    from bench_pipeline.report.render import render_run
    from bench_pipeline.store import Store

    formats = list(REPORT_FORMATS) if fmt == "all" else [fmt]
    rendered, written = render_run(Store(), suite, ref, formats)
    if as_json:
        emit_json({"run_id": rendered.run.run_id, "reports": {k: str(v) for k, v in written.items()}})
        return
    for k, v in written.items():
        click.echo(f"{k:>4}: {v}")


COMMANDS = [report]
