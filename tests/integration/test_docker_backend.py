"""The Docker backend against a real engine: images from nothing, hardening, limits, OOM, peak memory.

Everything here is proven from inside the container, through the worker's exec results (exit
codes and byte counts), i.e. through the same path samples take. Skipped only when no Docker
engine answers; with an engine, nothing is skipped (a failing image build fails the tests).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import pytest

from bench_pipeline.errors import BackendUnavailable
from bench_pipeline.execution import images
from bench_pipeline.execution.backends.base import WorkerSpec
from bench_pipeline.execution.backends.docker import PROFILES, DockerBackend, check_fits, prune_containers
from bench_pipeline.execution.backends.local import LocalBackend

try:
    CLIENT = images.docker_client(timeout=30)
except BackendUnavailable as exc:
    pytest.skip(f"no Docker engine answers ({exc.message})", allow_module_level=True)

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.slow]

RUN_ID = f"pytest-{uuid.uuid4().hex[:10]}"
MiB = 1 << 20


def _leftovers(run_id: str) -> list:
    return CLIENT.containers.list(all=True, filters={"label": [f"{images.LABEL}.run-id={run_id}"]})


@pytest.fixture(scope="module")
def bin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bin")


@pytest.fixture(scope="module")
def built(bin_dir: Path) -> dict:
    """Build (or find) the git image; time a second, no-op build."""
    started = time.monotonic()
    first = images.build_images(["git"], bin_dir=bin_dir, client=CLIENT)
    first_s = time.monotonic() - started
    started = time.monotonic()
    second = images.build_images(["git"], bin_dir=bin_dir, client=CLIENT)
    second_s = time.monotonic() - started
    print(
        f"\nimage build: first call {first_s:.1f}s ({[i.tag for i in first if i.built]} built), "
        f"second call {second_s:.2f}s"
    )
    return {"first": first, "second": second, "second_s": second_s}


@pytest.fixture(scope="module")
def backend(bin_dir: Path, built: dict) -> DockerBackend:
    return DockerBackend(bin_dir=bin_dir, client=CLIENT, progress=print)


def _spec(root: Path, profile: str, run_id: str = RUN_ID, tool: str = "git") -> WorkerSpec:
    fixtures = root / "fixtures"
    (fixtures / "repo").mkdir(parents=True, exist_ok=True)
    (fixtures / "repo" / "README").write_text("pristine\n")
    return WorkerSpec(
        suite="pytest",
        tool=tool,
        run_id=run_id,
        work_dir=root / "work" / tool,
        fixture_dir=fixtures,
        profile=profile,
    )


@pytest.fixture(scope="module")
def micro(backend: DockerBackend, tmp_path_factory: pytest.TempPathFactory):
    """A worker in a container with the smallest profile (0.5 CPU, 512 MiB)."""
    root = tmp_path_factory.mktemp("micro")
    worker = backend.start_worker(_spec(root, "micro"))
    yield worker, root
    worker.close()
    assert not _leftovers(RUN_ID), "containers left behind after close"


def run(worker, *argv: str, timeout_s: float = 60) -> dict:
    return worker.exec(list(argv), worker.work_root, {"PATH": worker.path, "HOME": "/tmp"}, timeout_s)


def test_images_build_from_nothing_and_second_build_is_a_no_op(built: dict) -> None:
    tags = [i.tag for i in built["first"]]
    assert tags[0].startswith(images.BASE_REPO + ":") and tags[1].startswith("bench-pipeline/git:")
    assert [i.tag for i in built["second"]] == tags
    assert not any(i.built for i in built["second"])
    assert built["second_s"] < 10
    git = built["second"][-1]
    assert git.exec_helper, "the static bench-exec helper is in the image"
    listed = {i.tag for i in images.list_images(CLIENT)}
    assert set(tags) <= listed


def test_only_network_interface_is_loopback(micro) -> None:
    worker, _ = micro
    assert run(worker, "sh", "-c", 'test "$(ls /sys/class/net)" = lo')["exit_code"] == 0
    assert run(worker, "ls", "/sys/class/net")["stdout_bytes"] == len(b"lo\n")


def test_runs_as_non_root_without_capabilities(micro) -> None:
    worker, _ = micro
    assert run(worker, "sh", "-c", "test $(id -u) -ne 0")["exit_code"] == 0
    assert run(worker, "grep", "-Eq", r"^CapEff:\s+0+$", "/proc/self/status")["exit_code"] == 0
    assert run(worker, "grep", "-Eq", r"^NoNewPrivs:\s+1$", "/proc/self/status")["exit_code"] == 0


def test_root_and_fixtures_read_only_work_dir_writable(micro) -> None:
    worker, root = micro
    denied = run(worker, "sh", "-c", "touch /x")
    assert denied["exit_code"] != 0 and "Read-only" in denied["stderr_tail"]
    assert run(worker, "sh", "-c", f"touch {worker.fixture_root}/x")["exit_code"] != 0
    assert run(worker, "sh", "-c", "touch /tmp/x")["exit_code"] == 0  # tmpfs
    # results leave the container as files in the mounted work directory
    assert run(worker, "sh", "-c", f"echo result > {worker.work_root}/out.txt")["exit_code"] == 0
    assert (root / "work" / "git" / "out.txt").read_text() == "result\n"
    worker.restore(f"{worker.fixture_root}/repo", f"{worker.work_root}/repo")
    assert (root / "work" / "git" / "repo" / "README").read_text() == "pristine\n"


def test_cgroup_limits_match_profile(micro) -> None:
    worker, _ = micro
    profile = PROFILES["micro"]
    memory = (
        "if [ -f /sys/fs/cgroup/memory.max ]; then m=$(cat /sys/fs/cgroup/memory.max); "
        'else m=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes); fi; test "$m" = {}'
    )
    assert run(worker, "sh", "-c", memory.format(profile.memory_bytes))["exit_code"] == 0
    cpu = (
        "if [ -f /sys/fs/cgroup/cpu.max ]; then set -- $(cat /sys/fs/cgroup/cpu.max); q=$1; p=$2; "
        "else q=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us); p=$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us); fi; "
        "test $((q * 1000 / p)) = {}"
    )
    assert run(worker, "sh", "-c", cpu.format(int(profile.cpus * 1000)))["exit_code"] == 0
    pids = "f=/sys/fs/cgroup/pids.max; [ -f $f ] || f=/sys/fs/cgroup/pids/pids.max; test $(cat $f) = {}"
    assert run(worker, "sh", "-c", pids.format(profile.pids))["exit_code"] == 0


def test_allocation_beyond_limit_is_recorded_as_oom_and_worker_survives(micro) -> None:
    worker, _ = micro
    touch = "b = bytearray(800 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1"
    result = run(worker, "python3", "-c", touch)
    assert result["signal"] == 9 and not result["timed_out"], result
    assert "oom_killed" in result, (
        "runner.py does not call bench_pipeline/execution/cgroup.py yet (docs/docker.md)"
    )
    assert result["oom_killed"] is True, result
    assert run(worker, "true")["exit_code"] == 0, "the worker survives the OOM kill of its command"
    assert run(worker, "true")["oom_killed"] is False


def test_peak_memory_agrees_with_local_backend(micro, bin_dir: Path, tmp_path: Path) -> None:
    worker, _ = micro
    alloc = "b = bytearray(200 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1"
    in_docker = statistics.median(
        run(worker, "python3", "-I", "-S", "-c", alloc)["peak_rss_bytes"] for _ in range(3)
    )
    spec = WorkerSpec(
        suite="pytest", tool="local", run_id=RUN_ID, work_dir=tmp_path / "w", fixture_dir=tmp_path
    )
    with LocalBackend(bin_dir).start_worker(spec) as local:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        on_host = statistics.median(
            local.exec([sys.executable, "-I", "-S", "-c", alloc], str(tmp_path), env, 60)["peak_rss_bytes"]
            for _ in range(3)
        )
    assert 200 * MiB < in_docker < 260 * MiB
    assert abs(in_docker - on_host) / on_host < 0.10, (in_docker, on_host)


def test_profile_larger_than_host_is_refused(backend: DockerBackend, tmp_path: Path) -> None:
    engine = backend._engine_info()
    cpus, memory = engine["host_cpus"], engine["host_memory_bytes"]
    too_big = [p.name for p in PROFILES.values() if p.cpus > cpus or p.memory_bytes > memory]
    if too_big:
        with pytest.raises(BackendUnavailable) as caught:
            backend.start_worker(_spec(tmp_path, too_big[-1], run_id=f"{RUN_ID}-big"))
        assert too_big[-1] in caught.value.message and f"{cpus} CPU" in caught.value.message
    with pytest.raises(BackendUnavailable, match="xlarge"):  # the same rule on a (pretended) 1-CPU host
        check_fits("xlarge", 1, memory)
    assert not _leftovers(f"{RUN_ID}-big")


def test_closing_removes_the_container(backend: DockerBackend, tmp_path: Path) -> None:
    run_id = f"{RUN_ID}-close"
    started = time.monotonic()
    worker = backend.start_worker(_spec(tmp_path, "small", run_id=run_id))
    start_s = time.monotonic() - started
    assert len(_leftovers(run_id)) == 1
    assert run(worker, "true")["exit_code"] == 0
    worker.close()
    assert not _leftovers(run_id)
    assert prune_containers(CLIENT, run_id=run_id) == 0
    print(f"\ncontainer start to first answer: {start_s:.2f}s")
    described = backend.describe()
    assert described["engine"] and described["cgroup_version"] in ("v1", "v2")
    assert described["images"]["git"].startswith("bench-pipeline/git:")


def test_git_clones_from_the_fixture_mount_owned_by_another_user(
    backend: DockerBackend, tmp_path: Path
) -> None:
    """The pristine fixtures belong to the host's user, commands run as uid 1000: git's
    safe.directory check refuses such a repository unless the backend's global config trusts it.
    Without the backend's environment the same clone fails (the test can fail); with it, it works.
    The image's git is also new enough for jj's git subprocess (jj 0.45 needs git >= 2.41)."""
    import subprocess

    from bench_pipeline.suite.determinism import BASE_ENV

    spec = _spec(tmp_path, "small", run_id=f"{RUN_ID}-safe")
    src = spec.fixture_dir / "src"
    host_env = {**BASE_ENV, "PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    for argv in (
        ["git", "init", "-q", "-b", "main", str(src)],
        ["git", "-C", str(src), "commit", "-q", "--allow-empty", "-m", "x"],
    ):
        subprocess.run(argv, check=True, env=host_env)
    worker = backend.start_worker(spec)
    try:
        assert worker.env == {"GIT_CONFIG_GLOBAL": images.GIT_CONFIG}
        base = {**BASE_ENV, "PATH": worker.path, "HOME": "/tmp"}
        clone = ["git", "clone", "-q", f"{worker.fixture_root}/src", f"{worker.work_root}/wc"]
        refused = worker.exec(clone, worker.work_root, base, 60)
        assert refused["exit_code"] != 0 and "dubious ownership" in refused["stderr_tail"]
        cloned = worker.exec(clone, worker.work_root, {**base, **worker.env}, 60)
        assert cloned["exit_code"] == 0, cloned["stderr_tail"]
        assert (spec.work_dir / "wc" / ".git").is_dir()
        version = worker.capture(["git", "--version"], worker.work_root, base)["stdout"].split()[2]
        assert tuple(int(p) for p in version.split(".")[:2]) >= (2, 41), version
    finally:
        worker.close()
