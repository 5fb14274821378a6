"""``bench-pipeline measure``."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
from pathlib import Path

import click

from bench_pipeline import paths
from bench_pipeline.interfaces.cli.app import emit_json, err


@click.command(context_settings={"ignore_unknown_options": True})
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
    from bench_pipeline.execution.backends import WorkerSpec, choose_backend
    from bench_pipeline.execution.determinism import BASE_ENV

    argv = list(command)
    chosen, choice = choose_backend(backend, bin_dir=paths.home() / "bin")
    err.print(f"· backend {choice.kind}: {choice.reason}", markup=False)
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
        emit_json(
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


COMMANDS = [measure]
