"""The ``bench-pipeline`` command line (SPEC §10.1, contract in docs/cli.md).

Expected failures print one clear message on stderr and exit non-zero, never a traceback.
With ``--json`` the last line of stdout is exactly one JSON object; progress goes to stderr.
Commands that drive Dagster import it lazily, so the rest stays fast.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from bench_pipeline import paths
from bench_pipeline.errors import BenchError
from bench_pipeline.report.archive import FORMATS as REPORT_FORMATS

err = Console(stderr=True, highlight=False)
EXIT_REGRESSION = 3


def _code_location() -> None:
    """Make the Dagster code location (assets/, jobs/, definitions.py at the project root) importable."""
    root = str(paths.PROJECT_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)


def _emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


@contextmanager
def _progress(enabled: bool = True):
    """A progress sink: a live status line on a terminal, plain lines on stderr otherwise."""
    from bench_pipeline import progress as progress_mod

    if not enabled:
        yield lambda _m: None
        return
    if err.is_terminal:
        with err.status("starting …") as status:

            def say(message: str) -> None:
                if (
                    message.startswith("round ")
                    or message.startswith("fixture")
                    or message.startswith("building")
                ):
                    status.update(escape(message))
                else:
                    err.print(f"[dim]·[/dim] {escape(message)}")

            progress_mod.set_sink(say)
            try:
                yield say
            finally:
                progress_mod.set_sink(None)
    else:

        def say(message: str) -> None:
            err.print(f"· {message}", soft_wrap=True, markup=False)

        progress_mod.set_sink(say)
        try:
            yield say
        finally:
            progress_mod.set_sink(None)


class _Group(click.Group):
    """Turns expected failures into one message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BenchError as exc:
            err.print(f"[bold red]error:[/bold red] {exc.render()}", soft_wrap=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            err.print("interrupted")
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bench-pipeline")
def main() -> None:
    """Continuous benchmarking of command-line tools (jj, git, git worktrees, any CLI).

    Data live in $BENCH_PIPELINE_HOME (default ./data): the DuckDB store, landing files,
    fixtures and reports.
    """


# ---------------------------------------------------------------------------------------- run
@main.command()
@click.option("--suite", default="vcs", show_default=True, help="suite name (suites/NAME.yaml) or path")
@click.option(
    "--tool", "tools", multiple=True, help="only these tools (repeatable); default: all of the suite"
)
@click.option(
    "--size",
    "sizes",
    multiple=True,
    type=click.Choice(["small", "medium", "large"]),
    help="fixture sizes (repeatable); default: the suite's",
)
@click.option("--backend", default="auto", show_default=True, type=click.Choice(["auto", "local", "docker"]))
@click.option(
    "--quick", is_flag=True, help="few runs per cell, quick operations only (a smoke test, not verdicts)"
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object as the last line of stdout")
def run(
    suite: str, tools: tuple[str, ...], sizes: tuple[str, ...], backend: str, quick: bool, as_json: bool
) -> None:
    """Run a suite through the Dagster pipeline (in-process) and print where the reports are."""
    _code_location()
    from jobs.launch import run_pipeline

    started = time.monotonic()
    with _progress():
        result = run_pipeline(suite, tools=list(tools), sizes=list(sizes), quick=quick, backend=backend)
    if result.regression:
        err.print(f"[bold red]regression gate failed[/bold red]: {result.gate}", soft_wrap=True)
    if as_json:
        _emit_json(
            {
                "run_id": result.run_id,
                "suite": result.suite,
                "status": result.status,
                "samples": result.samples,
                "reports": result.reports,
                "cells": result.cells,
                "backend": result.backend,
                "regression": result.regression,
                "gate": result.gate,
                "seconds": round(time.monotonic() - started, 1),
            }
        )
    else:
        click.echo(
            f"run {result.run_id}: {result.status}, {result.samples} samples, "
            f"{time.monotonic() - started:.0f}s ({result.backend})"
        )
        for fmt, path in result.reports.items():
            click.echo(f"{fmt:>4}: {path}")
    if result.regression:
        sys.exit(EXIT_REGRESSION)


# ---------------------------------------------------------------------------------------- measure
@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--runs", default=10, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--warmup", default=1, show_default=True, type=click.IntRange(0, 1000))
@click.option("--timeout", "timeout_s", default=600.0, show_default=True, help="seconds per run")
@click.option("--backend", default="local", show_default=True, type=click.Choice(["auto", "local", "docker"]))
@click.option("--json", "as_json", is_flag=True)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def measure(
    runs: int, warmup: int, timeout_s: float, backend: str, as_json: bool, command: tuple[str, ...]
) -> None:
    """Measure one command with the pipeline's runner (no shell): bench-pipeline measure -- CMD ARGS."""
    from bench_pipeline.backends import WorkerSpec, select_backend
    from bench_pipeline.determinism import BASE_ENV

    argv = list(command)
    chosen, reason = select_backend(backend, bin_dir=paths.home() / "bin")
    err.print(f"· {reason}", markup=False)
    tmp = Path(tempfile.mkdtemp(prefix="bench-measure-"))
    try:
        worker = chosen.start_worker(
            WorkerSpec(
                suite="adhoc",
                tool=Path(argv[0]).name or "cmd",
                run_id="measure",
                work_dir=tmp / "work",
                fixture_dir=tmp,
            )
        )
        with worker:
            cwd = os.getcwd() if chosen.name == "local" else worker.work_root
            env = (
                {
                    **os.environ,
                    **{k: v for k, v in BASE_ENV.items() if k in ("LC_ALL", "TERM", "NO_COLOR", "PAGER")},
                }
                if chosen.name == "local"
                else {**BASE_ENV, "PATH": worker.path, "HOME": worker.work_root}
            )
            results = []
            for i in range(warmup + runs):
                r = worker.exec(argv, cwd, env, timeout_s)
                if i >= warmup:
                    results.append(r)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    walls = [r["wall_ns"] for r in results]
    summary = {
        "median_ns": int(statistics.median(walls)),
        "mean_ns": int(statistics.fmean(walls)),
        "std_ns": int(statistics.stdev(walls)) if len(walls) > 1 else 0,
        "min_ns": min(walls),
        "max_ns": max(walls),
        "n": len(walls),
    }
    keys = (
        "wall_ns",
        "user_ns",
        "sys_ns",
        "peak_rss_bytes",
        "exit_code",
        "timed_out",
        "read_bytes",
        "write_bytes",
    )
    if as_json:
        _emit_json(
            {
                "command": argv,
                "backend": chosen.name,
                "runs": [{k: r[k] for k in keys} for r in results],
                "summary": summary,
            }
        )
        return
    failed = sum(1 for r in results if r["exit_code"] != 0 or r["timed_out"])
    rss = statistics.median(r["peak_rss_bytes"] for r in results)
    click.echo(
        f"{' '.join(argv)}  ({chosen.name}, {len(results)} runs{f', {failed} failed' if failed else ''})"
    )
    click.echo(
        f"  wall  median {summary['median_ns'] / 1e6:.3f} ms  mean {summary['mean_ns'] / 1e6:.3f} ms  "
        f"± {summary['std_ns'] / 1e6:.3f} ms  range {summary['min_ns'] / 1e6:.3f}–{summary['max_ns'] / 1e6:.3f} ms"
    )
    click.echo(
        f"  user  median {statistics.median(r['user_ns'] for r in results) / 1e6:.3f} ms   "
        f"sys median {statistics.median(r['sys_ns'] for r in results) / 1e6:.3f} ms   "
        f"peak RSS median {rss / (1 << 20):.1f} MiB"
    )


# ---------------------------------------------------------------------------------------- fixtures
@main.command("fixtures")
@click.option("--suite", default="vcs", show_default=True)
@click.option("--size", required=True, type=click.Choice(["small", "medium", "large"]))
@click.option("--json", "as_json", is_flag=True)
def fixtures_cmd(suite: str, size: str, as_json: bool) -> None:
    """Build (or find in the cache) a suite's fixture of one size and print its path."""
    from bench_pipeline import fixtures
    from bench_pipeline.suite import find_suite

    find_suite(suite)  # validates the suite name
    started = time.perf_counter()
    with _progress(not as_json) as say:
        fx = fixtures.ensure_fixture(fixtures.fixture_for(size), paths.fixtures_dir(), progress=say)
    seconds = fx.seconds if not fx.cached else time.perf_counter() - started
    if as_json:
        _emit_json(
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


# ---------------------------------------------------------------------------------------- suites / validate
@main.command()
def suites() -> None:
    """List the suites, their tools and operations."""
    from bench_pipeline.suite import available_suites, load_suite_file

    found = available_suites()
    if not found:
        click.echo(f"no suites in {paths.SUITES_DIR}")
    for name, path in found.items():
        try:
            s = load_suite_file(path)
        except BenchError as exc:
            click.echo(
                f"{name}: INVALID ({exc.message.splitlines()[0]}); run `bench-pipeline validate {path}`"
            )
            continue
        click.echo(
            f"{name}: {len(s.operations)} operations × tools {', '.join(s.tools)} — {s.description.strip()[:100]}"
        )
        for op in s.operations:
            na = f"  (n/a: {', '.join(op.na)})" if op.na else ""
            click.echo(f"  {op.name:<24} {op.category:<12}{' mutating' if op.mutating else ''}{na}")


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
def validate(file: Path) -> None:
    """Validate a suite file; errors name the line, the field and the fix."""
    from bench_pipeline.suite import load_suite_file

    s = load_suite_file(file)
    na = sum(len(op.na) for op in s.operations)
    click.echo(
        f"{file}: valid — suite {s.name!r}, {len(s.tools)} tools, {len(s.operations)} operations, {na} n/a cells"
    )


# ---------------------------------------------------------------------------------------- doctor
@main.command()
@click.option("--json", "as_json", is_flag=True)
def doctor(as_json: bool) -> None:
    """What is available here (git, jj, Docker, cgroups, disk, compiler) and how to fix what is missing."""
    from bench_pipeline.doctor import check_all

    components = check_all()
    if as_json:
        _emit_json({"components": components})
        return
    for c in components:
        mark = (
            "[green]ok[/green]  "
            if c["available"]
            else ("[yellow]warn[/yellow]" if not c.get("required") else "[red]MISSING[/red]")
        )
        err.print(f"{mark} {c['name']:<14} {c.get('version') or ''} {c.get('detail') or ''}", soft_wrap=True)
        if not c["available"] and c.get("fix"):
            err.print(f"       fix: {c['fix']}", soft_wrap=True)
    if any(c.get("required") and not c["available"] for c in components):
        sys.exit(1)


# ---------------------------------------------------------------------------------------- report
@main.command()
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
    from bench_pipeline.reporting import render_run
    from bench_pipeline.store import Store

    formats = list(REPORT_FORMATS) if fmt == "all" else [fmt]
    rendered, written = render_run(Store(), suite, ref, formats)
    if as_json:
        _emit_json({"run_id": rendered.run.run_id, "reports": {k: str(v) for k, v in written.items()}})
        return
    for k, v in written.items():
        click.echo(f"{k:>4}: {v}")


# ---------------------------------------------------------------------------------------- compare
@main.command()
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
    as_json: bool,
) -> None:
    """Compare tools within a run (--run REF --tools A B), or a run with a baseline (--baseline REF).

    Run vs baseline rows also carry the cell's history (docs/history.md, "Regression gate"):
    history_runs, history_ratio (candidate / the level of up to 10 earlier runs) and
    history_confirmed (a regression that history agrees with, or that has too little history).
    """
    from bench_pipeline import gating
    from bench_pipeline.comparing import compare_run_to_baseline, compare_tools_in_run
    from bench_pipeline.history import suite_delta
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
        levels = gating.history_levels(store, suite, cand_id, metric, delta=delta)
        frame = gating.with_history(frame, levels, delta=delta).drop("_alert")
    rows = frame.to_dicts()
    regression = any(
        r["verdict"] == "regression" and (not confirmed or r.get("history_confirmed")) for r in rows
    )
    if as_json:
        _emit_json({"comparisons": rows, "notes": notes})
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
    if fail_on_regression and regression:
        err.print(
            "[bold red]regression[/bold red]: at least one cell is significantly slower than the baseline"
        )
        sys.exit(EXIT_REGRESSION)


# ---------------------------------------------------------------------------------------- images
@main.group()
def images() -> None:
    """Tool images for the Docker backend, built locally (no registry needed)."""


@images.command("build")
@click.option(
    "--tool", "tools", multiple=True, help="only these tools (repeatable); default: all with a recipe"
)
@click.option("--json", "as_json", is_flag=True)
def images_build(tools: tuple[str, ...], as_json: bool) -> None:
    """Build missing images (base from debootstrap when nothing can be pulled); existing tags are kept."""
    from bench_pipeline.images import build_images

    with _progress(not as_json) as say:
        built = build_images(list(tools) or None, progress=say)
    rows = [_image_row(i) for i in built]
    if as_json:
        _emit_json({"images": rows})
        return
    for row in rows:
        click.echo(f"{row['tool']:<14} {row['tag']}")


@images.command("list")
@click.option("--json", "as_json", is_flag=True)
def images_list(as_json: bool) -> None:
    """Images bench-pipeline built on this engine."""
    from bench_pipeline.images import list_images

    rows = [_image_row(i) for i in list_images()]
    if as_json:
        _emit_json({"images": rows})
        return
    if not rows:
        click.echo("no images yet: `bench-pipeline images build`")
    for row in rows:
        click.echo(f"{row['tool']:<14} {row['tag']}")


def _image_row(info: Any) -> dict:
    data = info.model_dump() if hasattr(info, "model_dump") else dict(getattr(info, "__dict__", {}))
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()}


# ---------------------------------------------------------------------------------------- ui
@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3000, show_default=True, type=int)
def ui(host: str, port: int) -> None:
    """Start the Dagster webserver and daemon for this project (dagster dev)."""
    _code_location()
    from jobs.launch import ensure_dagster_home

    home = ensure_dagster_home()
    exe = shutil.which("dagster") or str(Path(sys.executable).with_name("dagster"))
    err.print(f"· DAGSTER_HOME={home}; UI at http://{host}:{port}")
    os.chdir(paths.PROJECT_ROOT)
    os.execv(exe, [exe, "dev", "-w", str(paths.PROJECT_ROOT / "workspace.yaml"), "-h", host, "-p", str(port)])


def _register_command_modules() -> None:
    """Add the commands of every ``bench_pipeline.commands`` module (each exposes ``COMMANDS``)."""
    import importlib
    import pkgutil

    from bench_pipeline import commands

    for module in pkgutil.iter_modules(commands.__path__):
        for command in importlib.import_module(f"bench_pipeline.commands.{module.name}").COMMANDS:
            main.add_command(command)


_register_command_modules()

if __name__ == "__main__":
    main()
