"""``doctor``: what this machine offers bench-pipeline, and how to fix what is missing."""

from __future__ import annotations

import os
import shutil
import subprocess

from bench_pipeline import paths
from bench_pipeline.execution.environment import cgroup_version, noise_sources


def _version(argv: list[str]) -> str | None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (proc.stdout.strip() or proc.stderr.strip()).splitlines()[0] if proc.returncode == 0 else None


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


def check_tools(suite_name: str) -> list[dict]:
    """Each tool of the suite, with what ``run`` will do about it — in the run's own words."""
    from bench_pipeline.builds import describe, plan_tool
    from bench_pipeline.suite import find_suite

    suite = find_suite(suite_name)
    out = []
    for tool in suite.tools:
        status = plan_tool(suite, tool)
        version = (
            _version(["sh", "-c", " ".join(suite.tools[tool].version)])
            if status.action == "installed"
            else None
        )
        out.append(
            {
                **_component(tool, status.available, version, fix=status.fix, detail=describe(status)),
                "action": status.action,
            }
        )
    return out


def check_backend() -> dict:
    """What ``--backend auto`` will choose here, and why (the run prints the same line)."""
    from bench_pipeline.execution.backends import choose_backend

    try:
        _backend, choice = choose_backend("auto", bin_dir=paths.home() / "bin")
    except Exception as exc:  # nothing here may stop doctor
        return _component(
            "backend", False, None, fix="bench-pipeline run --backend local", detail=str(exc)[:200]
        )
    fix = (
        ""
        if choice.kind == "docker"
        else "apt-get install debootstrap (images are built locally), then `bench-pipeline images build`"
    )
    return {**_component("backend", True, f"auto → {choice.kind}", detail=choice.reason), "fix": fix}


def check_all(suite: str = "vcs") -> list[dict]:
    out = []
    git = _version(["git", "--version"])
    out.append(_component("git", git is not None, git, fix="apt-get install git", required=True))
    out += [c for c in check_tools(suite) if c["name"] != "git"]  # the git tool is the git component
    out.append(check_docker())
    out.append(check_backend())
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
    noise = noise_sources()
    out.append(
        _component(
            "quiet-machine",
            not noise,
            None,
            fix="verdicts at ±3 % need more rounds here: stop other work, use a governor of performance, "
            "or run `bench-pipeline doctor --aa` to see how many pairs this machine decides",
            detail="; ".join(noise) if noise else "no known source of timing noise",
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
    db = shutil.which("debootstrap")
    out.append(
        _component(
            "debootstrap",
            db is not None,
            db,
            fix="apt-get install debootstrap (Docker images are built locally: no registry is needed)",
            detail="builds the base image of the Docker backend",
        )
    )
    hf = _version(["hyperfine", "--version"])
    out.append(_component("hyperfine", hf is not None, hf, fix="apt-get install hyperfine (benchmarks only)"))
    return out
