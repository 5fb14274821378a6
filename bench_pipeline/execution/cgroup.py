"""Read-only counters of the runner's own cgroup (v1 or v2), turned into per-run deltas.

Standard library only and importable as a sibling file of ``runner.py`` (the Docker image ships
both in ``/opt/bench/``), so the worker can load it without the ``bench_pipeline`` package.

Method (SPEC §4.1, §12). Inside a container the runner and the measured command share the
container's cgroup, so the difference of the counters read just before and just after one run is
that run's cost, plus the runner's own small share (spawning the helper, draining pipes):

========================  ====================================  ==================================
field                     cgroup v2                             cgroup v1
========================  ====================================  ==================================
``cgroup_cpu_ns``         ``cpu.stat`` usage_usec × 1000        ``cpuacct.usage``
``cgroup_throttled_ns``   ``cpu.stat`` throttled_usec × 1000    ``cpu.stat`` throttled_time
``cgroup_io_*_bytes``     ``io.stat`` rbytes / wbytes           ``blkio.throttle.io_service_bytes``
``cgroup_peak_bytes``     ``memory.peak``                       ``memory.max_usage_in_bytes``
``oom_killed``            ``memory.events`` oom_kill            ``memory.oom_control`` oom_kill
========================  ====================================  ==================================

The memory peak is a high-water mark of the whole container (page cache included), and a
read-only cgroup mount (Docker's default) does not let an unprivileged runner reset it. So
``cgroup_peak_bytes`` is reported only when it is known to belong to this run: the reset before
the run succeeded (writable ``memory.peak`` / ``memory.max_usage_in_bytes``), or the run raised
the mark; otherwise it is ``None``. ``oom_killed`` comes from the kernel's oom_kill counter when
the kernel has one (v2; v1 since Linux 4.13); without it, a SIGKILL that is not our timeout while
``memory.failcnt`` rose or usage reached the limit is taken as an OOM kill.
"""

from __future__ import annotations

import os

# v1 controllers we read; v2 has one directory for all of them
_V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "blkio", "pids")


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _read_int(path: str) -> int | None:
    text = _read(path)
    if text is None:
        return None
    text = text.strip()
    if text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _keyed(path: str) -> dict[str, int]:
    """Parse a flat keyed file (``key value`` per line), e.g. ``cpu.stat``, ``memory.events``."""
    out: dict[str, int] = {}
    for line in (_read(path) or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as ``\\ooo`` octal."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit() and len(field[i + 1 : i + 4]) == 3:
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _join(mountpoint: str, mount_root: str, own_path: str) -> str:
    """Directory of our cgroup under a mount whose root is ``mount_root``.

    A container with the host's cgroup namespace sees its own cgroup bind-mounted at the mount
    point (root ``/docker/<id>``, own path the same), the host sees the hierarchy root (``/``).
    """
    root = mount_root.rstrip("/")
    if own_path == root or own_path.startswith(root + "/"):
        rest = own_path[len(root) :].lstrip("/")
        return os.path.join(mountpoint, rest) if rest else mountpoint
    return mountpoint


class Cgroup:
    """Where our cgroup's files are: ``version`` 1 or 2 and a directory per controller."""

    def __init__(self, version: int, dirs: dict[str, str]) -> None:
        self.version = version
        self.dirs = dirs  # v1: controller -> dir; v2: "" -> the one dir
        # v2 resets memory.peak per open file (Linux >= 6.12): the fd that reset it must read it
        self._peak_fd: int | None = None
        self._peak_resettable = True

    @classmethod
    def detect(cls, proc_self: str = "/proc/self") -> Cgroup | None:
        """Find our cgroup from ``/proc/self/cgroup`` and ``/proc/self/mountinfo``; None if unreadable."""
        own_v1: dict[str, str] = {}
        own_v2: str | None = None
        for line in (_read(os.path.join(proc_self, "cgroup")) or "").splitlines():
            hierarchy, _, rest = line.partition(":")
            controllers, _, path = rest.partition(":")
            if hierarchy == "0" and controllers == "":
                own_v2 = path
            for name in controllers.split(","):
                if name:
                    own_v1[name] = path
        v1: dict[str, str] = {}
        v2: str | None = None
        for line in (_read(os.path.join(proc_self, "mountinfo")) or "").splitlines():
            left, sep, right = line.partition(" - ")
            if not sep:
                continue
            fields, tail = left.split(), right.split()
            if len(fields) < 5 or len(tail) < 3:
                continue
            root, mountpoint, fstype = _unescape(fields[3]), _unescape(fields[4]), tail[0]
            if fstype == "cgroup":
                for name in tail[2].split(","):
                    if name in _V1_CONTROLLERS and name in own_v1 and name not in v1:
                        directory = _join(mountpoint, root, own_v1[name])
                        v1[name] = directory if os.path.isdir(directory) else mountpoint
            elif fstype == "cgroup2" and own_v2 is not None and v2 is None:
                directory = _join(mountpoint, root, own_v2)
                v2 = directory if os.path.isdir(directory) else mountpoint
        if "memory" in v1 or "cpuacct" in v1:
            return cls(1, v1)
        # a v2 mount holding no controllers (the "unified" half of a hybrid host) tells us nothing
        if v2 is not None and (_read(os.path.join(v2, "cgroup.controllers")) or "").strip():
            return cls(2, {"": v2})
        return None

    def _path(self, controller: str, name: str) -> str:
        return os.path.join(self.dirs.get("" if self.version == 2 else controller, "/nonexistent"), name)

    def limits(self) -> dict[str, float | int | None]:
        """Limits in force: ``cpus`` (quota / period), ``memory_bytes``, ``pids``; None = unlimited."""
        cpus: float | None = None
        if self.version == 2:
            parts = (_read(self._path("cpu", "cpu.max")) or "").split()
            if len(parts) == 2 and parts[0] != "max":
                cpus = int(parts[0]) / int(parts[1])
            memory = _read_int(self._path("memory", "memory.max"))
        else:
            quota = _read_int(self._path("cpu", "cpu.cfs_quota_us"))
            period = _read_int(self._path("cpu", "cpu.cfs_period_us"))
            if quota is not None and quota > 0 and period:
                cpus = quota / period
            memory = _read_int(self._path("memory", "memory.limit_in_bytes"))
            if memory is not None and memory >= 1 << 62:  # v1 writes "unlimited" as a huge number
                memory = None
        return {
            "version": self.version,
            "cpus": cpus,
            "memory_bytes": memory,
            "pids": _read_int(self._path("pids", "pids.max")),
        }

    def reset_peak(self) -> bool:
        """Try to restart the memory high-water mark; False where the cgroup is read-only (usual)."""
        if not self._peak_resettable:
            return False
        if self.version == 1:
            try:
                with open(self._path("memory", "memory.max_usage_in_bytes"), "w") as f:
                    f.write("0\n")
                return True
            except OSError:
                self._peak_resettable = False
                return False
        try:
            if self._peak_fd is None:
                self._peak_fd = os.open(self._path("memory", "memory.peak"), os.O_RDWR)
            os.write(self._peak_fd, b"reset\n")
            return True
        except OSError:
            if self._peak_fd is not None:
                os.close(self._peak_fd)
                self._peak_fd = None
            self._peak_resettable = False
            return False

    def _v2_peak(self) -> int | None:
        if self._peak_fd is None:
            return _read_int(self._path("memory", "memory.peak"))
        try:
            return int(os.pread(self._peak_fd, 64, 0).strip())
        except (OSError, ValueError):
            return None

    def snapshot(self) -> dict[str, int | None]:
        """The raw counters, None where a file is missing or unreadable."""
        if self.version == 2:
            cpu = _keyed(self._path("cpu", "cpu.stat"))
            events = _keyed(self._path("memory", "memory.events"))
            rbytes = wbytes = 0
            io_text = _read(self._path("io", "io.stat"))
            for line in (io_text or "").splitlines():
                for item in line.split()[1:]:
                    key, _, value = item.partition("=")
                    if key == "rbytes":
                        rbytes += int(value)
                    elif key == "wbytes":
                        wbytes += int(value)
            return {
                "cpu_ns": cpu["usage_usec"] * 1000 if "usage_usec" in cpu else None,
                "throttled_ns": cpu["throttled_usec"] * 1000 if "throttled_usec" in cpu else None,
                "io_read": rbytes if io_text is not None else None,
                "io_write": wbytes if io_text is not None else None,
                "peak": self._v2_peak(),
                "usage": _read_int(self._path("memory", "memory.current")),
                "limit": _read_int(self._path("memory", "memory.max")),
                "oom_kill": events.get("oom_kill"),
                "failcnt": events.get("max"),  # times usage hit memory.max
            }
        cpu = _keyed(self._path("cpu", "cpu.stat"))
        oom = _keyed(self._path("memory", "memory.oom_control"))
        rbytes = wbytes = 0
        blk_text = _read(self._path("blkio", "blkio.throttle.io_service_bytes_recursive"))
        if blk_text is None:
            blk_text = _read(self._path("blkio", "blkio.throttle.io_service_bytes"))
        for line in (blk_text or "").splitlines():
            parts = line.split()  # "8:0 Read 4096"; the closing "Total N" line has two fields
            if len(parts) == 3 and parts[1] == "Read":
                rbytes += int(parts[2])
            elif len(parts) == 3 and parts[1] == "Write":
                wbytes += int(parts[2])
        limit = _read_int(self._path("memory", "memory.limit_in_bytes"))
        return {
            "cpu_ns": _read_int(self._path("cpuacct", "cpuacct.usage")),
            "throttled_ns": cpu.get("throttled_time"),
            "io_read": rbytes if blk_text is not None else None,
            "io_write": wbytes if blk_text is not None else None,
            "peak": _read_int(self._path("memory", "memory.max_usage_in_bytes")),
            "usage": _read_int(self._path("memory", "memory.usage_in_bytes")),
            "limit": limit if limit is not None and limit < 1 << 62 else None,
            "oom_kill": oom.get("oom_kill"),
            "failcnt": _read_int(self._path("memory", "memory.failcnt")),
        }


def _diff(before: dict[str, int | None], after: dict[str, int | None], key: str) -> int | None:
    a, b = before.get(key), after.get(key)
    return None if a is None or b is None else max(0, b - a)


def run_fields(
    before: dict[str, int | None], after: dict[str, int | None], *, reset: bool, signal: int, timed_out: bool
) -> dict[str, int | bool | None]:
    """Per-run fields from two snapshots taken around one run (``reset``: the peak was reset)."""
    peak_before, peak_after = before.get("peak"), after.get("peak")
    peak: int | None = None
    if peak_after is not None and (reset or (peak_before is not None and peak_after > peak_before)):
        peak = peak_after
    kills = _diff(before, after, "oom_kill")
    if kills is not None:
        oom = kills > 0
    else:
        rose = (_diff(before, after, "failcnt") or 0) > 0
        limit = after.get("limit")
        at_limit = limit is not None and peak_after is not None and peak_after >= limit * 0.95
        oom = signal == 9 and not timed_out and (rose or at_limit)
    return {
        "cgroup_peak_bytes": peak,
        "cgroup_cpu_ns": _diff(before, after, "cpu_ns"),
        "cgroup_throttled_ns": _diff(before, after, "throttled_ns"),
        "cgroup_io_read_bytes": _diff(before, after, "io_read"),
        "cgroup_io_write_bytes": _diff(before, after, "io_write"),
        "oom_killed": oom,
    }


class CgroupProbe:
    """What the runner calls around each run: ``mark = probe.begin()`` … ``probe.end(mark, result)``."""

    def __init__(self, cgroup: Cgroup) -> None:
        self.cgroup = cgroup

    @classmethod
    def detect(cls, proc_self: str = "/proc/self") -> CgroupProbe | None:
        found = Cgroup.detect(proc_self)
        return cls(found) if found else None

    def begin(self) -> tuple[bool, dict[str, int | None]]:
        reset = self.cgroup.reset_peak()
        return reset, self.cgroup.snapshot()

    def end(self, mark: tuple[bool, dict[str, int | None]], result: dict) -> dict[str, int | bool | None]:
        reset, before = mark
        return run_fields(
            before,
            self.cgroup.snapshot(),
            reset=reset,
            signal=int(result.get("signal") or 0),
            timed_out=bool(result.get("timed_out")),
        )

    def describe(self) -> dict:
        return {"cgroup": self.cgroup.limits(), "cgroup_dirs": self.cgroup.dirs}
