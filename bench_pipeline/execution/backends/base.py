"""What a backend is, and how ``auto`` chooses one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bench_pipeline.execution.backends.worker import Worker


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker for one suite × tool needs: its directories and limits."""

    suite: str
    tool: str
    run_id: str
    work_dir: Path  # host directory, read-write, the run's work area for this tool
    fixture_dir: Path  # host directory holding the tool's pristine fixtures, mounted read-only
    profile: str = "medium"
    image: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    path_prepend: tuple[str, ...] = ()  # host directories first on PATH (tools from the tool cache)


class Backend(Protocol):
    name: str

    def start_worker(self, spec: WorkerSpec) -> Worker: ...

    def describe(self) -> dict: ...
