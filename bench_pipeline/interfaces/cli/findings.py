"""``bench-pipeline findings``: what the pipeline learned about a run (recommendations with evidence,
error clusters, quality, similar earlier runs), as in the reports' Findings section."""

from __future__ import annotations

import click

from bench_pipeline.interfaces.cli.app import emit_json


@click.command("findings")
@click.option("--suite", default="vcs", show_default=True, help="suite name")
@click.option(
    "--run", "ref", default="latest", show_default=True, help="run id, latest, latest~N or tag:NAME"
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object as the last line of stdout")
def findings(suite: str, ref: str, as_json: bool) -> None:
    """Recommendations with their evidence, error clusters, the quality score with its components and
    the 3 most similar earlier runs (with why) of one run (docs/reports.md, "Findings")."""
    from bench_pipeline.patterns.findings import run_findings
    from bench_pipeline.report.markdown_findings import findings_markdown
    from bench_pipeline.store import Store

    store = Store()
    found = run_findings(store, suite, store.resolve_run(suite, ref))
    if as_json:
        emit_json(found.model_dump(mode="json"))
        return
    click.echo(f"# Findings of {suite} run {found.run_id}")
    click.echo("\n".join(findings_markdown(found)[3:]))


COMMANDS = [findings]
