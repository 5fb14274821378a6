"""``bench-pipeline ui``: the Dagster webserver and daemon for this project (``dagster dev``).

The command owns what it starts: ``dagster dev`` runs in a process group of its own, and on
SIGINT or SIGTERM every process it started (webserver, daemon, code servers — wherever they
are in the process tree) is stopped within ten seconds: politely first, then killed.
``dagster dev`` runs in the instance directory, whose ``dagster.yaml`` is the project's copy, so
Dagster has no other ``dagster.yaml`` to warn about.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from bench_pipeline import paths
from bench_pipeline.interfaces.cli.app import code_location, err

STOP_SECONDS = 10.0


def _descendants(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def stop_tree(proc: subprocess.Popen, known: dict, timeout_s: float = STOP_SECONDS) -> None:
    """SIGTERM to ``proc``'s group and every process it started, SIGKILL what remains at half time."""
    import psutil

    for child in _descendants(proc.pid):
        known[child.pid] = child
    for sig, wait in ((signal.SIGTERM, timeout_s / 2), (signal.SIGKILL, timeout_s / 2)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        alive = [p for p in known.values() if p.is_running()]
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.send_signal(sig)
        _gone, alive = psutil.wait_procs(alive, timeout=wait)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0 if not alive else 0.1)
        if not alive and proc.poll() is not None:
            return


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3000, show_default=True, type=int)
def ui(host: str, port: int) -> None:
    """Start the Dagster webserver and daemon for this project (dagster dev); Ctrl-C stops them all."""
    code_location()
    from dagster import DagsterInstance

    from assets.partitions import sync_partitions
    from bench_pipeline.interfaces.inprocess import ensure_dagster_home

    home = ensure_dagster_home()
    with DagsterInstance.get() as instance:  # suites and tools are partitions from the first page on
        sync_partitions(instance)
    exe = shutil.which("dagster") or str(Path(sys.executable).with_name("dagster"))
    err.print(
        f"· Dagster UI at http://{host}:{port} — instance in {home} (the project's dagster.yaml, copied "
        "there); Ctrl-C stops the webserver, the daemon and the code servers",
        soft_wrap=True,
        markup=False,
    )
    workspace = str(paths.PROJECT_ROOT / "workspace.yaml")
    proc = subprocess.Popen(
        [exe, "dev", "-w", workspace, "-h", host, "-p", str(port)],
        cwd=home,
        # `dagster dev` says it is superseded by `dg dev` (a tool this project does not install)
        env={**os.environ, "DAGSTER_HOME": str(home), "PYTHONWARNINGS": "ignore::Warning:click.core"},
        start_new_session=True,
    )
    known: dict = {}
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        err.print(f"· stopping the Dagster UI ({signal.Signals(signum).name})", markup=False)
        stop_tree(proc, known)
        sys.exit(0 if signum == signal.SIGTERM else 130)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while proc.poll() is None:  # remember the tree as it grows: children may leave the group
        for child in _descendants(proc.pid):
            known.setdefault(child.pid, child)
        time.sleep(1)
    stop_tree(proc, known)  # dagster dev ended by itself: leave none of its children behind
    if proc.returncode:
        raise click.ClickException(f"dagster dev exited with {proc.returncode}")


COMMANDS = [ui]
