"""``doctor``: what this machine offers bench-pipeline, and how to fix what is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from bench_pipeline import paths
from bench_pipeline.execution.environment import cgroup_version

JJ_VERSION = "0.45.1"  # the pinned jj-cli release (0.46 needs a newer rustc than this machine has)
JJ_INSTALL = f"cargo install --locked --bin jj jj-cli@{JJ_VERSION}"


def _version(argv: list[str]) -> str | None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (proc.stdout.strip() or proc.stderr.strip()).splitlines()[0] if proc.returncode == 0 else None


def find_jj() -> str | None:
    found = shutil.which("jj")
    if found:
        return found
    cargo_jj = Path.home() / ".cargo" / "bin" / "jj"
    return str(cargo_jj) if cargo_jj.exists() else None


def _component(
    name: str,
    available: bool,
    version: str | None = None,
    fix: str = "",
    detail: str = "",
    required: bool = False,
) -> dict:
    return {
        "name": name,
        "available": available,
        "version": version,
        "fix": "" if available else fix,
        "detail": detail,
        "required": required,
    }


def check_docker() -> dict:
    try:
        import docker

        client = docker.from_env(timeout=5)  # type: ignore[attr-defined]
        version = client.version().get("Version")
        client.close()
        return _component("docker", True, version, detail="engine answers")
    except Exception as exc:  # any failure means: not usable
        return _component(
            "docker",
            False,
            None,
            fix="start the Docker engine, or use --backend local",
            detail=str(exc).splitlines()[0][:120],
        )


def check_all() -> list[dict]:
    out = []
    git = _version(["git", "--version"])
    out.append(_component("git", git is not None, git, fix="apt-get install git", required=True))
    jj = find_jj()
    jj_version = _version([jj, "--version"]) if jj else None
    out.append(_component("jj", jj_version is not None, jj_version, fix=JJ_INSTALL, detail=jj or ""))
    out.append(check_docker())
    cg = cgroup_version()
    out.append(
        _component(
            "cgroup",
            cg != "none",
            cg,
            detail="v2 gives per-run memory.peak in containers"
            if cg == "v2"
            else "v1: container memory peak from memory.max_usage_in_bytes"
            if cg == "v1"
            else "",
            fix="run on Linux with cgroups mounted for container limits",
        )
    )
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    out.append(
        _component(
            "c-compiler",
            cc is not None,
            _version([cc, "--version"]) if cc else None,
            fix="apt-get install gcc libc6-dev (for exact peak-RSS of small commands)",
            detail="builds the bench-exec helper",
        )
    )
    home = paths.home()
    probe = home if home.exists() else home.parent
    free = shutil.disk_usage(probe).free if probe.exists() else 0
    out.append(
        _component(
            "disk",
            free > 5 << 30,
            f"{free / (1 << 30):.0f} GiB free at {probe}",
            fix="free disk space: large fixtures need several GiB",
            required=free < 1 << 30,
        )
    )
    hf = _version(["hyperfine", "--version"])
    out.append(_component("hyperfine", hf is not None, hf, fix="apt-get install hyperfine (benchmarks only)"))
    return out
