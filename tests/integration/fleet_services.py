"""What a fleet needs, started for a test or a benchmark on this machine and removed afterwards:
a private PostgreSQL cluster and a Redis broker on 127.0.0.1, the worker image, and host containers
(host network, a CPU set and a memory limit each). Every wait is bounded; nothing listens beyond
loopback. Used by tests/integration/test_fleet.py and benchmarks/bench_fleet.py.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import io
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKER_DOCKERFILE = ROOT / "deploy" / "fleet" / "worker.Dockerfile"
LABEL = "bench-pipeline-fleet-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout_s: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not listen on 127.0.0.1:{port} within {timeout_s:.0f} s")


def unusable_here() -> str | None:
    """Why two 1-CPU hosts cannot run on this machine, or None."""
    if len(os.sched_getaffinity(0)) < 2:
        return "two hosts of one CPU each need a machine with 2 CPUs"
    prefix = Path(sys.base_prefix).resolve()
    if prefix in (Path("/"), Path("/usr"), Path("/usr/local")):
        return (
            f"the virtualenv's interpreter lives in {prefix}: it cannot be mounted into the host containers"
        )
    return None


def missing() -> str | None:
    """Why a fleet cannot be started here, or None."""
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return "PostgreSQL is not installed (apt-get install postgresql; .ci/run does)"
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (apt-get install redis-server; .ci/run does)"
    return None


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A private cluster in a new temporary directory (trust auth, 127.0.0.1 only, removed
    afterwards); yields its URL."""
    bindir = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))[-1]).parent
    tmp = Path(tempfile.mkdtemp(prefix="bench-fleet-pg-"))  # not under pytest's 0700 directories
    data = tmp / "pgdata"
    sock = tmp / "sock"
    sock.mkdir()
    port = free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        tmp.chmod(0o755)
        data.mkdir()
        shutil.chown(data, "postgres", "postgres")
        shutil.chown(sock, "postgres", "postgres")
    log = tmp / "postgres.log"
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=off -c max_connections=200"
    if as_user:
        log.touch()
        shutil.chown(log, "postgres", "postgres")
    subprocess.run(
        [
            *as_user,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            opts,
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            "start",
        ],
        check=True,
        capture_output=True,
        timeout=90,
    )
    try:
        subprocess.run(
            [
                *as_user,
                str(bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "dagster",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/dagster"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "-t", "30", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def redis(tmp: Path) -> Iterator[str]:
    """A Redis broker on 127.0.0.1 without persistence; yields its URL."""
    port = free_port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port, 30, "redis-server", proc)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def worker_image(progress=print) -> str:  # type: ignore[no-untyped-def]
    """The fleet worker image FROM the git tool image (both built offline; reused when they exist)."""
    from bench_pipeline.execution.images.common import docker_client
    from bench_pipeline.execution.images.tools import build_images

    client = docker_client()
    git = next(i for i in build_images(["git"], progress=progress, client=client) if i.tool == "git")
    parent = client.images.get(git.tag)
    key = hashlib.sha256(WORKER_DOCKERFILE.read_bytes() + parent.id.encode()).hexdigest()[:12]
    tag = f"bench-pipeline/fleet-worker:{key}"
    with contextlib.suppress(Exception):
        client.images.get(tag)
        return tag
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(str(WORKER_DOCKERFILE), arcname="Dockerfile")
    buf.seek(0)
    client.images.build(
        fileobj=buf,
        custom_context=True,
        tag=tag,
        buildargs={"BASE": git.tag},
        network_mode="none",
        rm=True,
        labels={"bench-pipeline": "1", "bench-pipeline.role": "fleet-worker"},
    )
    progress(f"built {tag} FROM {git.tag}")
    return tag


class Host:
    """A fleet host: a container on the host network with one CPU set and a memory limit, running
    ``bench-pipeline fleet worker``; the project, its interpreter and the shared landing area are
    mounted at their own paths."""

    def __init__(
        self,
        image: str,
        name: str,
        host_class: str,
        cpuset: str,
        env: dict[str, str],
        shared: list[Path],
        memory: str = "2g",
        local_home: Path | None = None,
    ) -> None:
        import docker

        self.name, self.host_class = name, host_class
        self.client = docker.from_env(timeout=60)
        volumes = {str(ROOT): {"bind": str(ROOT), "mode": "ro"}}
        prefix = Path(sys.base_prefix).resolve()
        volumes[str(prefix)] = {"bind": str(prefix), "mode": "ro"}
        for path in shared:
            volumes[str(path)] = {"bind": str(path), "mode": "rw"}
        if local_home is not None:
            volumes[str(local_home)] = {"bind": "/var/lib/bench-host", "mode": "rw"}
        self.container = self.client.containers.run(
            image,
            [
                str(ROOT / ".venv" / "bin" / "bench-pipeline"),
                "fleet",
                "worker",
                "--host-class",
                host_class,
                "--host",
                name,
            ],
            name=f"{LABEL}-{name}-{os.getpid()}",
            detach=True,
            network_mode="host",
            cpuset_cpus=cpuset,
            nano_cpus=10**9,
            mem_limit=memory,
            memswap_limit=memory,
            environment={**env, "PATH": f"{ROOT / '.venv' / 'bin'}:/usr/local/bin:/usr/bin:/bin"},
            labels={LABEL: "1"},
            volumes=volumes,
            working_dir="/var/lib/bench-host",
            user="0:0",
        )

    def wait_ready(self, broker: str, timeout_s: float = 60) -> None:
        """Until the worker answers a ping through the broker (bounded)."""
        from celery import Celery

        app = Celery(broker=broker, backend=broker)
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                self.container.reload()
                if self.container.status != "running":
                    raise RuntimeError(f"host {self.name} stopped: {self.logs()[-3000:]}")
                if app.control.ping(destination=[f"{self.name}@{socket.gethostname()}"], timeout=1.0):
                    return
                time.sleep(0.5)
        finally:
            app.close()
        raise TimeoutError(f"host {self.name} did not answer within {timeout_s:.0f} s: {self.logs()[-3000:]}")

    def logs(self) -> str:
        try:
            return self.container.logs().decode(errors="replace")
        except Exception as exc:
            return f"(no logs: {exc})"

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.container.kill()

    def remove(self) -> None:
        with contextlib.suppress(Exception):
            self.container.remove(force=True)
        self.client.close()


def remove_leftovers() -> None:
    """Containers of earlier, killed fleet tests."""
    import docker

    client = docker.from_env(timeout=30)
    try:
        for c in client.containers.list(all=True, filters={"label": LABEL}):
            with contextlib.suppress(Exception):
                c.remove(force=True)
    finally:
        client.close()
