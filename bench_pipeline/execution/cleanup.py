"""What a killed run leaves behind, removed by the next run: its work directory (fixture copies,
tens of MB) and its Docker containers (exited, or still running for a worker whose parent died).

A run is *live* while its status is ``running`` with no pending status and its process exists
(``Store.reap_interrupted`` marks the others ``interrupted`` first). Everything of a run that is not
live goes; containers are found by the project's label (``bench-pipeline=1``, ``….run-id``), so
nothing else on the Docker host is touched. Without a Docker engine only directories are cleaned.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from bench_pipeline import paths
from bench_pipeline.errors import BenchError
from bench_pipeline.store import Store

log = logging.getLogger(__name__)


@dataclass
class Cleaned:
    work_dirs: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)


def live_runs(store: Store) -> set[str]:
    if not store.path.exists():
        return set()
    frame = store.query("SELECT run_id FROM runs WHERE status = 'running' AND pending_status IS NULL")
    return set(frame["run_id"].to_list())


def clean_dead_runs(store: Store, *, work_dir: Path | None = None, docker: bool = True) -> Cleaned:
    """Remove work directories and labelled containers of every run that is not live."""
    store.reap_interrupted()
    live = live_runs(store)
    cleaned = Cleaned()
    work = work_dir or paths.work_dir()
    if work.is_dir():
        for directory in work.iterdir():
            if directory.is_dir() and directory.name not in live:
                shutil.rmtree(directory, ignore_errors=True)
                cleaned.work_dirs.append(directory.name)
    if docker:
        cleaned.containers = _remove_containers(live)
    if cleaned.work_dirs or cleaned.containers:
        log.info(
            "removed work directories %s and containers %s of dead runs",
            cleaned.work_dirs,
            cleaned.containers,
        )
    return cleaned


def _remove_containers(live: set[str]) -> list[str]:
    from bench_pipeline.execution import images
    from bench_pipeline.execution.backends.docker import LABEL

    try:
        client = images.docker_client(timeout=5)
    except BenchError:
        return []  # no engine here: no containers of ours either
    removed = []
    try:
        for container in client.containers.list(all=True, filters={"label": [f"{LABEL}=1"]}):
            run_id = (container.labels or {}).get(f"{LABEL}.run-id", "")
            running = container.status in ("running", "restarting", "paused")
            # a live run's workers stay; `measure`'s ad-hoc worker (no stored run) only once it exited
            if run_id in live or (running and not _stored(run_id)):
                continue
            try:
                container.remove(force=True)
                removed.append(container.name)
            except Exception as exc:  # already gone
                log.debug("remove %s: %s", container.name, exc)
    except Exception as exc:  # the engine went away meanwhile: next time
        log.warning("could not list containers: %s", exc)
    finally:
        client.close()
    return removed


def _stored(run_id: str) -> bool:
    if not run_id or not paths.db_path().exists():
        return False
    return not Store().query("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).is_empty()
