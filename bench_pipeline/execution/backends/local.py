"""The local backend: the runner worker as a small host process (the embedded default).

Placement: every tool's worker pins the commands it measures to the same CPU set (``cpus``), so
whichever core the scheduler puts a worker on, its tool's commands run where every other tool's
do (issue 18 item 6). The worker's own bookkeeping is not pinned.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bench_pipeline.errors import BackendUnavailable
from bench_pipeline.execution.backends.base import WorkerSpec
from bench_pipeline.execution.backends.worker import Worker
from bench_pipeline.execution.native import ensure_exec_helper
from bench_pipeline.execution.runner import cpu_ranges

RUNNER = Path(__file__).resolve().parent.parent / "runner.py"


def available_cpus() -> list[int]:
    """The CPUs this process may run on (its affinity mask: a cpuset or taskset narrows it)."""
    return sorted(os.sched_getaffinity(0))


def measuring_cpus(cpus: Sequence[int] | None = None) -> list[int]:
    """The CPU set measured commands are pinned to: ``cpus`` if given (checked), else all available."""
    available = available_cpus()
    if cpus is None:
        return available
    chosen = sorted(set(cpus))
    outside = [c for c in chosen if c not in available]
    if not chosen or outside:
        raise BackendUnavailable(
            f"cannot measure on CPUs {chosen}: this process may only use {available}",
            where="cpus",
            fix=f"choose CPUs among {available}",
        )
    return chosen


class LocalBackend:
    name = "local"

    def __init__(self, bin_dir: Path, cpus: Sequence[int] | None = None) -> None:
        self.exec_helper = ensure_exec_helper(bin_dir)
        self.cpus = measuring_cpus(cpus)

    def start_worker(self, spec: WorkerSpec) -> Worker:
        spec.work_dir.mkdir(parents=True, exist_ok=True)
        # -I -S: isolated, no site: a small interpreter with nothing of ours loaded but runner.py
        argv = [sys.executable, "-I", "-S", str(RUNNER), "--serve"]
        if self.exec_helper:
            argv += ["--exec-helper", str(self.exec_helper)]
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=spec.work_dir,
            start_new_session=True,
        )
        return Worker.from_process(
            proc,
            description=f"local:{spec.suite}/{spec.tool}",
            work_root=str(spec.work_dir),
            fixture_root=str(spec.fixture_dir),
            path=os.pathsep.join([*spec.path_prepend, os.environ.get("PATH", "/usr/bin:/bin")]),
            cpus=self.cpus,
        )

    def describe(self) -> dict:
        return {
            "backend": "local",
            "python": platform.python_version(),
            "rss_method": "bench-exec" if self.exec_helper else "python-fork",
            "cpus": cpu_ranges(self.cpus),
        }
