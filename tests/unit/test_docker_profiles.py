"""Pure logic of the Docker backend: resource profiles, the attach-stream framing, cgroup counters.

No engine needed: the cgroup parts run against fake ``/proc/self`` and ``/sys/fs/cgroup`` trees.
"""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest

from bench_pipeline.errors import BackendUnavailable
from bench_pipeline.execution.backends.base import WorkerSpec
from bench_pipeline.execution.backends.docker import (
    DEFAULT_PROFILE,
    PROFILES,
    GiB,
    MiB,
    _AttachedStream,
    _container_name,
    _StdoutReader,
    _tmpfs_size,
    check_fits,
    profile_limits,
)
from bench_pipeline.execution.cgroup import Cgroup, CgroupProbe, run_fields

# --- profiles -------------------------------------------------------------------------------------


def test_profiles_are_the_specified_ones() -> None:
    assert {n: (p.cpus, p.memory_bytes) for n, p in PROFILES.items()} == {
        "micro": (0.5, 512 * MiB),
        "small": (1, 1 * GiB),
        "medium": (2, 2 * GiB),
        "large": (4, 4 * GiB),
        "xlarge": (8, 8 * GiB),
    }
    assert DEFAULT_PROFILE == "medium"


def test_profile_limits_are_docker_sdk_arguments_without_swap() -> None:
    assert profile_limits("micro") == {
        "nano_cpus": 500_000_000,
        "mem_limit": 536_870_912,
        "memswap_limit": 536_870_912,
        "pids_limit": 256,
    }
    limits = profile_limits("xlarge")
    assert limits["nano_cpus"] == 8_000_000_000 and limits["memswap_limit"] == limits["mem_limit"] == 8 * GiB


def test_unknown_profile_names_the_choices() -> None:
    with pytest.raises(BackendUnavailable) as caught:
        profile_limits("huge")
    assert "huge" in caught.value.message and "micro" in (caught.value.fix or "")


def test_profile_that_fits_exactly_is_accepted() -> None:
    assert check_fits("medium", 2, 2 * GiB).name == "medium"


@pytest.mark.parametrize(
    ("name", "cpus", "memory", "fitting"),
    [
        ("large", 2, 24 * GiB, "micro, small, medium"),  # too many CPUs
        ("small", 8, 768 * MiB, "micro"),  # too much memory
        ("micro", 1, 256 * MiB, "none fits"),
    ],
)
def test_profile_larger_than_host_is_refused_with_sizes(
    name: str, cpus: int, memory: int, fitting: str
) -> None:
    with pytest.raises(BackendUnavailable) as caught:
        check_fits(name, cpus, memory)
    message = caught.value.message
    assert f"'{name}'" in message and f"({cpus} CPU, {memory / GiB:.1f} GiB)" in message
    assert fitting in (caught.value.fix or "")


def test_tmpfs_is_a_quarter_of_memory() -> None:
    assert _tmpfs_size(PROFILES["micro"]) == 128 * MiB
    assert _tmpfs_size(PROFILES["xlarge"]) == 2 * GiB


def test_container_name_is_safe_and_unique() -> None:
    spec = WorkerSpec("my suite", "git/worktree", "run:1", Path("/w"), Path("/f"))
    first, second = _container_name(spec), _container_name(spec)
    assert first != second
    assert first.startswith("bench-my-suite-git-worktree-run-1-")
    assert all(c.isalnum() or c in "_.-" for c in first)


# --- attach stream --------------------------------------------------------------------------------


def _frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def test_attach_stream_demultiplexes_stdout_lines_and_keeps_stderr() -> None:
    ours, engine = socket.socketpair()
    engine.sendall(
        _frame(1, b'{"ok": tr')
        + _frame(2, b"warning: something\n")
        + _frame(1, b'ue}\n{"second": 1}\n')
        + _frame(1, b"")
    )
    engine.shutdown(socket.SHUT_WR)
    stream = _AttachedStream(ours)
    reader = io.BufferedReader(_StdoutReader(stream))
    assert reader.readline() == b'{"ok": true}\n'
    assert reader.readline() == b'{"second": 1}\n'
    assert reader.readline() == b""
    assert stream.stderr == b"warning: something\n"
    stream.write_stdin(b"ping\n")
    stream.close_stdin()
    assert engine.recv(100) == b"ping\n" and engine.recv(100) == b""
    stream.close()
    engine.close()


def test_attach_stream_truncated_frame_is_eof() -> None:
    ours, engine = socket.socketpair()
    engine.sendall(_frame(1, b"complete\n") + bytes([1, 0, 0, 0, 0, 0, 0, 99]) + b"short")
    engine.close()
    reader = io.BufferedReader(_StdoutReader(_AttachedStream(ours)))
    assert reader.readline() == b"complete\n"
    assert reader.readline() == b""
    ours.close()


# --- cgroup counters ------------------------------------------------------------------------------

CID = "/docker/0123abcd"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _v1_tree(tmp_path: Path) -> Path:
    """A container's view on a cgroup v1 host: its own cgroup bind-mounted at each controller."""
    proc = tmp_path / "proc"
    sys_cg = tmp_path / "sys/fs/cgroup"
    controllers = ["cpu", "cpuacct", "memory", "blkio", "pids"]
    _write(
        proc / "cgroup", "".join(f"{i + 1}:{c}:{CID}\n" for i, c in enumerate(controllers)) + f"0::{CID}\n"
    )
    lines = [f"30 20 0:26 / {sys_cg} rw - tmpfs tmpfs rw"]
    lines += [
        f"{31 + i} 30 0:{40 + i} {CID} {sys_cg / c} ro - cgroup cgroup rw,{c}"
        for i, c in enumerate(controllers)
    ]
    _write(proc / "mountinfo", "\n".join(lines) + "\n")
    _write(sys_cg / "memory/memory.limit_in_bytes", "536870912\n")
    _write(sys_cg / "cpu/cpu.cfs_quota_us", "50000\n")
    _write(sys_cg / "cpu/cpu.cfs_period_us", "100000\n")
    _write(sys_cg / "pids/pids.max", "256\n")
    return tmp_path


def _v1_counters(
    root: Path, *, cpu: int, peak: int, usage: int, oom_kill: int | None, failcnt: int, io: tuple[int, int]
) -> None:
    sys_cg = root / "sys/fs/cgroup"
    _write(sys_cg / "cpuacct/cpuacct.usage", f"{cpu}\n")
    _write(sys_cg / "cpu/cpu.stat", f"nr_periods 10\nnr_throttled 2\nthrottled_time {cpu // 10}\n")
    _write(sys_cg / "memory/memory.max_usage_in_bytes", f"{peak}\n")
    _write(sys_cg / "memory/memory.usage_in_bytes", f"{usage}\n")
    _write(sys_cg / "memory/memory.failcnt", f"{failcnt}\n")
    oom = "oom_kill_disable 0\nunder_oom 0\n" + (f"oom_kill {oom_kill}\n" if oom_kill is not None else "")
    _write(sys_cg / "memory/memory.oom_control", oom)
    _write(
        sys_cg / "blkio/blkio.throttle.io_service_bytes_recursive",
        f"8:0 Read {io[0]}\n8:0 Write {io[1]}\n8:0 Sync 0\n8:0 Async 0\n8:0 Total {sum(io)}\nTotal {sum(io)}\n",
    )


def test_v1_container_view_is_found_through_mountinfo(tmp_path: Path) -> None:
    root = _v1_tree(tmp_path)
    found = Cgroup.detect(str(root / "proc"))
    assert found is not None and found.version == 1
    assert found.dirs["memory"] == str(root / "sys/fs/cgroup/memory")
    assert found.limits() == {"version": 1, "cpus": 0.5, "memory_bytes": 512 * MiB, "pids": 256}


def test_v1_host_view_joins_the_own_path_under_the_hierarchy_root(tmp_path: Path) -> None:
    proc, sys_cg = tmp_path / "proc", tmp_path / "cg"
    _write(proc / "cgroup", "4:memory:/session/abc\n2:cpuacct:/\n")
    _write(
        proc / "mountinfo",
        f"40 30 0:40 / {sys_cg / 'memory'} rw - cgroup cgroup rw,memory\n"
        f"41 30 0:41 / {sys_cg / 'cpuacct'} rw - cgroup cgroup rw,cpuacct\n",
    )
    (sys_cg / "memory/session/abc").mkdir(parents=True)
    (sys_cg / "cpuacct").mkdir(parents=True)
    found = Cgroup.detect(str(proc))
    assert found is not None
    assert found.dirs == {
        "memory": str(sys_cg / "memory/session/abc"),
        "cpuacct": str(sys_cg / "cpuacct"),
    }


def test_v1_oom_kill_counter_marks_the_run(tmp_path: Path) -> None:
    root = _v1_tree(tmp_path)
    probe = CgroupProbe.detect(str(root / "proc"))
    assert probe is not None
    _v1_counters(root, cpu=1_000, peak=20 * MiB, usage=10 * MiB, oom_kill=0, failcnt=0, io=(0, 0))
    mark = probe.begin()  # (the fake peak file is writable, so it is reset: 0 < the peak below anyway)
    _v1_counters(root, cpu=5_000, peak=512 * MiB, usage=12 * MiB, oom_kill=1, failcnt=40, io=(4096, 8192))
    fields = probe.end(mark, {"signal": 9, "timed_out": False})
    assert fields == {
        "cgroup_peak_bytes": 512 * MiB,
        "cgroup_cpu_ns": 4_000,
        "cgroup_throttled_ns": 400,
        "cgroup_io_read_bytes": 4096,
        "cgroup_io_write_bytes": 8192,
        "oom_killed": True,
    }


def test_v1_reset_of_a_writable_peak_makes_it_per_run(tmp_path: Path) -> None:
    root = _v1_tree(tmp_path)
    _v1_counters(root, cpu=0, peak=300 * MiB, usage=10 * MiB, oom_kill=0, failcnt=0, io=(0, 0))
    probe = CgroupProbe.detect(str(root / "proc"))
    assert probe is not None
    reset, before = probe.begin()
    assert reset is True and before["peak"] == 0  # the fake file took the 0 we wrote


def test_peak_is_reported_only_when_it_belongs_to_the_run() -> None:
    before = {"peak": 300, "cpu_ns": 0}
    assert (
        run_fields(before, {"peak": 300, "cpu_ns": 5}, reset=False, signal=0, timed_out=False)[
            "cgroup_peak_bytes"
        ]
        is None
    )
    assert (
        run_fields(before, {"peak": 310, "cpu_ns": 5}, reset=False, signal=0, timed_out=False)[
            "cgroup_peak_bytes"
        ]
        == 310
    )
    assert (
        run_fields(before, {"peak": 120, "cpu_ns": 5}, reset=True, signal=0, timed_out=False)[
            "cgroup_peak_bytes"
        ]
        == 120
    )


@pytest.mark.parametrize(
    ("after", "signal", "timed_out", "expected"),
    [
        ({"failcnt": 3, "peak": 100, "limit": 1000}, 9, False, True),  # hit the limit, then SIGKILL
        ({"failcnt": 0, "peak": 990, "limit": 1000}, 9, False, True),  # usage reached the limit
        ({"failcnt": 3, "peak": 100, "limit": 1000}, 9, True, False),  # our own timeout kill
        ({"failcnt": 3, "peak": 100, "limit": 1000}, 0, False, False),  # reclaim, no kill
        ({"failcnt": 0, "peak": 100, "limit": 1000}, 9, False, False),  # killed by someone else
    ],
)
def test_oom_heuristic_without_kernel_counter(
    after: dict, signal: int, timed_out: bool, expected: bool
) -> None:
    before = {"failcnt": 0, "peak": 50, "limit": 1000}
    assert (
        run_fields(before, after, reset=False, signal=signal, timed_out=timed_out)["oom_killed"] is expected
    )


def test_v2_counters(tmp_path: Path) -> None:
    proc, cg = tmp_path / "proc", tmp_path / "sys/fs/cgroup"
    _write(proc / "cgroup", "0::/\n")
    _write(proc / "mountinfo", f"35 30 0:30 / {cg} ro - cgroup2 cgroup2 rw\n")
    _write(cg / "cgroup.controllers", "cpuset cpu io memory pids\n")
    _write(cg / "cpu.max", "200000 100000\n")
    _write(cg / "memory.max", "2147483648\n")
    _write(cg / "pids.max", "max\n")

    def counters(usage_usec: int, rbytes: int, kills: int, peak: int) -> None:
        _write(cg / "cpu.stat", f"usage_usec {usage_usec}\nuser_usec 1\nsystem_usec 1\nthrottled_usec 7\n")
        _write(
            cg / "io.stat",
            f"8:0 rbytes={rbytes} wbytes=10 rios=1 wios=1 dbytes=0 dios=0\n"
            f"8:16 rbytes=1 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n",
        )
        _write(cg / "memory.events", f"low 0\nhigh 0\nmax 0\noom {kills}\noom_kill {kills}\n")
        _write(cg / "memory.peak", f"{peak}\n")
        _write(cg / "memory.current", "1000\n")

    counters(100, 0, 0, 5000)
    found = Cgroup.detect(str(proc))
    assert found is not None and found.version == 2
    assert found.limits() == {"version": 2, "cpus": 2.0, "memory_bytes": 2 * GiB, "pids": None}
    before = found.snapshot()
    counters(350, 4096, 0, 9000)
    fields = run_fields(before, found.snapshot(), reset=False, signal=0, timed_out=False)
    assert fields["cgroup_cpu_ns"] == 250_000 and fields["cgroup_io_read_bytes"] == 4096
    assert fields["cgroup_throttled_ns"] == 0 and fields["cgroup_peak_bytes"] == 9000
    assert fields["oom_killed"] is False


def test_hybrid_host_with_empty_unified_mount_is_not_v2(tmp_path: Path) -> None:
    proc, cg = tmp_path / "proc", tmp_path / "unified"
    _write(proc / "cgroup", "0::/user.slice\n")
    _write(proc / "mountinfo", f"35 30 0:30 / {cg} rw - cgroup2 cgroup2 rw\n")
    _write(cg / "cgroup.controllers", "\n")
    assert Cgroup.detect(str(proc)) is None


def test_no_cgroup_files_means_no_probe(tmp_path: Path) -> None:
    assert CgroupProbe.detect(str(tmp_path / "missing")) is None
