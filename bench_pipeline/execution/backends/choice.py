"""The backend choice, made in one place: ``auto`` (Docker when an engine answers and an image can be
had, else local, saying why), ``local`` or ``docker``. The result travels as one ``BackendChoice``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bench_pipeline.errors import BackendUnavailable
from bench_pipeline.execution.backends.base import Backend

BackendName = Literal["auto", "local", "docker"]
BACKENDS: tuple[str, ...] = ("auto", "local", "docker")
DEFAULT_BACKEND: BackendName = "auto"


@dataclass(frozen=True)
class BackendChoice:
    """What was asked for, what was chosen (``local`` or ``docker``) and why, in one line."""

    requested: str
    kind: str
    reason: str

    @property
    def fell_back(self) -> bool:
        return self.requested == "auto" and self.kind == "local"


def choose_backend(
    requested: str = DEFAULT_BACKEND, *, bin_dir: Path, allow_network: bool = False
) -> tuple[Backend, BackendChoice]:
    """The backend for ``requested`` and the choice made; ``docker`` raises when it cannot be used,
    ``auto`` falls back to ``local`` and says why."""
    from bench_pipeline.execution.backends.local import LocalBackend

    requested = requested or DEFAULT_BACKEND
    if requested == "local":
        return LocalBackend(bin_dir), BackendChoice("local", "local", "local backend requested")
    if requested not in BACKENDS:
        raise BackendUnavailable(f"unknown backend {requested!r}", fix="use auto, local or docker")
    from bench_pipeline.execution.backends.docker import DockerBackend

    try:
        backend = DockerBackend(bin_dir=bin_dir, allow_network=allow_network)
        reason = backend.check()
    except BackendUnavailable as exc:
        if requested == "docker":
            raise
        return LocalBackend(bin_dir), BackendChoice(
            "auto", "local", f"Docker not usable ({exc.message}); using local processes instead"
        )
    return backend, BackendChoice(requested, "docker", reason)
