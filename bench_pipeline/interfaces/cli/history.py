"""``bench-pipeline history``: each cell's medians across runs, change points, trend and the gate."""

from __future__ import annotations

import json
import sys

import click

from bench_pipeline.errors import RunNotFound


def _fmt(value: float | None, metric: str) -> str:
    if value is None:
        return "–"
    if metric not in ("wall", "cpu", "rss"):
        return f"{value:.4g}"  # an extra metric, in its own unit
    return f"{value / 2**20:.1f} MiB" if metric == "rss" else f"{value / 1e6:.2f} ms"


@click.command("history")
@click.option("--suite", default="vcs", show_default=True, help="suite name")
@click.option("--tool", default=None, help="only this tool")
@click.option(
    "--metric",
    default="wall",
    show_default=True,
    help="wall, cpu, rss, or an extra metric's key (tokens, score, …)",
)
@click.option("--include-quick", is_flag=True, help="also use quick runs (2–3 samples per cell)")
@click.option("--all-hosts", is_flag=True, help="use runs of every host, not only the newest run's")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object as the last line of stdout")
def history(
    suite: str, tool: str | None, metric: str, include_quick: bool, all_hosts: bool, as_json: bool
) -> None:
    """Change points, trends and the same-run gate of every cell's run medians (docs/history.md)."""
    from bench_pipeline.history import analyse_history, run_counts
    from bench_pipeline.store import Store

    store = Store()
    cells = analyse_history(
        store, suite, tool, metric, include_quick=include_quick, host=None if all_hosts else "newest"
    )
    if not cells:
        counts = run_counts(store, suite)
        if counts["succeeded"] == 0:
            raise RunNotFound(
                f"no succeeded runs of suite {suite!r}",
                fix=f"run it first: bench-pipeline run --suite {suite}",
            )
        if counts["succeeded"] == counts["quick"] and not include_quick:
            raise RunNotFound(
                f"suite {suite!r} has only quick runs ({counts['quick']})",
                fix="add --include-quick, or run the suite without --quick",
            )
        if tool is not None:
            raise RunNotFound(f"no history of tool {tool!r} in suite {suite!r}", fix="check the tool name")
    if as_json:
        sys.stdout.write(json.dumps({"cells": [c.model_dump(mode="json") for c in cells]}) + "\n")
        sys.stdout.flush()
        return
    runs = {p.run_id for c in cells for p in c.series}
    click.echo(f"history of suite {suite} ({metric}): {len(cells)} cells over {len(runs)} runs")
    quiet = 0
    for c in cells:
        t = c.trend
        notable = c.change_points or c.gate.outside or t.significant
        if not notable:
            quiet += 1
            continue
        trend = f"{t.slope_per_run:+.2%}/run (p {t.p_value:.2g})" if t.slope_per_run is not None else "–"
        click.echo(
            f"  {c.cell:<48} {c.points:>3} runs  now {_fmt(c.latest_median, metric):>11}  trend {trend}"
        )
        for cp in c.change_points:
            click.echo(
                f"      {cp.direction:<11} ×{cp.ratio:.3f} at {cp.run_id} "
                f"({_fmt(cp.before_median, metric)} → {_fmt(cp.after_median, metric)}, p {cp.p_value:.3f})"
            )
        if c.gate.outside:
            click.echo(
                f"      newest run ×{c.gate.ratio:.3f} of expected, outside "
                f"[{_fmt(c.gate.low, metric)}, {_fmt(c.gate.high, metric)}]"
                + (" — alert" if c.gate.alert else "")
            )
    click.echo(f"  {quiet} cell(s) without change points, gate alerts or significant trends")


COMMANDS = [history]
