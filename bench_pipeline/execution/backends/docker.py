"""The Docker backend: the runner worker as the main process of one hardened container per suite × tool.

Each container is created through the Docker Engine API (the ``docker`` SDK) from the tool's
image (``bench_pipeline/execution/images/``), with the suite's resource profile as hard limits, no network,
a read-only root filesystem, a tmpfs ``/tmp``, every capability dropped, ``no-new-privileges`` and
a non-root user (SPEC §4.2, §12). The pristine fixtures are bind-mounted read-only at
``/fixtures``, the run's work directory read-write at ``/work``; results leave as files there.

The worker protocol runs over the container's attached stdin/stdout: Docker multiplexes stdout
and stderr of a non-TTY container into frames (8-byte header: stream, 0, 0, 0, big-endian size),
which ``_AttachedStream`` demultiplexes — stdout feeds the JSON-lines reader, stderr is kept as a
tail for error messages. Closing stdin (``stdin_once``) ends the runner; the container is then
removed, so none is left behind (``prune_containers`` clears leftovers of killed processes).

Placement agrees with the local backend's: ``cpus`` (default every CPU of the engine's host) is
both the containers' cpuset and the set the runner pins each measured command to, identical
for every tool of a run.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import secrets
import socket
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_pipeline.errors import BackendUnavailable, RunnerError, ToolUnavailable
from bench_pipeline.execution import images
from bench_pipeline.execution.backends.base import WorkerSpec
from bench_pipeline.execution.backends.worker import Worker
from bench_pipeline.execution.runner import cpu_ranges, parse_cpus

log = logging.getLogger(__name__)

MiB = 1 << 20
GiB = 1 << 30
WORK_ROOT = "/work"
FIXTURE_ROOT = "/fixtures"
CONTAINER_PATH = "/usr/local/bin:/usr/bin:/bin"
LABEL = images.LABEL


@dataclass(frozen=True)
class Profile:
    """A resource profile: the container's CPU quota, memory (no swap) and process limits."""

    name: str
    cpus: float
    memory_bytes: int
    pids: int

    def describe(self) -> str:
        return f"{self.cpus:g} CPU, {self.memory_bytes / GiB:g} GiB"


# SPEC §4.2, from the reference system; the pids limit stops fork bombs, and leaves room for threads
PROFILES: dict[str, Profile] = {
    "micro": Profile("micro", 0.5, 512 * MiB, 256),
    "small": Profile("small", 1, 1 * GiB, 512),
    "medium": Profile("medium", 2, 2 * GiB, 1024),
    "large": Profile("large", 4, 4 * GiB, 2048),
    "xlarge": Profile("xlarge", 8, 8 * GiB, 4096),
}
DEFAULT_PROFILE = "medium"


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise BackendUnavailable(
            f"unknown resource profile {name!r}",
            where="settings.profile",
            fix=f"use one of {', '.join(PROFILES)}",
        ) from None


def profile_limits(name: str) -> dict[str, int]:
    """The Docker SDK keyword arguments enforcing profile ``name`` (memory+swap = memory: no swap)."""
    profile = get_profile(name)
    return {
        "nano_cpus": int(round(profile.cpus * 1e9)),
        "mem_limit": profile.memory_bytes,
        "memswap_limit": profile.memory_bytes,
        "pids_limit": profile.pids,
    }


def check_fits(name: str, host_cpus: int, host_memory_bytes: int) -> Profile:
    """Refuse a profile asking for more CPUs or memory than the engine's host has."""
    profile = get_profile(name)
    if profile.cpus > host_cpus or profile.memory_bytes > host_memory_bytes:
        fitting = [
            p.name for p in PROFILES.values() if p.cpus <= host_cpus and p.memory_bytes <= host_memory_bytes
        ]
        raise BackendUnavailable(
            f"resource profile {name!r} ({profile.describe()}) is larger than this host "
            f"({host_cpus} CPU, {host_memory_bytes / GiB:.1f} GiB)",
            where="settings.profile",
            fix=f"choose a profile that fits: {', '.join(fitting) or 'none fits'}",
        )
    return profile


def _tmpfs_size(profile: Profile) -> int:
    """tmpfs pages are charged to the container's memory: a quarter of it at most."""
    return max(16 * MiB, profile.memory_bytes // 4)


def _container_name(spec: WorkerSpec) -> str:
    stem = re.sub(r"[^a-zA-Z0-9_.-]+", "-", f"bench-{spec.suite}-{spec.tool}-{spec.run_id}")[:80]
    return f"{stem}-{secrets.token_hex(3)}"


class _AttachedStream:
    """The hijacked attach connection: write stdin, read demultiplexed stdout, keep a stderr tail."""

    STDERR_TAIL = 4096

    def __init__(self, sock: Any) -> None:
        self._holder = sock
        self._sock: socket.socket = getattr(sock, "_sock", sock)
        self._pending = b""
        self.stderr = b""

    def _recv_exactly(self, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            chunk = self._sock.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def read_stdout(self, n: int) -> bytes:
        while not self._pending:
            header = self._recv_exactly(8)
            if header is None:
                return b""
            size = int.from_bytes(header[4:8], "big")
            payload = self._recv_exactly(size) if size else b""
            if payload is None:
                return b""
            if header[0] == 1:
                self._pending = payload
            elif header[0] == 2:
                self.stderr = (self.stderr + payload)[-self.STDERR_TAIL :]
        data, self._pending = self._pending[:n], self._pending[n:]
        return data

    def write_stdin(self, data: bytes) -> None:
        self._sock.sendall(data)

    def close_stdin(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        for closer in (self._sock.close, getattr(self._holder, "close", None)):
            if closer:
                with contextlib.suppress(OSError):
                    closer()


class _StdoutReader(io.RawIOBase):
    def __init__(self, stream: _AttachedStream) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read_stdout(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _StdinWriter:
    def __init__(self, stream: _AttachedStream) -> None:
        self._stream = stream

    def write(self, data: bytes) -> int:
        self._stream.write_stdin(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._stream.close_stdin()


def prune_containers(client: Any = None, *, run_id: str | None = None, include_running: bool = False) -> int:
    """Remove bench-pipeline containers left behind (exited or never started; running ones too if asked)."""
    client = client or images.docker_client()
    filters: dict[str, Any] = {"label": [f"{LABEL}=1"] + ([f"{LABEL}.run-id={run_id}"] if run_id else [])}
    removed = 0
    for container in client.containers.list(all=True, filters=filters):
        if container.status in ("running", "restarting", "paused") and not include_running:
            continue
        try:
            container.remove(force=True)
            removed += 1
        except Exception as exc:  # already gone, or removal in progress
            log.debug("prune: %s: %s", container.short_id, exc)
    return removed


class DockerBackend:
    name = "docker"

    def __init__(
        self,
        bin_dir: Path,
        allow_network: bool = False,
        *,
        client: Any = None,
        cpuset_cpus: str | None = None,
        cpus: Sequence[int] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.bin_dir = bin_dir
        self.allow_network = allow_network
        # the measuring CPU set, as a list (cpus) or in Docker's cpuset syntax (cpuset_cpus)
        self._cpus = sorted(set(cpus)) if cpus else (parse_cpus(cpuset_cpus) if cpuset_cpus else None)
        self.cpuset_cpus = cpu_ranges(self._cpus) if self._cpus else None
        self.progress = progress or log.info
        self._client = client
        self._engine: dict[str, Any] | None = None
        self._images: dict[str, str] = {}  # tool -> tag used
        self._profiles: dict[str, str] = {}  # tool -> profile used

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = images.docker_client()
        return self._client

    def _engine_info(self) -> dict[str, Any]:
        if self._engine is None:
            try:
                version, info = self.client.version(), self.client.info()
            except BackendUnavailable:
                raise
            except Exception as exc:
                raise BackendUnavailable(
                    f"the Docker engine does not answer: {exc}",
                    fix="start the Docker engine, or use --backend local",
                ) from None
            self._engine = {
                "engine": version.get("Version", "?"),
                "api_version": version.get("ApiVersion", "?"),
                "cgroup_version": f"v{info.get('CgroupVersion', '1')}",
                "cgroup_driver": info.get("CgroupDriver"),
                "storage_driver": info.get("Driver"),
                "kernel": info.get("KernelVersion"),
                "host_cpus": int(info.get("NCPU", 0)),
                "host_memory_bytes": int(info.get("MemTotal", 0)),
                "swap_limit": bool(info.get("SwapLimit")),
            }
        return self._engine

    @property
    def cpus(self) -> list[int]:
        """The CPUs every measured command is pinned to (the containers' cpuset when one is set)."""
        if self._cpus:
            return self._cpus
        return list(range(self._engine_info()["host_cpus"] or os.cpu_count() or 1))

    def check(self) -> str:
        """Say why this backend is usable, or raise ``BackendUnavailable``."""
        engine = self._engine_info()
        ready: dict[str, str] = {}
        for tool in ("git", "jj"):
            try:
                built = images.image_for_tool(tool, client=self.client, bin_dir=self.bin_dir) is not None
                ready[tool] = "ready" if built else "built on first use"
            except BackendUnavailable:
                raise
            except Exception:  # e.g. no jj binary on the host: that tool will be reported unavailable later
                ready[tool] = "not available here"
        if "ready" not in ready.values():
            buildable, why = images.can_build(self.client)
            if not buildable:
                raise BackendUnavailable(
                    f"no tool image and none can be built: {why}",
                    fix="bench-pipeline images build, or use --backend local",
                )
        state = ", ".join(f"{t} {what}" for t, what in ready.items())
        return (
            f"docker engine {engine['engine']} answers (cgroup {engine['cgroup_version']}, "
            f"{engine['host_cpus']} CPU, {engine['host_memory_bytes'] / GiB:.1f} GiB); images: {state}"
        )

    def _image_for(self, tool: str, build_dirs: tuple[Path, ...] = ()) -> tuple[str, bool]:
        """(tag, has bench-exec) of ``tool``'s image, building it when missing.

        ``build_dirs``: the tool cache entry of the tool's build (a revision ``jj@0.44.0``, or a tool
        built because it was missing): its executables are the ones in the image, one image per build.
        A tool without a recipe or a binary gets the git image, as the local backend would run
        without it: the suite run then reports that tool unavailable instead of failing as a whole.
        """
        try:
            info = images.ensure_image(
                tool, progress=self.progress, bin_dir=self.bin_dir, client=self.client, build_dirs=build_dirs
            )
        except ToolUnavailable as exc:
            self.progress(f"{tool}: {exc.message}; its container uses the git image")
            info = images.ensure_image(
                "git", progress=self.progress, bin_dir=self.bin_dir, client=self.client
            )
        return info.tag, info.exec_helper

    def start_worker(self, spec: WorkerSpec) -> Worker:
        engine = self._engine_info()
        profile = check_fits(spec.profile, engine["host_cpus"], engine["host_memory_bytes"])
        outside = [c for c in self._cpus or () if c >= engine["host_cpus"]]
        if outside:
            raise BackendUnavailable(
                f"cannot measure on CPUs {cpu_ranges(outside)}: the Docker host has {engine['host_cpus']}",
                where="cpus",
                fix=f"choose CPUs among 0-{engine['host_cpus'] - 1}",
            )
        if spec.image:
            image = self.client.images.get(spec.image)
            tag, helper = spec.image, (image.labels or {}).get(f"{LABEL}.exec-helper") == "1"
        else:
            tag, helper = self._image_for(spec.tool, tuple(Path(d) for d in spec.path_prepend))
        uid, gid = self._prepare_dirs(spec)
        command = ["python3", "-I", "-S", f"{images.OPT_BENCH}/runner.py"]
        if helper:
            command += ["--exec-helper", f"{images.OPT_BENCH}/bench-exec"]
        command.append("--serve")
        environment = {
            "PATH": CONTAINER_PATH,
            "HOME": "/tmp",
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            "BENCH_CGROUP_METRICS": "1",  # the runner adds per-run cgroup deltas (bench_pipeline/execution/cgroup.py)
            **spec.extra_env,
        }
        labels = {
            LABEL: "1",
            f"{LABEL}.suite": spec.suite,
            f"{LABEL}.tool": spec.tool,
            f"{LABEL}.run-id": spec.run_id,
            f"{LABEL}.profile": profile.name,
        }
        from docker.types import Mount

        container = self.client.containers.create(
            tag,
            command,
            name=_container_name(spec),
            labels=labels,
            environment=environment,
            # detach=False with stdin_open sets StdinOnce: closing our stdin ends the runner
            detach=False,
            stdin_open=True,
            tty=False,
            init=True,
            user=f"{uid}:{gid}",
            working_dir=WORK_ROOT,
            network_mode="bridge" if self.allow_network else "none",
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            tmpfs={"/tmp": f"rw,nosuid,nodev,size={_tmpfs_size(profile)},mode=1777"},
            mounts=[
                Mount(FIXTURE_ROOT, str(spec.fixture_dir.resolve()), type="bind", read_only=True),
                Mount(WORK_ROOT, str(spec.work_dir.resolve()), type="bind"),
            ],
            cpuset_cpus=self.cpuset_cpus,
            **profile_limits(profile.name),
        )
        try:
            stream = _AttachedStream(
                self.client.api.attach_socket(
                    container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
                )
            )
            container.start()
        except Exception as exc:
            _remove(container)
            raise BackendUnavailable(
                f"cannot start a container from {tag}: {exc}",
                fix="see the Docker engine's log; or use --backend local",
            ) from None

        def tail() -> str:
            text = stream.stderr.decode("utf-8", "replace")[-1000:]
            try:
                container.reload()
                state = container.attrs.get("State", {})
                if state.get("Status") != "running":
                    text += f" [container {state.get('Status')}, exit {state.get('ExitCode')}"
                    text += ", OOM-killed]" if state.get("OOMKilled") else "]"
            except Exception:
                pass
            return text

        def close() -> None:
            with contextlib.suppress(Exception):  # still running after its stdin closed, or engine gone
                container.wait(timeout=10)
            _remove(container)
            stream.close()

        worker = Worker(
            io.BufferedReader(_StdoutReader(stream)),
            _StdinWriter(stream),  # type: ignore[arg-type]
            description=f"docker:{spec.suite}/{spec.tool} ({container.short_id})",
            work_root=WORK_ROOT,
            fixture_root=FIXTURE_ROOT,
            path=CONTAINER_PATH,
            # the fixture mount is owned by the host's user: let git read it (docker/git.Dockerfile)
            env={"GIT_CONFIG_GLOBAL": images.GIT_CONFIG},
            on_close=close,
            stderr_tail=tail,
            cpus=self.cpus,
        )
        try:
            worker.info()  # a container that cannot run the runner fails here, not in the first sample
        except RunnerError as exc:
            worker.close()
            raise BackendUnavailable(
                f"the runner does not start in {tag}: {exc.message}",
                fix="rebuild the image: bench-pipeline images build",
            ) from None
        self._images[spec.tool] = tag
        self._profiles[spec.tool] = profile.name
        return worker

    def _prepare_dirs(self, spec: WorkerSpec) -> tuple[int, int]:
        """The container user, and a work directory it can write.

        A non-root caller's own uid is used, so the files stay the caller's; as root we use the
        images' unprivileged ``bench`` user and hand it the work directory.
        """
        spec.work_dir.mkdir(parents=True, exist_ok=True)
        spec.fixture_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return os.getuid(), os.getgid()
        uid = gid = images.BENCH_UID
        for root, dirs, files in os.walk(spec.work_dir):
            for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                if os.lstat(name).st_uid != uid:
                    os.lchown(name, uid, gid)
        # pristine fixtures stay root's, but the bench user must read them (mkdtemp makes 0700 dirs)
        for root, _dirs, files in os.walk(spec.fixture_dir):
            for name, need in [(root, 0o005), *((os.path.join(root, n), 0o004) for n in files)]:
                st = os.lstat(name)
                if not stat.S_ISLNK(st.st_mode) and st.st_mode & need != need:
                    os.chmod(name, stat.S_IMODE(st.st_mode) | need | (0o001 if st.st_mode & 0o100 else 0))
        return uid, gid

    def describe(self) -> dict:
        engine = self._engine_info()
        profiles = set(self._profiles.values())
        return {
            "backend": "docker",
            **engine,
            "images": dict(self._images),
            "profiles": dict(self._profiles),
            "profile": profiles.pop() if len(profiles) == 1 else None,
            "network": "bridge" if self.allow_network else "none",
            "cpus": cpu_ranges(self.cpus),
            "hardening": "read-only root, tmpfs /tmp, cap_drop ALL, no-new-privileges, non-root, pids limit",
            "cgroup_method": "runner reads its container cgroup before/after each run (bench_pipeline/execution/cgroup.py)",
        }


def _remove(container: Any) -> None:
    try:
        container.remove(force=True)
    except Exception as exc:  # already removed
        log.debug("remove %s: %s", container.short_id, exc)
