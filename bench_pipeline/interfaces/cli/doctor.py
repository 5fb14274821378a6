"""``bench-pipeline doctor``."""

from __future__ import annotations

import sys

import click

from bench_pipeline.interfaces.cli.app import emit_json, err


@click.command()
@click.option("--json", "as_json", is_flag=True)
def doctor(as_json: bool) -> None:
    """What is available here (git, jj, Docker, cgroups, disk, compiler) and how to fix what is missing."""
    from bench_pipeline.ops.doctor import check_all

    components = check_all()
    if as_json:
        emit_json({"components": components})
        return
    for c in components:
        mark = (
            "[green]ok[/green]  "
            if c["available"]
            else ("[yellow]warn[/yellow]" if not c.get("required") else "[red]MISSING[/red]")
        )
        err.print(f"{mark} {c['name']:<18} {c.get('version') or ''} {c.get('detail') or ''}", soft_wrap=True)
        if not c["available"] and c.get("fix"):
            err.print(f"       fix: {c['fix']}", soft_wrap=True)
    if any(c.get("required") and not c["available"] for c in components):
        sys.exit(1)


COMMANDS = [doctor]
