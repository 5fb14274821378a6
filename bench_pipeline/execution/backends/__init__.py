"""Execution backends: where the runner worker lives (a host process, or a Docker container).

Every backend starts the same ``bench_pipeline/execution/runner.py`` as a worker and talks to it
through ``Worker`` (JSON lines), so measurement is one code path everywhere (SPEC §4.1–4.2).
``choice`` picks the backend once per run.
"""

from bench_pipeline.execution.backends.base import Backend, WorkerSpec
from bench_pipeline.execution.backends.choice import (
    BACKENDS,
    DEFAULT_BACKEND,
    BackendChoice,
    choose_backend,
)
from bench_pipeline.execution.backends.worker import Worker

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "Backend",
    "BackendChoice",
    "Worker",
    "WorkerSpec",
    "choose_backend",
]
