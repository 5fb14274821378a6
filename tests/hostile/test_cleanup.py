"""What killed runs leave behind — work directories, labelled Docker containers — is removed by the
next run; what a live run uses is not."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from bench_pipeline.execution.cleanup import clean_dead_runs
from bench_pipeline.store import Store
from tests.conftest import docker_available


def record(store: Store, run_id: str, status: str | None) -> None:
    store.create_run(
        run_id, "s", trigger="manual", backend="docker", host={}, settings={}, tools=[], sizes=[],
        quick=True, suite_sha256="x",
    )  # fmt: skip
    if status:
        store.finish_run(run_id, status)


def test_work_directories_of_dead_runs_go_live_ones_stay(bench_home: Path) -> None:
    store = Store()
    record(store, "dead-run", "interrupted")
    record(store, "live-run", None)  # this process: alive
    for run_id in ("dead-run", "live-run", "never-recorded"):
        (bench_home / "work" / run_id / "repo").mkdir(parents=True)
        (bench_home / "work" / run_id / "repo" / "big").write_bytes(b"x" * 1000)
    cleaned = clean_dead_runs(store, docker=False)
    assert sorted(cleaned.work_dirs) == ["dead-run", "never-recorded"]
    assert [p.name for p in (bench_home / "work").iterdir()] == ["live-run"]


@pytest.mark.docker
def test_labelled_containers_of_dead_runs_go(bench_home: Path) -> None:
    if not docker_available():
        pytest.skip("no Docker engine")
    import docker
    from bench_pipeline.execution.backends.docker import LABEL

    client = docker.from_env()
    image = next((t for i in client.images.list(name="bench-pipeline/git") for t in i.tags), None)
    if image is None:  # a fresh machine: build it, as a run would (the Docker tests share it afterwards)
        from bench_pipeline.execution.images.tools import build_images

        image = next(
            i.tag for i in build_images(["git"], progress=lambda _: None, client=client) if i.tool == "git"
        )
    store = Store()
    record(store, "dead-docker-run", "interrupted")
    record(store, "live-docker-run", None)
    made = {
        run_id: client.containers.create(
            image, ["sleep", "600"], labels={LABEL: "1", f"{LABEL}.run-id": run_id}, network_mode="none"
        )
        for run_id in ("dead-docker-run", "live-docker-run")
    }
    made["dead-docker-run"].start()  # a worker still running although its run died
    try:
        cleaned = clean_dead_runs(store)
        left = {c.id for c in client.containers.list(all=True, filters={"label": f"{LABEL}=1"})}
        assert made["dead-docker-run"].id not in left and made["live-docker-run"].id in left
        assert made["dead-docker-run"].name in cleaned.containers
    finally:
        for container in made.values():
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
