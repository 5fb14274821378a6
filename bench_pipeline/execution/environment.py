"""Environment capture: what machine, kernel, filesystem and tool versions a run measured on.

Recorded per run (SPEC §4.4) so that comparisons across different hosts are flagged instead
of silently mixed.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

import psutil

from bench_pipeline import __version__
from bench_pipeline.paths import PROJECT_ROOT


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def filesystem_type(path: Path) -> str:
    """The filesystem type of the mount holding ``path`` (longest matching mount point)."""
    path = path.resolve()
    best, fstype = "", "unknown"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and str(path).startswith(parts[1]) and len(parts[1]) > len(best):
                best, fstype = parts[1], parts[2]
    except OSError:
        pass
    return fstype


def cgroup_version() -> str:
    if Path("/sys/fs/cgroup/cgroup.controllers").exists():
        return "v2"
    if Path("/sys/fs/cgroup/memory").exists():
        return "v1"
    return "none"


def project_commit() -> str | None:
    if not shutil.which("git") or not (PROJECT_ROOT / ".git").exists():
        return None
    proc = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def host_info(work_dir: Path) -> dict:
    """A JSON-able description of this host; ``fingerprint`` identifies comparable machines."""
    vm = psutil.virtual_memory()
    info = {
        "hostname": platform.node(),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_bytes": vm.total,
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "work_fs": filesystem_type(work_dir),
        "cgroup": cgroup_version(),
        "load_avg": list(os.getloadavg()),
        "bench_pipeline_version": __version__,
        "bench_pipeline_commit": project_commit(),
        **this_host(),
    }
    info["fingerprint"] = f"{info['cpu_model']}|{info['cores']}|{vm.total // (1 << 30)}GiB|{info['kernel']}"
    return info


HOST_ENV = "BENCH_PIPELINE_HOST"  # this host's name, as runs record it (default: the hostname)
HOST_CLASS_ENV = "BENCH_PIPELINE_HOST_CLASS"  # this host's class (default: local)
LOCAL_CLASS = "local"  # runs measured where the pipeline runs, outside a fleet


def this_host() -> dict[str, str]:
    """The host and host class a run measured here records (docs/scaling.md, "Hosts in the data"):
    a fleet worker sets both; elsewhere the host is the hostname and the class ``local``."""
    return {
        "host": os.environ.get(HOST_ENV) or platform.node(),
        "host_class": os.environ.get(HOST_CLASS_ENV) or LOCAL_CLASS,
    }


def noise_sources(
    sys_root: Path = Path("/sys"), load: float | None = None, cpus: int | None = None
) -> list[str]:
    """What on this machine makes timings vary beyond the commands' own noise, each with its cause.

    * a DAMON ``pageout`` scheme (``kdamond``): the kernel pages out memory it sees as cold,
      page cache included, so file-heavy commands re-read their files at random moments (common on
      VMs that return memory to their host);
    * a CPU frequency governor other than ``performance``: the clock changes under a run;
    * a load average above half the CPUs: other work competes for the cores.
    """
    found: list[str] = []
    damon = sys_root / "kernel/mm/damon/admin/kdamonds"
    for kdamond in sorted(damon.glob("[0-9]*")):
        try:
            if (kdamond / "state").read_text().strip() != "on":
                continue
            actions = {a.read_text().strip() for a in kdamond.glob("contexts/*/schemes/*/action")}
        except OSError:
            continue
        if "pageout" in actions:
            found.append(
                f"DAMON pageout is on ({kdamond.name}): the kernel pages out memory it sees as cold, page "
                "cache included, so file-heavy commands vary from run to run"
            )
    governors = set()
    for gov in (sys_root / "devices/system/cpu").glob("cpu[0-9]*/cpufreq/scaling_governor"):
        try:
            governors.add(gov.read_text().strip())
        except OSError:
            continue
    if governors - {"performance"}:
        found.append(
            f"CPU frequency governor {', '.join(sorted(governors))} (not performance): the clock changes under a run"
        )
    load = os.getloadavg()[0] if load is None else load
    cpus = (os.cpu_count() or 1) if cpus is None else cpus
    if load > cpus / 2:
        found.append(f"load average {load:.1f} on {cpus} CPUs: other work competes for the cores")
    return found
