"""``bench-pipeline ui``."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

from bench_pipeline import paths
from bench_pipeline.interfaces.cli.app import code_location, err


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3000, show_default=True, type=int)
def ui(host: str, port: int) -> None:
    """Start the Dagster webserver and daemon for this project (dagster dev)."""
    code_location()
    from bench_pipeline.interfaces.inprocess import ensure_dagster_home

    home = ensure_dagster_home()
    from dagster import DagsterInstance

    from assets.partitions import sync_partitions

    with DagsterInstance.get() as instance:  # suites and tools are partitions from the first page on
        sync_partitions(instance)
    exe = shutil.which("dagster") or str(Path(sys.executable).with_name("dagster"))
    err.print(f"· DAGSTER_HOME={home}; UI at http://{host}:{port}")
    os.chdir(paths.PROJECT_ROOT)
    os.execv(exe, [exe, "dev", "-w", str(paths.PROJECT_ROOT / "workspace.yaml"), "-h", host, "-p", str(port)])


COMMANDS = [ui]
