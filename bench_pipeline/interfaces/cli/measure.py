"""``bench-pipeline measure``: a thin shell over ``bench_pipeline.execution.measure``."""

from __future__ import annotations

import math

import click

from bench_pipeline.interfaces.cli.app import emit_json, err


def _seconds(_ctx: click.Context, _param: click.Parameter, value: float) -> float:
    if not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"{value} is not a positive number of seconds")
    return value


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--runs", default=10, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--warmup", default=1, show_default=True, type=click.IntRange(0, 1000))
@click.option(
    "--timeout", "timeout_s", default=600.0, show_default=True, type=float, callback=_seconds,
    help="seconds per run (more than 0)",
)  # fmt: skip
@click.option("--backend", default="local", show_default=True, type=click.Choice(["auto", "local", "docker"]))
@click.option(
    "--stdout", "stdout", default="pipe", show_default=True, type=click.Choice(["pipe", "devnull"]),
    help="the command's stdout: a pipe whose bytes are counted, or /dev/null (uncounted, as hyperfine -N)",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def measure(
    runs: int,
    warmup: int,
    timeout_s: float,
    backend: str,
    stdout: str,
    as_json: bool,
    command: tuple[str, ...],
) -> None:
    """Measure one command with the pipeline's runner (no shell): bench-pipeline measure -- CMD ARGS."""
    import polars as pl

    from bench_pipeline.execution.measure import measure_command, summarise
    from bench_pipeline.store.schema import MEASURED

    def say(message: str) -> None:
        if backend != "local":  # the choice is news only when there was one to make
            err.print(f"· {message}", markup=False)

    argv = list(command)
    samples, choice = measure_command(
        argv, runs=runs, warmup=warmup, timeout_s=timeout_s, backend=backend, progress=say, stdout=stdout
    )
    summary = summarise(samples)
    timed = samples.filter(~pl.col("warmup"))
    failed = timed.filter(~pl.col("ok"))
    if failed.height:
        first = failed.row(0, named=True)
        what = "timed out" if first["timed_out"] else f"exit {first['exit_code']}"
        tail = (first["stderr_tail"] or "").strip().splitlines()
        err.print(
            f"· {failed.height} of {timed.height} runs failed, not counted in the summary "
            f"(first: {what}{': ' + tail[-1] if tail else ''})",
            markup=False,
            soft_wrap=True,
        )
    if as_json:
        emit_json(
            {
                "command": argv,
                "backend": choice.kind,
                "runs": timed.select(MEASURED).to_dicts(),
                "summary": summary,
            }
        )
        return
    click.echo(
        f"{' '.join(argv)}  ({choice.kind}, {timed.height} runs{f', {failed.height} failed' if failed.height else ''})"
    )
    if not summary["n"]:
        click.echo("  no successful run: nothing to summarise")
        return
    ms = {k: v / 1e6 for k, v in summary.items() if k.endswith("_ns") and v is not None}
    click.echo(
        f"  wall  median {ms['median_ns']:.3f} ms  mean {ms['mean_ns']:.3f} ms  ± {ms['std_ns']:.3f} ms  "
        f"range {ms['min_ns']:.3f}–{ms['max_ns']:.3f} ms"
    )
    rss = summary["rss_median_bytes"]
    click.echo(
        f"  cpu (user + sys) median {ms['cpu_median_ns']:.3f} ms   peak RSS median {rss / (1 << 20):.1f} MiB"
        if "cpu_median_ns" in ms and rss is not None
        else "  cpu time and peak RSS not measured"
    )


COMMANDS = [measure]
