"""What a backend is, and how ``auto`` chooses one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bench_pipeline.errors import BackendUnavailable
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


class Backend(Protocol):
    name: str

    def start_worker(self, spec: WorkerSpec) -> Worker: ...

    def describe(self) -> dict: ...


def select_backend(choice: str, *, bin_dir: Path, allow_network: bool = False) -> tuple[Backend, str]:
    """Return (backend, why) for ``auto``, ``local`` or ``docker``."""
    from bench_pipeline.execution.backends.local import LocalBackend

    if choice == "local":
        return LocalBackend(bin_dir), "local backend requested"
    if choice not in ("docker", "auto"):
        raise BackendUnavailable(f"unknown backend {choice!r}", fix="use auto, local or docker")
    from bench_pipeline.execution.backends.docker import DockerBackend

    try:
        backend = DockerBackend(bin_dir=bin_dir, allow_network=allow_network)
        reason = backend.check()
    except BackendUnavailable as exc:
        if choice == "docker":
            raise
        return LocalBackend(bin_dir), f"auto: Docker not usable ({exc.message}); using local"
    return backend, f"{'auto: ' if choice == 'auto' else ''}{reason}"
