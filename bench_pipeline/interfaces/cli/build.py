"""``bench-pipeline build``: obtain a suite's tools now (find them, reuse the tool cache, or build)."""

from __future__ import annotations

import sys

import click

from bench_pipeline.interfaces.cli.app import emit_json, err, progress


@click.command("build")
@click.option("--suite", default="vcs", show_default=True, help="suite name or path")
@click.option(
    "--tool",
    "tools",
    multiple=True,
    help="only these tools, or revisions TOOL@REV (repeatable); default: all of the suite",
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object as the last line of stdout")
def build(suite: str, tools: tuple[str, ...], as_json: bool) -> None:
    """Build the suite's missing tools into the per-user tool cache (what `run` would do first).

    A tool already on PATH or in the cache is not rebuilt. Exit 1 when a tool cannot be had.
    """
    from bench_pipeline.builds import describe, obtain_tool, record_builds
    from bench_pipeline.store import Store
    from bench_pipeline.suite import find_suite

    definition = find_suite(suite)
    statuses = []
    with progress(not as_json) as say:
        for tool in definition.select_tools(list(tools)):  # a tool, or a revision of it: jj@0.44.0
            statuses.append(obtain_tool(definition, tool, allow_build=True, progress=say))
    record_builds(Store(), statuses, suite=definition.name)
    rows = [
        {
            "tool": s.tool,
            "available": s.available,
            "action": s.action,
            "bin_dir": str(s.bin_dir) if s.bin_dir else None,
            "seconds": round(s.seconds, 1),
            "reason": s.reason,
            "fix": s.fix,
            "rev": s.rev,
            "commit": s.commit,
            "build_seconds": s.build_seconds,
        }
        for s in statuses
    ]
    if as_json:
        emit_json({"tools": rows})
    else:
        for s in statuses:  # progress already described the others
            if s.action == "installed":
                click.echo(describe(s))
            if not s.available and s.fix:
                err.print(f"  fix: {s.fix}", soft_wrap=True, markup=False)
    if not all(s.available for s in statuses):
        sys.exit(1)


COMMANDS = [build]
