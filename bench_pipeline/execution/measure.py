"""One command measured through a runner worker: a runner result as a sample row, and ad-hoc measuring.

:func:`result_row` turns what the worker reports for one execution into a ``samples`` row (suite
rounds use it too). :func:`measure_command` and :func:`summarise` are ``bench-pipeline measure``:
warmups, then timed runs of one command in one worker of the chosen backend, back to back in
batches (the worker's ``exec_many``: as in hyperfine's loop, nothing of ours runs between two
runs), as sample rows, and their summary by ``bench_pipeline.stats.cell_stats`` (timed, successful
runs count, as in suite runs).
"""

from __future__ import annotations

import math
import os
import shlex
import shutil
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from bench_pipeline import paths
from bench_pipeline.errors import ToolUnavailable
from bench_pipeline.execution.backends import BackendChoice, WorkerSpec, choose_backend
from bench_pipeline.stats import cell_stats
from bench_pipeline.store.schema import MEASURED, SAMPLE_SCHEMA, sample_row
from bench_pipeline.suite.determinism import BASE_ENV

STDERR_TAIL_CHARS = 1000  # of a failed run's stderr kept in the sample
#: for the local backend measure keeps the caller's environment, with these quieted
LOCAL_QUIET = ("LC_ALL", "TERM", "NO_COLOR", "PAGER")
ADHOC_SUITE = "adhoc"
ADHOC_RUN = "measure"
ADHOC_FIXTURE = "default"
#: timed runs per round trip to the worker (each batch runs back to back in its helper)
BATCH_RUNS = 100


def result_row(result: Mapping[str, Any], *, ok: bool, **keys: Any) -> dict[str, Any]:
    """A ``samples`` row from one runner result: its measured columns (absent ones null), success as the
    caller judged it, the stderr tail of a failure only, stamped now; ``keys`` are the other columns."""
    return sample_row(
        {name: result.get(name) for name in MEASURED},
        ok=ok,
        stderr_tail=None if ok else (result.get("stderr_tail") or "")[-STDERR_TAIL_CHARS:],
        created_at=datetime.now(UTC),
        **keys,
    )


def not_started(result: Mapping[str, Any]) -> bool:
    """The runner could not start the command at all: it reports that as exit 127 (not found) or
    126 (not executable) with no time (``runner._spawn_error``); a command that ran took time."""
    return result["exit_code"] in (126, 127) and not result["wall_ns"]


def measure_command(
    argv: list[str],
    *,
    runs: int,
    warmup: int,
    timeout_s: float,
    backend: str,
    progress: Callable[[str], None] | None = None,
    stdout: str = "pipe",
) -> tuple[pl.DataFrame, BackendChoice]:
    """``warmup`` untimed then ``runs`` timed executions of ``argv`` (no shell) in one worker.

    ``stdout``: ``pipe`` (counted) or ``devnull`` (as ``hyperfine -N``; ``stdout_bytes`` null).

    Returns the samples (``SAMPLE_SCHEMA``; warmups flagged, success = exit 0 and not timed out)
    and the backend choice. The local backend runs in the current directory with the caller's
    environment; Docker in the worker's work directory with the deterministic base environment.
    Raises ToolUnavailable when the command cannot be started, BackendUnavailable for the backend.
    """
    if not argv:
        raise ValueError("no command to measure")
    if runs < 1 or warmup < 0:
        raise ValueError("runs must be at least 1 and warmup not negative")
    if not (math.isfinite(timeout_s) and timeout_s > 0):
        raise ValueError("timeout_s must be a positive number of seconds")
    chosen, choice = choose_backend(backend, bin_dir=paths.home() / "bin")
    if progress:
        progress(f"backend {choice.kind}: {choice.reason}")
    tool = Path(argv[0]).name or "cmd"
    keys = {
        "run_id": ADHOC_RUN,
        "suite": ADHOC_SUITE,
        "tool": tool,
        "operation": shlex.join(argv),
        "fixture": ADHOC_FIXTURE,
        "backend": choice.kind,
    }
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-measure-"))
    try:
        spec = WorkerSpec(
            suite=ADHOC_SUITE, tool=tool, run_id=ADHOC_RUN, work_dir=tmp / "work", fixture_dir=tmp
        )
        with chosen.start_worker(spec) as worker:
            worker.stdout = stdout
            if choice.kind == "local":
                cwd = os.getcwd()
                env = {**os.environ, **{k: BASE_ENV[k] for k in LOCAL_QUIET}}
            else:
                cwd = worker.work_root
                env = {**BASE_ENV, **worker.env, "PATH": worker.path, "HOME": worker.work_root}
            request = worker.exec_request(argv, cwd, env, timeout_s)
            i = 0
            for batch in _batches(warmup, runs):
                # back to back in the worker's helper: nothing of ours runs between two runs (hyperfine's loop)
                for result in worker.exec_many([request] * batch):
                    if not_started(result):
                        raise ToolUnavailable(
                            f"{result.get('stderr_tail') or 'cannot execute'} ({choice.kind} backend)",
                            fix="check the command's path and that it is executable (it runs without a shell)",
                        )
                    warm = i < warmup
                    rows.append(
                        result_row(
                            result,
                            ok=result["exit_code"] == 0 and not result["timed_out"],
                            round=i,
                            iteration=-1 if warm else i - warmup,
                            warmup=warm,
                            **keys,
                        )
                    )
                    i += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return pl.DataFrame(rows, schema=SAMPLE_SCHEMA), choice


def _batches(warmup: int, runs: int, size: int = BATCH_RUNS) -> list[int]:
    """Batch sizes for ``warmup`` then ``runs`` executions: the warmups alone (a command that cannot
    start is told before the timed runs), then at most ``size`` runs per batch."""
    sizes = [warmup] if warmup else []
    sizes += [min(size, runs - k) for k in range(0, runs, size)]
    return sizes


def summarise(samples: pl.DataFrame) -> dict[str, Any]:
    """The summary of ``measure``: wall-time ``median_ns, mean_ns, std_ns, min_ns, max_ns, n`` over the
    timed successful runs, with ``n_failed``, the median's 95% CI (``ci_low_ns``/``ci_high_ns``, null
    below 6 runs) and the medians of CPU time and peak RSS. Statistics of no run are null; the
    spread of one run is 0. Values come from ``cell_stats``, rounded to whole units."""
    stats = {r["metric"]: r for r in cell_stats(samples, ("wall", "cpu", "rss")).iter_rows(named=True)}
    wall = stats["wall"]

    def whole(value: float | None) -> int | None:
        return None if value is None else round(value)

    return {
        "median_ns": whole(wall["median"]),
        "mean_ns": whole(wall["mean"]),
        "std_ns": 0 if wall["n"] == 1 else whole(wall["std"]),
        "min_ns": whole(wall["min"]),
        "max_ns": whole(wall["max"]),
        "n": wall["n"],
        "n_failed": wall["n_failed"],
        "ci_low_ns": whole(wall["ci_low"]),
        "ci_high_ns": whole(wall["ci_high"]),
        "cpu_median_ns": whole(stats["cpu"]["median"]),
        "rss_median_bytes": whole(stats["rss"]["median"]),
    }
