"""The local backend: the runner worker as a small host process (the embedded default)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

from bench_pipeline.execution.backends.base import WorkerSpec
from bench_pipeline.execution.backends.worker import Worker
from bench_pipeline.execution.native import ensure_exec_helper

RUNNER = Path(__file__).resolve().parent.parent / "runner.py"


class LocalBackend:
    name = "local"

    def __init__(self, bin_dir: Path) -> None:
        self.exec_helper = ensure_exec_helper(bin_dir)

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
        )

    def describe(self) -> dict:
        return {
            "backend": "local",
            "python": platform.python_version(),
            "rss_method": "bench-exec" if self.exec_helper else "python-fork",
        }
