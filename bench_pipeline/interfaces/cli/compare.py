"""``bench-pipeline compare``."""

from __future__ import annotations

import sys

import click

from bench_pipeline.errors import BenchError
from bench_pipeline.interfaces.cli.app import EXIT_REGRESSION, emit_json, err
from bench_pipeline.interfaces.cli.github import GITHUB_HELP, print_outputs


@click.command()
@click.option("--suite", default="vcs", show_default=True)
@click.option(
    "--run", "ref", default=None, help="tool vs tool within this run (id, latest, latest~N, tag:NAME)"
)
@click.option("--tools", nargs=2, default=None, metavar="A B", help="with --run: ratio = B / A")
@click.option("--baseline", default=None, help="run vs baseline: the baseline run REF")
@click.option("--candidate", default=None, help="run vs baseline: the candidate run REF (default latest)")
@click.option("--tool", default=None, help="with --baseline: only this tool")
@click.option(
    "--metric",
    default="wall",
    show_default=True,
    help="wall, cpu, rss, or an extra metric of the runs (an ingested key: tokens_in, cost, score, …)",
)
@click.option(
    "--fail-on-regression", is_flag=True, help=f"exit {EXIT_REGRESSION} when any verdict is `regression`"
)
@click.option(
    "--confirmed",
    is_flag=True,
    help="with --fail-on-regression: only regressions the cell's history confirms (the regression gate's rule)",
)
@click.option("--github", is_flag=True, help=GITHUB_HELP)
@click.option("--json", "as_json", is_flag=True)
def compare(
    suite: str,
    ref: str | None,
    tools: tuple[str, str] | None,
    baseline: str | None,
    candidate: str | None,
    tool: str | None,
    metric: str,
    fail_on_regression: bool,
    confirmed: bool,
    github: bool,
    as_json: bool,
) -> None:
    """Compare tools within a run (--run REF --tools A B), or a run with a baseline (--baseline REF).

    Run vs baseline rows also carry the cell's history (docs/history.md, "Regression gate"):
    history_runs, history_ratio (candidate / the level of up to 10 earlier runs) and
    history_confirmed (a regression that history agrees with, or that has too little history).
    """
    from bench_pipeline.analysis import compare_run_to_baseline, compare_tools_in_run
    from bench_pipeline.history import gate, suite_delta
    from bench_pipeline.store import Store

    store = Store()
    if baseline is None and tools is None:
        raise BenchError(
            "say what to compare", fix="--run REF --tools A B, or --baseline REF [--candidate REF]"
        )
    if baseline is not None and tools is not None:
        raise BenchError("--tools and --baseline are two different comparisons", fix="use one of them")
    if confirmed and baseline is None:
        raise BenchError("--confirmed applies to run vs baseline comparisons", fix="use it with --baseline")
    notes: list[str] = []
    if tools is not None:
        run_id, frame = compare_tools_in_run(store, suite, ref or "latest", tools[0], tools[1], metric)
        header = f"{tools[1]} vs {tools[0]} in run {run_id} ({metric}; ratio = {tools[1]} / {tools[0]})"
    else:
        base_id, cand_id, notes, frame = compare_run_to_baseline(
            store, suite, baseline or "latest~1", candidate or ref or "latest", tool, metric
        )
        header = f"run {cand_id} vs baseline {base_id} ({metric}; ratio = candidate / baseline)"
        delta = suite_delta(suite)
        levels = gate.history_levels(store, suite, cand_id, metric, delta=delta)
        frame = gate.with_history(frame, levels, delta=delta).drop("_alert")
    rows = frame.to_dicts()
    regression = any(
        r["verdict"] == "regression" and (not confirmed or r.get("history_confirmed")) for r in rows
    )
    outputs = {"github": _github(suite, header, rows, notes)} if github else {}
    if as_json:
        emit_json({"comparisons": rows, "notes": notes, **outputs})
    else:
        click.echo(header)
        for note in notes:
            err.print(f"[yellow]note:[/yellow] {note}")
        for r in rows:
            who = r.get("tool") or f"{r.get('tool_b')}/{r.get('tool_a')}"
            ci = f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]" if r["ci_low"] is not None else "[–]"
            ratio = f"{r['ratio']:.3f}" if r["ratio"] is not None else "–"
            p = f"{r['p_adjusted']:.2g}" if r["p_adjusted"] is not None else "–"
            note = ""
            if r.get("history_confirmed") is False:
                note = f" (not confirmed: ×{r['history_ratio']:.3f} vs its last {r['history_runs']} runs)"
            click.echo(
                f"  {r['operation']:<28} {r['fixture']:<7} {who:<22} {ratio:>7} {ci:<18} p_adj {p:<8} {r['verdict']}{note}"
            )
        if outputs:
            print_outputs(outputs["github"])
    if fail_on_regression and regression:
        err.print(
            "[bold red]regression[/bold red]: at least one cell is significantly slower than the baseline"
        )
        sys.exit(EXIT_REGRESSION)


def _github(suite: str, header: str, rows: list[dict], notes: list[str]) -> dict:
    """The comment (regressions first) next to the candidate run's reports, and the step summary."""
    from bench_pipeline import paths
    from bench_pipeline.interfaces.cli.github import write_outputs
    from bench_pipeline.report.github import comment_body, comparison_markdown, regression_line, worst_first

    first = rows[0] if rows else {}
    if "candidate_run" in first:
        name = f"{first['candidate_run']}/comment-vs-{first['baseline_run']}.md"
    else:
        name = f"{first.get('run_id', 'compare')}/comment-{first.get('tool_b')}-vs-{first.get('tool_a')}.md"
    worse = [
        regression_line(r) for r in sorted(rows, key=worst_first) if r["verdict"] in ("regression", "slower")
    ]
    text = comment_body(
        f"bench-pipeline compare: {header}",
        worse,
        comparison_markdown(rows, "### All comparisons", notes),
        pointer="the JSON of `bench-pipeline compare --json`",
        none_text="No regression: no cell is significantly slower beyond the margin δ.",
    )
    return write_outputs(text, paths.reports_dir() / suite / name)


COMMANDS = [compare]
