"""The measurement runner: time one command exactly, on the host or inside a container.

This file is deliberately **standard library only and self-contained**: the local backend runs
it as a small worker process (``python3 -I -S runner.py --serve``) and the Docker backend runs
the very same file inside each tool container, so both backends share one measurement path.

What one measurement does (SPEC §4.1):

* exec without a shell; stdin is ``/dev/null``; stdout a fresh pipe that nobody waits on while the
  command runs (the helper drains it on a periodic tick and counts the bytes), stderr a fresh memfd
  (a file in memory; its size is the byte count, its last 4 KiB the failure tail). So no reader
  sits in the command's path, and the command sees a pipe as it would under a user's ``|``: git,
  for one, flushes stdout per commit unless stdout is a regular file, and ran ``git log -n 300``
  8 % faster into a memfd than into a pipe or ``/dev/null`` (``hyperfine -N``'s default). Without
  the helper (no C compiler) stdout is a memfd too (``output_method``). An exec request's
  ``"stdout": "devnull"`` (a suite's ``settings.stdout``) sends stdout to ``/dev/null`` instead, as
  ``hyperfine -N`` does: no byte count (``stdout_bytes`` null), and no pipe for the command to
  write into, which costs git 2–4 % on ``log -n 300`` (benchmarks/RESULTS.md);
* wall time from a monotonic clock around fork → wait;
* CPU time, peak RSS, block I/O and context switches from ``wait4`` rusage **of that child
  only** (never ``RUSAGE_CHILDREN``, whose max RSS never decreases);
* optionally pinned to a CPU set (``cpus``): the command and the clock readings around it (the
  helper, or the worker during a fallback measurement), not the worker's bookkeeping, so every
  tool's commands get the same placement whichever core its worker happens to sit on;
* the environment's size drawn afresh for every run: ``BENCH_RANDOMIZED_ENV_OFFSET`` holds 0–4095
  bytes (off with ``"env_offset": false``). The environment sits above the stack, so its size moves
  the stack's alignment, which alone can make a program several per cent faster or slower
  (Mytkowicz, Diwan, Hauswirth & Sweeney 2009); a fixed environment turns that luck into a lasting
  bias of one tool's cells against another's, a random one into noise that averages out. hyperfine
  does the same (``HYPERFINE_RANDOMIZED_ENVIRONMENT_OFFSET``);
* a per-run timeout after which the command's whole process group is killed and the sample is
  recorded ``timed_out``.

Where a C compiler was available the spawn/wait4 is done by the tiny static helper
``native/bench_exec.c``, one long-lived ``bench-exec --serve`` process per worker (as warm as
hyperfine's loop; :class:`ExecHelper`): Linux folds the pre-exec memory image into
``ru_maxrss``, so forking from Python would put a floor of Python's RSS (~10 MB) under every
peak-memory figure. Without the helper the runner forks itself and reports that floor
(``rss_method`` ``python-fork``).

Fresh state (``restore``): a mutating operation runs on a fresh copy of a pristine tree. The
first restore of a destination copies the tree by the cheapest correct means this filesystem
offers — ``reflink`` (``FICLONE``: copy-on-write clones), else ``hardlink`` (git's immutable
object files — packs and loose objects, which git only ever creates and deletes, never rewrites —
hard-linked read-only, every other file copied), else ``copy``. Later restores of the same
destination are incremental: every entry the command left untouched (same inode, same ctime,
same size and mode as recorded when it was written) is kept, everything else is removed or
brought back from the pristine tree. See :class:`Restorer` for why that is exact.

Worker protocol (``RUNNER_PROTOCOL`` 4; protocol 1–3 requests are answered unchanged): one JSON
object per line on stdin, one JSON reply per line on stdout. Every reply carries ``"ok": true``
(or ``"ok": false, "error": "..."``) and ``"request_ns"``, the worker's own wall time for the
request (duty cycle = timed ns ÷ measuring ns).

``{"op": "exec", "argv": [...], "cwd": str, "env": {...}, "timeout_s": float, "cpus": [int] | null, "env_offset": bool,
"stdout": "pipe" | "devnull"}``
    → one measurement: ``wall_ns user_ns sys_ns peak_rss_bytes read_bytes write_bytes ctx_switches
    exit_code signal timed_out stdout_bytes stderr_bytes stderr_tail`` (plus ``cgroup_*`` fields in
    containers). ``cpus``: pin the command to these CPUs (a subset of ``info``'s ``cpus_allowed``).
    ``stdout`` (protocol 4; default ``pipe``): ``devnull`` sends it to ``/dev/null``, ``stdout_bytes`` null.
``{"op": "exec_many", "execs": [exec request without "op", ...]}``
    → ``results``: one exec reply per request, the runs made back to back. With the helper (and no
    per-run cgroup accounting: not in containers) the whole list is one batch of ``bench-exec``,
    which answers after the last run, so nothing of the worker runs between two runs, as in
    hyperfine's loop (``bench-pipeline measure``). Protocol 3.
``{"op": "capture", "argv", "cwd", "env", "timeout_s"}``
    → run untimed: ``exit_code timed_out stdout stderr_tail seconds`` (versions, state probes).
``{"op": "restore", "src": str, "dst": str, "method": "auto" | "reflink" | "hardlink" | "copy"}``
    → make ``dst`` a fresh copy of ``src`` (untimed): ``method`` used, ``incremental`` (a resync of
    an earlier copy), ``seconds``, and counts ``files kept copied linked removed``.
``{"op": "restore_many", "src": str, "dsts": [str], "method": ...}``
    → ``results`` (one restore reply per destination), ``seconds``: N copies in one round trip.
``{"op": "sample", "restore": {"src", "dst", "method"?} | null, "prepare": [step], "exec": {...},
"conclude": [step], "probe": [step] | null}``
    → one whole sample in one round trip. A step is ``{"argv", "cwd"?, "env"?, "timeout_s"?,
    "name"?}``; a missing ``cwd``/``env``/``timeout_s`` is the exec's. ``exec`` is an exec request
    plus ``"expect_exit": [int]`` (default ``[0]``). Order: restore, prepare (stops at the first
    step that fails), exec, probe (only when exec succeeded), conclude (stops at the first
    failure). Reply: ``restore`` (restore reply or null), ``prepare`` / ``conclude`` (one reply per
    step run: ``exit_code timed_out stderr_tail seconds``), ``exec`` (exec reply, null when a
    prepare step failed), ``exec_ok``, ``probe`` (capture replies with ``name`` and ``stdout``, or
    null), ``failed`` (null, ``"prepare"`` or ``"conclude"``) with ``failed_step`` (its index),
    ``timed_ns`` (the exec's ``wall_ns``) and ``parts_ns`` (worker wall ns per part).
``{"op": "info"}``
    → who and where the worker is (``protocol``, ``rss_method``, ``cpus_allowed``, cgroup limits).
``{"op": "quit"}``
    → no reply; the worker exits.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import random
import re
import select
import shutil
import signal
import stat
import subprocess
import sys
import time

RUNNER_PROTOCOL = 4
STDOUT_MODES = ("pipe", "devnull")
STDERR_TAIL_BYTES = 4096
#: every measured run gets this variable with 0 … ENV_OFFSET_MAX bytes, drawn afresh (as hyperfine does)
ENV_OFFSET_VAR = "BENCH_RANDOMIZED_ENV_OFFSET"
ENV_OFFSET_MAX = 4095
RESTORE_METHODS = ("reflink", "hardlink", "copy")
FICLONE = 0x40049409  # _IOW(0x94, 9, int), linux/fs.h
_STAMP = ".bench-restore-stamp"
_STAGING = ".bench-pristine-"

# ------------------------------------------------------------------------------------ measuring


def _sink(name: str) -> int:
    """A fresh in-memory file for one stream of one run (an unlinked temp file without memfd)."""
    if hasattr(os, "memfd_create"):
        try:
            return os.memfd_create(f"bench-{name}", os.MFD_CLOEXEC)
        except OSError:
            pass
    import tempfile

    fd, path = tempfile.mkstemp(prefix=f"bench-{name}-")
    os.unlink(path)
    return fd


class _Output:
    """stdout and stderr of one run: two memfds whose sizes are the byte counts (stdout
    ``/dev/null``, not counted, for ``stdout="devnull"``)."""

    def __init__(self, stdout: str = "pipe") -> None:
        self.counted = stdout != "devnull"
        self.stdout = _sink("stdout") if self.counted else os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
        self.stderr = _sink("stderr")

    def collect(self) -> dict:
        out = os.fstat(self.stdout).st_size if self.counted else None
        err = os.fstat(self.stderr).st_size
        tail = os.pread(self.stderr, STDERR_TAIL_BYTES, max(0, err - STDERR_TAIL_BYTES)) if err else b""
        return {"stdout_bytes": out, "stderr_bytes": err, "stderr_tail": tail.decode("utf-8", "replace")}

    def close(self) -> None:
        os.close(self.stdout)
        os.close(self.stderr)


def _kill_group(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
            return
        except (ProcessLookupError, PermissionError):
            continue


def _wait(pid: int, deadline_ns: int | None) -> tuple[int, object, bool]:
    """Reap ``pid`` (status, rusage, deadline_passed); at the deadline its process group is killed.

    Waits on a pidfd (Linux ≥ 5.3), so the reply follows the exit at once; without one, polls.
    """
    if deadline_ns is not None:
        pidfd = None
        if hasattr(os, "pidfd_open"):
            try:
                pidfd = os.pidfd_open(pid)
            except OSError:
                pidfd = None
        try:
            while True:
                left = deadline_ns - time.perf_counter_ns()
                if left <= 0:
                    _kill_group(pid)
                    _, status, ru = os.wait4(pid, 0)
                    return status, ru, True
                if pidfd is not None:
                    if select.select([pidfd], [], [], left / 1e9)[0]:
                        break
                else:
                    got, status, ru = os.wait4(pid, os.WNOHANG)
                    if got:
                        return status, ru, False
                    time.sleep(min(0.001, left / 1e9))
        finally:
            if pidfd is not None:
                os.close(pidfd)
    _, status, ru = os.wait4(pid, 0)
    return status, ru, False


def _result(**fields: object) -> dict:
    base = {
        "ok": True,
        "wall_ns": 0,
        "user_ns": 0,
        "sys_ns": 0,
        "peak_rss_bytes": 0,
        "read_bytes": 0,
        "write_bytes": 0,
        "ctx_switches": 0,
        "exit_code": 0,
        "signal": 0,
        "timed_out": False,
        "stdout_bytes": 0,
        "stderr_bytes": 0,
        "stderr_tail": "",
    }
    base.update(fields)
    return base


def _spawn_error(exc: OSError, argv: list[str]) -> dict:
    code = 127 if isinstance(exc, FileNotFoundError) else 126
    return _result(exit_code=code, stderr_tail=f"cannot execute {argv[0]!r}: {exc.strerror}")


def cpu_ranges(cpus: list[int]) -> str:
    """``[0, 2, 3]`` → ``"0,2-3"`` (the kernel's cpuset list format, as Docker's ``cpuset_cpus``)."""
    runs: list[list[int]] = []
    for cpu in sorted(set(cpus)):
        if runs and cpu == runs[-1][-1] + 1:
            runs[-1].append(cpu)
        else:
            runs.append([cpu])
    return ",".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def parse_cpus(text: str) -> list[int]:
    """``"0,2-3"`` → ``[0, 2, 3]``; ValueError on anything else."""
    cpus: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        first, last = int(lo), int(hi or lo)
        if first < 0 or last < first:
            raise ValueError(f"bad CPU list {text!r}")
        cpus.update(range(first, last + 1))
    return sorted(cpus)


def measure_direct(
    argv: list[str],
    cwd: str,
    env: dict[str, str],
    timeout_s: float,
    cpus: list[int] | None = None,
    stdout: str = "pipe",
) -> dict:
    """Measure by forking from this process (fallback when no bench-exec helper exists).

    ``cpus``: the worker moves itself onto the set for the measurement (the child inherits it, and
    the clock readings happen there) and back afterwards.
    """
    output = _Output(stdout)
    saved = os.sched_getaffinity(0) if cpus else None
    try:
        if cpus:
            os.sched_setaffinity(0, cpus)
        start = time.perf_counter_ns()
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output.stdout,
                stderr=output.stderr,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            return _spawn_error(exc, argv)
        deadline = start + int(timeout_s * 1e9) if timeout_s > 0 else None
        status, ru, timed_out = _wait(proc.pid, deadline)
        wall = time.perf_counter_ns() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        return _result(
            wall_ns=wall,
            user_ns=int(ru.ru_utime * 1e9),  # type: ignore[attr-defined]
            sys_ns=int(ru.ru_stime * 1e9),  # type: ignore[attr-defined]
            peak_rss_bytes=ru.ru_maxrss * 1024,  # type: ignore[attr-defined]
            read_bytes=ru.ru_inblock * 512,  # type: ignore[attr-defined]
            write_bytes=ru.ru_oublock * 512,  # type: ignore[attr-defined]
            ctx_switches=ru.ru_nvcsw + ru.ru_nivcsw,  # type: ignore[attr-defined]
            exit_code=os.waitstatus_to_exitcode(status) if not timed_out else -9,
            signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0,
            timed_out=timed_out,
            **output.collect(),
        )
    finally:
        if saved:
            os.sched_setaffinity(0, saved)
        output.close()


class ExecHelper:
    """``bench-exec --serve``: one long-lived static process that spawns every measured command.

    Like hyperfine's measuring loop, and unlike a fresh helper per run, the spawning process is
    warm: no exec and cold start of its own inside every sample (~50-80 µs on ``git --version``),
    and no helper process to create per sample (the worker's own overhead). Requests and replies
    are described in ``native/bench_exec.c``. A helper that dies or wedges is replaced at the next
    request; that run is reported as a runner error.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._proc: subprocess.Popen[bytes] | None = None
        self._buf = b""

    def _start(self) -> subprocess.Popen[bytes]:
        self._buf = b""
        self._proc = subprocess.Popen(
            [self.path, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        return self._proc

    def close(self) -> None:
        if self._proc is not None:
            _kill_group(self._proc.pid)
            self._proc.wait()
            for f in (self._proc.stdin, self._proc.stdout):
                if f:
                    f.close()
            self._proc = None

    def _read(self, fd: int, n: int | None, deadline_ns: int | None) -> bytes | None:
        """Read up to a newline (``n`` None, newline dropped) or exactly ``n`` bytes; None on EOF or deadline."""
        while (b"\n" not in self._buf) if n is None else (len(self._buf) < n):
            if deadline_ns is not None:
                left = (deadline_ns - time.perf_counter_ns()) / 1e9
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buf += chunk
        if n is None:
            line, _, self._buf = self._buf.partition(b"\n")
            return line
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def _running(self) -> subprocess.Popen[bytes]:
        return self._proc if self._proc is not None and self._proc.poll() is None else self._start()

    @staticmethod
    def _encode(
        argv: list[str],
        cwd: str,
        env: dict[str, str],
        timeout_s: float,
        cpus: list[int] | None,
        stdout: str = "pipe",
    ) -> bytes:
        fields = [
            str(max(0, int(timeout_s * 1000))).encode(),
            cpu_ranges(cpus).encode() if cpus else b"",
            stdout.encode(),
            os.fsencode(cwd),
            str(len(env)).encode(),
            *(os.fsencode(f"{k}={v}") for k, v in env.items()),
            *(os.fsencode(a) for a in argv),
        ]
        payload = b"\0".join(fields) + b"\0"
        return b"%d\n" % len(payload) + payload

    def _send(self, proc: subprocess.Popen[bytes], data: bytes) -> str | None:
        """Write ``data`` to the helper; the error text when it is gone."""
        assert proc.stdin is not None
        try:
            proc.stdin.write(data)
            proc.stdin.flush()
        except OSError as exc:
            self.close()
            return f"bench-exec is gone: {exc}"
        return None

    def _reply(self, proc: subprocess.Popen[bytes], argv: list[str], backstop: int | None) -> dict:
        """Read one reply of the helper as a runner result (``ok`` False when it broke off)."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        line = self._read(fd, None, backstop)
        values = line.split() if line is not None else []
        tail = self._read(fd, int(values[-1]), backstop) if len(values) == 15 else None
        if tail is None:
            code = proc.poll()
            self.close()
            got = line.decode("ascii", "replace") if line else "nothing"
            return _result(ok=False, error=f"bench-exec answered {got!r} (exit {code})")
        wall, user, sys_, rss_kb, inb, outb, nv, niv, code, sig, tout, exec_errno, out, err, _ = (
            int(x) for x in values
        )
        if exec_errno:
            return _spawn_error(
                OSError(exec_errno, os.strerror(exec_errno))
                if exec_errno != errno.ENOENT
                else FileNotFoundError(exec_errno, os.strerror(exec_errno)),
                argv,
            )
        exit_code = code if code >= 0 else -sig
        return _result(
            wall_ns=wall,
            user_ns=user,
            sys_ns=sys_,
            peak_rss_bytes=rss_kb * 1024,
            read_bytes=inb * 512,
            write_bytes=outb * 512,
            ctx_switches=nv + niv,
            exit_code=-9 if tout else exit_code,
            signal=sig,
            timed_out=bool(tout),
            stdout_bytes=out if out >= 0 else None,  # -1: sent to /dev/null, not counted
            stderr_bytes=err,
            stderr_tail=tail.decode("utf-8", "replace"),
        )

    @staticmethod
    def _backstop(timeout_s: float) -> int | None:
        """When to stop waiting for a helper that itself wedges: well past the runs' own timeouts."""
        return time.perf_counter_ns() + int((timeout_s + 30) * 1e9) if timeout_s > 0 else None

    def measure(
        self,
        argv: list[str],
        cwd: str,
        env: dict[str, str],
        timeout_s: float,
        cpus: list[int] | None,
        stdout: str = "pipe",
    ) -> dict:
        proc = self._running()
        error = self._send(proc, self._encode(argv, cwd, env, timeout_s, cpus, stdout))
        if error:
            return _result(ok=False, error=error)
        return self._reply(proc, argv, self._backstop(timeout_s))

    def measure_many(
        self, runs: list[tuple[list[str], str, dict[str, str], float, list[int] | None, str]]
    ) -> list[dict]:
        """Several runs ``(argv, cwd, env, timeout_s, cpus, stdout)`` back to back in one batch of the helper.

        The helper reads them all, runs them one after the other and answers after the last, so
        nothing of this process runs between two runs (as in hyperfine's loop). A helper that
        breaks off leaves the rest of the batch as runner errors.
        """
        proc = self._running()
        error = self._send(proc, b"B%d\n" % len(runs) + b"".join(self._encode(*run) for run in runs))
        if error:
            return [_result(ok=False, error=error) for _ in runs]
        backstop = self._backstop(sum(run[3] for run in runs)) if all(run[3] > 0 for run in runs) else None
        results: list[dict] = []
        for argv, *_ in runs:
            results.append(self._reply(proc, argv, backstop))
            if not results[-1]["ok"]:
                gone = results[-1]["error"]
                results += [_result(ok=False, error=gone) for _ in runs[len(results) :]]
                break
        return results


def capture(argv: list[str], cwd: str, env: dict[str, str], timeout_s: float, limit: int = 1 << 20) -> dict:
    """Run a command untimed and return its exit code, stdout (up to ``limit`` bytes) and stderr tail."""
    start = time.perf_counter_ns()

    def done(**fields: object) -> dict:
        return {"ok": True, **fields, "seconds": (time.perf_counter_ns() - start) / 1e9}

    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s if timeout_s > 0 else None,
            start_new_session=True,
        )
    except OSError as exc:
        return done(
            exit_code=127 if isinstance(exc, FileNotFoundError) else 126,
            stdout="",
            stderr_tail=f"cannot execute {argv[0]!r}: {exc.strerror}",
            timed_out=False,
        )
    except subprocess.TimeoutExpired:
        return done(exit_code=-9, stdout="", stderr_tail="timed out", timed_out=True)
    return done(
        exit_code=proc.returncode,
        timed_out=False,
        stdout=proc.stdout[:limit].decode("utf-8", "replace"),
        stderr_tail=proc.stderr[-STDERR_TAIL_BYTES:].decode("utf-8", "replace"),
    )


# ------------------------------------------------------------------------------------ fresh state

# git's immutable object files: packs with their companions, and loose objects (sha1 or sha256)
_PACK_FILE = re.compile(r"pack-[0-9a-f]{40,64}\.(pack|idx|rev|bitmap|mtimes)")
_LOOSE_DIR = re.compile(r"[0-9a-f]{2}")
_LOOSE_FILE = re.compile(r"[0-9a-f]{38}|[0-9a-f]{62}")


class _Pristine:
    """The listing of one pristine tree, read once: pristine trees never change during a run.

    ``entries``: relative path → lstat ("" is the root); ``children``: directory → names;
    ``objects``: the relative paths of git's immutable object files, which may be hard-linked.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self.entries: dict[str, os.stat_result] = {"": os.lstat(root)}
        self.children: dict[str, list[str]] = {}
        self.targets: dict[str, str] = {}
        self.objects: set[str] = set()
        self.object_dirs: set[str] = set()  # "" and every directory with an object file below it
        if not stat.S_ISDIR(self.entries[""].st_mode):
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", root)
        self._scan("")
        for rel in list(self.children):
            if os.path.basename(rel) == "objects" and self._is_git_dir(os.path.dirname(rel)):
                self._mark_objects(rel)
        for rel in self.objects:
            while rel:
                rel = os.path.dirname(rel)
                self.object_dirs.add(rel)

    def _scan(self, rel: str) -> None:
        names = []
        with os.scandir(os.path.join(self.root, rel)) as it:
            for entry in it:
                child = os.path.join(rel, entry.name) if rel else entry.name
                st = entry.stat(follow_symlinks=False)
                names.append(entry.name)
                self.entries[child] = st
                if stat.S_ISDIR(st.st_mode):
                    self._scan(child)
                elif stat.S_ISLNK(st.st_mode):
                    self.targets[child] = os.readlink(entry.path)
                elif not stat.S_ISREG(st.st_mode):
                    raise OSError(
                        errno.EINVAL, "pristine trees hold files, directories and symlinks only", entry.path
                    )
        self.children[rel] = sorted(names)

    def _is_git_dir(self, rel: str) -> bool:
        head = self.entries.get(os.path.join(rel, "HEAD") if rel else "HEAD")
        refs = self.entries.get(os.path.join(rel, "refs") if rel else "refs")
        return bool(head and refs and stat.S_ISREG(head.st_mode) and stat.S_ISDIR(refs.st_mode))

    def _mark_objects(self, objects: str) -> None:
        for sub in self.children[objects]:
            rel = os.path.join(objects, sub)
            if sub == "pack" and rel in self.children:
                found = [n for n in self.children[rel] if _PACK_FILE.fullmatch(n)]
                self.objects.update(os.path.join(rel, n) for n in found)
            elif _LOOSE_DIR.fullmatch(sub) and rel in self.children:
                found = [n for n in self.children[rel] if _LOOSE_FILE.fullmatch(n)]
                self.objects.update(os.path.join(rel, n) for n in found)
        self.objects = {r for r in self.objects if stat.S_ISREG(self.entries[r].st_mode)}

    def path(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else self.root


class _Copy:
    """What one restore wrote at a destination: per relative path the (inode, ctime, size, mode)
    of a copied file or symlink, or the inode of a hard-linked object; entries written in the
    same clock tick as the restore's end stamp are left out (racy: always replaced)."""

    def __init__(self, src: str, method: str, source: _Pristine) -> None:
        self.src = src
        self.method = method
        self.source = source  # the tree files come from: the pristine one, or its staged copy
        self.files: dict[str, tuple[int, int, int, int]] = {}
        self.linked: dict[str, int] = {}


def _remove(path: str) -> None:
    """Delete a file, symlink or whole directory tree, fixing permissions that stand in the way."""

    def fix(func, p, _exc):  # type: ignore[no-untyped-def]
        parent = os.path.dirname(p)
        os.chmod(parent, stat.S_IMODE(os.lstat(parent).st_mode) | stat.S_IRWXU)
        if os.path.isdir(p) and not os.path.islink(p):
            os.chmod(p, stat.S_IMODE(os.lstat(p).st_mode) | stat.S_IRWXU)
        func(p)

    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode):
        rm = shutil.which("rm")  # several times faster than rmtree on trees of thousands of files
        if rm and subprocess.run([rm, "-rf", "--", path], capture_output=True).returncode == 0:
            return
        shutil.rmtree(path, onerror=fix)
    else:
        try:
            os.unlink(path)
        except PermissionError:
            parent = os.path.dirname(path)
            os.chmod(parent, stat.S_IMODE(os.lstat(parent).st_mode) | stat.S_IRWXU)
            os.unlink(path)


def _put_back(path: str, now: os.stat_result, recorded: os.stat_result) -> None:
    """Give a hard-linked object file back the mode and mtime recorded in the staged listing."""
    if now.st_mode != recorded.st_mode:
        os.chmod(path, stat.S_IMODE(recorded.st_mode))
    if now.st_mtime_ns != recorded.st_mtime_ns:
        os.utime(path, ns=(recorded.st_atime_ns, recorded.st_mtime_ns))


class Restorer:
    """Fresh copies of pristine trees by the cheapest correct means, resynced incrementally.

    **Method** (chosen once per pristine tree × destination directory, by trying it): ``reflink``
    when ``FICLONE`` works (every file a copy-on-write clone: nothing a command does can reach
    the pristine blocks); else ``hardlink`` when ``link(2)`` works: git's object files (packs,
    their indexes, loose objects) are hard-linked and every other file is copied. That is safe
    because git never opens an existing object file for writing: new objects go to new temporary
    files that are renamed into place; ``gc``, ``repack``, ``prune`` and ``maintenance`` write new
    packs and *unlink* old files (which removes the copy's link, not the shared inode); refs,
    ``packed-refs``, the index and the config are rewritten by rename. jj, colocated, keeps its
    commits in the same ``.git/objects`` (its ``git_target`` is ``../../../.git``), with the same
    discipline. Linked files are read-only (git creates them 0444; others are not linked), so a
    non-root command cannot write them even by mistake. Links never reach the fixture cache: they
    come from a private staged copy of the pristine tree next to the destination (made once per
    worker, untimed), because git does touch one thing through a link, the mtime of an object it
    would have written again ("freshening", ``utime(2)``); each restore puts those mtimes back.
    Otherwise ``copy``. Clones come straight from the pristine tree, or from a staged copy when it
    is on another mount (Docker's read-only fixture mount: EXDEV).

    **Incremental resync.** A destination restored before is not deleted and copied again:
    each entry is compared with the pristine listing and with what this restorer recorded when it
    wrote it (inode, ctime, size, mode). ctime cannot be set from user space and changes with
    every write, truncation, chmod, chown and link count change, so an entry whose record still
    matches holds the bytes it was written with; entries that differ, are missing or are extra are
    replaced or removed, and directory modes and mtimes are put back. Timestamps have clock-tick
    granularity, so a change in the same tick as the record would go unseen: the restore ends by
    writing a stamp file next to the destination, and entries whose ctime is not older than the
    stamp are not recorded, hence always replaced next time (git's "racily clean" rule). A hard-
    linked object is kept when it still is the same inode. Any surprise falls back to a full copy.
    """

    def __init__(self) -> None:
        self._pristine: dict[str, _Pristine] = {}
        self._copies: dict[str, _Copy] = {}
        self._methods: dict[tuple[str, str, str], tuple[str, _Pristine]] = {}
        self._euid = os.geteuid()

    # -- entry points

    def restore(self, src: str, dst: str, method: str = "auto") -> dict:
        start = time.perf_counter_ns()
        if method not in ("auto", *RESTORE_METHODS):
            raise ValueError(f"unknown restore method {method!r}; use auto, {', '.join(RESTORE_METHODS)}")
        src, dst = os.path.abspath(src), os.path.abspath(dst)
        pristine = self._listing(src)
        parent = os.path.dirname(dst)
        os.makedirs(parent, exist_ok=True)
        chosen, source = self._method(pristine, parent, method)
        counts = {"kept": 0, "copied": 0, "linked": 0, "removed": 0}
        previous = self._copies.pop(dst, None)
        incremental = False
        if previous is not None and (previous.src, previous.method) == (src, chosen) and os.path.isdir(dst):
            try:
                self._sync_dir(previous, "", dst, counts)
                incremental = True
                record = previous
            except OSError:  # something unexpected (permissions, a race): start over
                counts = dict.fromkeys(counts, 0)
        if not incremental:
            if os.path.lexists(dst):
                _remove(dst)
            record = _Copy(src, chosen, source)
            self._write_dir(record, "", dst, counts)
        self._stamp(record, parent)
        self._copies[dst] = record
        return {
            "ok": True,
            "method": chosen,
            "incremental": incremental,
            "seconds": (time.perf_counter_ns() - start) / 1e9,
            **counts,
        }

    def restore_many(self, src: str, dsts: list[str], method: str = "auto") -> dict:
        start = time.perf_counter_ns()
        results = [self.restore(src, dst, method) for dst in dsts]
        return {"ok": True, "results": results, "seconds": (time.perf_counter_ns() - start) / 1e9}

    # -- choosing the method

    def _listing(self, src: str) -> _Pristine:
        found = self._pristine.get(src)
        if found is None or found.entries[""].st_ino != os.lstat(src).st_ino:
            found = self._pristine[src] = _Pristine(src)
        return found

    def _method(self, pristine: _Pristine, parent: str, wanted: str) -> tuple[str, _Pristine]:
        key = (pristine.root, parent, wanted)
        if key not in self._methods:
            self._methods[key] = self._probe(pristine, parent, wanted)
        return self._methods[key]

    def _probe(self, pristine: _Pristine, parent: str, wanted: str) -> tuple[str, _Pristine]:
        """The cheapest method that works into ``parent``, and the tree to take files from.

        Clones come straight from the pristine tree (a clone shares blocks, not the inode), or from
        a staged copy when the pristine tree is on another mount (EXDEV). Links always come from a
        staged copy: git *freshens* objects it would write again with ``utime(2)``, which through a
        link would move the mtime of the shared fixture cache's files under concurrent runs.
        """
        if wanted == "copy":
            return "copy", pristine
        files = sorted(r for r, st in pristine.entries.items() if stat.S_ISREG(st.st_mode) and st.st_size)
        staged: _Pristine | None = None
        if wanted in ("auto", "reflink") and files:
            outcome = self._clone_errno(pristine.path(files[0]), parent)
            if outcome == 0:
                return "reflink", pristine
            if outcome == errno.EXDEV:
                staged = self._stage(pristine, parent)
                if self._clone_errno(staged.path(files[0]), parent) == 0:
                    return "reflink", staged
        if wanted in ("auto", "hardlink") and pristine.objects and self._links_work(parent):
            return "hardlink", staged or self._stage(pristine, parent)
        if staged is not None:
            _remove(staged.root)
        if wanted != "auto":
            raise OSError(errno.EOPNOTSUPP, f"restore method {wanted} does not work here", parent)
        return "copy", pristine

    @staticmethod
    def _links_work(parent: str) -> bool:
        a = os.path.join(parent, f".bench-probe-{os.getpid()}")
        b = a + "-link"
        try:
            with open(a, "w"):
                pass
            os.link(a, b)
            return True
        except OSError:
            return False
        finally:
            for path in (a, b):
                if os.path.lexists(path):
                    os.unlink(path)

    @staticmethod
    def _clone_errno(src_file: str, parent: str) -> int:
        """0 when cloning ``src_file`` into ``parent`` (``FICLONE``) works, else the errno."""
        probe = os.path.join(parent, f".bench-probe-{os.getpid()}")
        if os.path.lexists(probe):
            os.unlink(probe)
        try:
            fd_in = os.open(src_file, os.O_RDONLY)
            try:
                fd_out = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    fcntl.ioctl(fd_out, FICLONE, fd_in)
                finally:
                    os.close(fd_out)
            finally:
                os.close(fd_in)
            return 0
        except OSError as exc:
            return exc.errno or errno.EIO
        finally:
            if os.path.lexists(probe):
                os.unlink(probe)

    def _stage(self, pristine: _Pristine, parent: str) -> _Pristine:
        """A private full copy of ``pristine`` in ``parent`` (this worker's, made fresh, untimed)."""
        digest = hashlib.sha256(pristine.root.encode()).hexdigest()[:12]
        staged = os.path.join(parent, f"{_STAGING}{digest}-{os.getpid()}")
        if os.path.lexists(staged):
            _remove(staged)
        record = _Copy(pristine.root, "copy", pristine)
        self._write_dir(record, "", staged, dict.fromkeys(("kept", "copied", "linked", "removed"), 0))
        for rel in pristine.objects:  # what is linked from here must stay read-only
            path = os.path.join(staged, rel)
            os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) & ~0o222)
        return _Pristine(staged)

    # -- writing

    def _write_dir(self, record: _Copy, rel: str, dst: str, counts: dict[str, int]) -> None:
        """Create directory ``rel`` at ``dst`` and everything below it, from ``record.source``.

        Subtrees without object files go to ``cp -a`` (C, several times faster than Python on
        thousands of small files; ``--reflink=always`` for reflink), then are stat-walked for the
        record; the way down to the object files is walked here, linking or cloning as it goes.
        """
        source = record.source
        cp = shutil.which("cp")
        if cp and (record.method != "hardlink" or rel not in source.object_dirs):
            argv = [cp, "-a", *(["--reflink=always"] if record.method == "reflink" else []), "--"]
            if subprocess.run([*argv, source.path(rel), dst], capture_output=True).returncode == 0:
                self._record_tree(record, rel, dst, counts)
                return
            if os.path.lexists(dst):
                _remove(dst)
        os.mkdir(dst, 0o700)
        for name in source.children[rel]:
            child = os.path.join(rel, name) if rel else name
            self._write_entry(record, child, os.path.join(dst, name), counts)
        self._set_dir_meta(source.entries[rel], dst)

    def _record_tree(self, record: _Copy, rel: str, dst: str, counts: dict[str, int]) -> None:
        with os.scandir(dst) as it:
            for entry in it:
                child = os.path.join(rel, entry.name) if rel else entry.name
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    self._record_tree(record, child, entry.path, counts)
                else:
                    record.files[child] = (st.st_ino, st.st_ctime_ns, st.st_size, st.st_mode)
                    counts["copied"] += 1

    def _write_entry(self, record: _Copy, rel: str, dst: str, counts: dict[str, int]) -> None:
        source = record.source
        st = source.entries[rel]
        if stat.S_ISDIR(st.st_mode):
            self._write_dir(record, rel, dst, counts)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(source.targets[rel], dst)
            if self._euid == 0 and (st.st_uid, st.st_gid) != (0, 0):
                os.lchown(dst, st.st_uid, st.st_gid)
            os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
            now = os.lstat(dst)
            record.files[rel] = (now.st_ino, now.st_ctime_ns, now.st_size, now.st_mode)
            counts["copied"] += 1
        elif record.method == "hardlink" and rel in source.objects and not st.st_mode & 0o222:
            os.link(source.path(rel), dst)
            _put_back(dst, os.lstat(dst), st)  # freshened earlier through a link that is gone now
            record.linked[rel] = st.st_ino
            counts["linked"] += 1
        else:
            self._copy_file(source.path(rel), dst, st, record.method == "reflink")
            now = os.lstat(dst)
            record.files[rel] = (now.st_ino, now.st_ctime_ns, now.st_size, now.st_mode)
            counts["copied"] += 1

    def _copy_file(self, src: str, dst: str, st: os.stat_result, clone: bool) -> None:
        fd_in = os.open(src, os.O_RDONLY)
        try:
            fd_out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                if clone and st.st_size:
                    fcntl.ioctl(fd_out, FICLONE, fd_in)
                else:
                    left = st.st_size
                    while left > 0:
                        sent = os.sendfile(fd_out, fd_in, None, min(left, 1 << 30))
                        if sent == 0:
                            break
                        left -= sent
                if self._euid == 0 and (st.st_uid, st.st_gid) != (0, 0):
                    os.fchown(fd_out, st.st_uid, st.st_gid)
                os.fchmod(fd_out, stat.S_IMODE(st.st_mode))
                os.utime(fd_out, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(fd_out)
        finally:
            os.close(fd_in)

    def _set_dir_meta(self, st: os.stat_result, path: str) -> None:
        if self._euid == 0 and (st.st_uid, st.st_gid) != (0, 0):
            os.lchown(path, st.st_uid, st.st_gid)
        os.chmod(path, stat.S_IMODE(st.st_mode))
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    # -- incremental resync

    def _sync_dir(self, record: _Copy, rel: str, dst: str, counts: dict[str, int]) -> None:
        source = record.source
        want = source.children[rel]
        wanted = set(want)
        changed = False
        seen = set()
        mode_fix = os.lstat(dst)
        if stat.S_IMODE(mode_fix.st_mode) & 0o700 != 0o700:
            os.chmod(dst, stat.S_IMODE(mode_fix.st_mode) | 0o700)
        with os.scandir(dst) as it:
            entries = list(it)
        for entry in entries:
            child = os.path.join(rel, entry.name) if rel else entry.name
            if entry.name not in wanted:
                _remove(entry.path)
                counts["removed"] += 1
                changed = True
                continue
            st = entry.stat(follow_symlinks=False)
            pst = source.entries[child]
            if stat.S_IFMT(st.st_mode) != stat.S_IFMT(pst.st_mode):
                _remove(entry.path)
                counts["removed"] += 1
                changed = True
                continue
            seen.add(entry.name)
            if stat.S_ISDIR(st.st_mode):
                self._sync_dir(record, child, entry.path, counts)
                continue
            if child in record.linked:
                if st.st_ino == record.linked[child]:
                    _put_back(entry.path, st, pst)  # the shared inode: undo git's freshening (utime)
                    counts["kept"] += 1
                    continue
            elif record.files.get(child) == (st.st_ino, st.st_ctime_ns, st.st_size, st.st_mode):
                counts["kept"] += 1
                continue
            _remove(entry.path)
            seen.discard(entry.name)
            changed = True
        for name in want:
            if name not in seen:
                child = os.path.join(rel, name) if rel else name
                record.files.pop(child, None)
                record.linked.pop(child, None)
                self._write_entry(record, child, os.path.join(dst, name), counts)
                changed = True
        pst = source.entries[rel]
        now = os.lstat(dst)
        same = (now.st_mtime_ns, now.st_mode, now.st_uid, now.st_gid) == (
            pst.st_mtime_ns,
            pst.st_mode,
            pst.st_uid if self._euid == 0 else now.st_uid,
            pst.st_gid if self._euid == 0 else now.st_gid,
        )
        if changed or not same:
            self._set_dir_meta(pst, dst)

    def _stamp(self, record: _Copy, parent: str) -> None:
        """Forget entries written in the stamp's clock tick: they are replaced next time."""
        path = os.path.join(parent, _STAMP)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, b"x")
            stamp = os.fstat(fd).st_ctime_ns
        finally:
            os.close(fd)
        record.files = {rel: rec for rel, rec in record.files.items() if rec[1] < stamp}


def restore(src: str, dst: str) -> dict:
    """Replace ``dst`` by a fresh copy of ``src`` (protocol 1's function; see :class:`Restorer`)."""
    return Restorer().restore(src, dst)


# ------------------------------------------------------------------------------------ the worker


def _cgroup_probe():  # type: ignore[no-untyped-def]
    """Per-run cgroup counters (``cgroup.py``, shipped next to this file) when the backend asks for them.

    Loaded by file path: ``-I`` keeps the script's directory off ``sys.path``.
    """
    if os.environ.get("BENCH_CGROUP_METRICS") != "1":
        return None
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cgroup.py")
    try:
        spec = importlib.util.spec_from_file_location("bench_cgroup", path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except (OSError, ImportError, AttributeError):
        return None
    return module.CgroupProbe.detect()


def _step_reply(res: dict) -> dict:
    """A prepare/conclude step's reply: no stdout (it can be large and nobody reads it)."""
    return {k: v for k, v in res.items() if k != "stdout"}


def _failed(res: dict) -> bool:
    return bool(res["timed_out"]) or res["exit_code"] != 0


class Runner:
    """Measures commands, through the helper when one is given."""

    def __init__(self, exec_helper: str | None = None) -> None:
        self.exec_helper = exec_helper if exec_helper and os.access(exec_helper, os.X_OK) else None
        self.helper = ExecHelper(self.exec_helper) if self.exec_helper else None
        self.cgroup = _cgroup_probe()
        self.cpus_allowed = sorted(os.sched_getaffinity(0))
        self.restorer = Restorer()
        self._rng = random.Random()

    def _cpus(self, value: object) -> list[int] | None:
        if value is None:
            return None
        if not isinstance(value, list) or not value:
            raise ValueError(f"cpus must be a non-empty list of CPU numbers, not {value!r}")
        cpus = sorted({int(c) for c in value})
        missing = [c for c in cpus if c not in self.cpus_allowed]
        if missing:
            raise ValueError(
                f"cpus {cpu_ranges(missing)} are not available to this worker "
                f"(it may use {cpu_ranges(self.cpus_allowed)})"
            )
        return cpus

    def measure(
        self,
        argv: list[str],
        cwd: str,
        env: dict[str, str],
        timeout_s: float = 60.0,
        cpus: list[int] | None = None,
        env_offset: bool = True,
        stdout: str = "pipe",
    ) -> dict:
        env = self._with_offset(env, env_offset)
        mark = self.cgroup.begin() if self.cgroup else None
        if self.helper:
            result = self.helper.measure(argv, cwd, env, timeout_s, cpus, stdout)
        else:
            result = measure_direct(argv, cwd, env, timeout_s, cpus, stdout)
        if self.cgroup and result.get("ok"):
            result.update(self.cgroup.end(mark, result))
        return result

    def measure_many(self, requests: list[dict]) -> list[dict]:
        """Exec requests run back to back (op ``exec_many``): in one helper batch when there is a
        helper and no per-run cgroup accounting to do between runs, else one after the other."""
        runs = []
        for request in requests:
            argv, cwd, env, timeout_s, cpus = self._exec_args(request)
            env = self._with_offset(env, request.get("env_offset", True))
            runs.append((argv, cwd, env, timeout_s, cpus, self._stdout(request)))
        if self.helper and not self.cgroup:
            return self.helper.measure_many(runs)
        return [
            self.measure(argv, cwd, env, timeout_s, cpus, env_offset=False, stdout=stdout)
            for argv, cwd, env, timeout_s, cpus, stdout in runs
        ]

    def info(self) -> dict:
        return {
            "ok": True,
            "protocol": RUNNER_PROTOCOL,
            "python": sys.version.split()[0],
            "pid": os.getpid(),
            "uid": os.getuid(),
            "exec_helper": bool(self.exec_helper),
            "rss_method": "bench-exec" if self.exec_helper else "python-fork",
            "output_method": "pipe"
            if self.exec_helper
            else ("memfd" if hasattr(os, "memfd_create") else "tmpfile"),
            "cpus_allowed": self.cpus_allowed,
            **(self.cgroup.describe() if self.cgroup else {}),
        }

    def _with_offset(self, env: dict[str, str], on: object = True) -> dict[str, str]:
        """``env`` with a random-length variable (per run: stack alignment luck becomes noise, not bias)."""
        return {**env, ENV_OFFSET_VAR: "X" * self._rng.randrange(ENV_OFFSET_MAX + 1)} if on else env

    def _exec_args(self, request: dict) -> tuple[list[str], str, dict[str, str], float, list[int] | None]:
        """An exec request's ``argv, cwd, env, timeout_s, cpus``, defaults filled, the CPU set checked."""
        return (
            list(request["argv"]),
            request.get("cwd") or os.getcwd(),
            dict(request.get("env") or os.environ),
            float(request.get("timeout_s", 60.0)),
            self._cpus(request.get("cpus")),
        )

    @staticmethod
    def _stdout(request: dict) -> str:
        """An exec request's ``stdout``: ``pipe`` (default, counted) or ``devnull``."""
        mode = request.get("stdout") or "pipe"
        if mode not in STDOUT_MODES:
            raise ValueError(f"stdout must be one of {', '.join(STDOUT_MODES)}, not {mode!r}")
        return str(mode)

    def _exec(self, request: dict) -> dict:
        return self.measure(
            *self._exec_args(request), bool(request.get("env_offset", True)), self._stdout(request)
        )

    def _step(self, step: dict, defaults: dict) -> dict:
        return capture(
            list(step["argv"]),
            step.get("cwd") or defaults.get("cwd") or os.getcwd(),
            dict(step.get("env") or defaults.get("env") or os.environ),
            float(step.get("timeout_s", defaults.get("timeout_s", 60.0))),
        )

    def sample(self, request: dict) -> dict:
        """One whole sample in one request: restore, prepare, exec, probe, conclude (module docstring)."""
        ex = dict(request["exec"])
        expect = [int(c) for c in ex.get("expect_exit", [0])]
        reply: dict = {
            "ok": True,
            "restore": None,
            "prepare": [],
            "exec": None,
            "exec_ok": False,
            "probe": None,
            "conclude": [],
            "failed": None,
            "failed_step": None,
            "timed_ns": 0,
        }
        parts = {"restore": 0, "prepare": 0, "exec": 0, "probe": 0, "conclude": 0}
        reply["parts_ns"] = parts
        clock = time.perf_counter_ns()

        def lap(part: str) -> None:
            nonlocal clock
            now = time.perf_counter_ns()
            parts[part] += now - clock
            clock = now

        args = self._exec_args(ex)  # the CPU set (and the stdout mode) are checked before anything runs
        stdout = self._stdout(ex)
        spec = request.get("restore")
        if spec:
            reply["restore"] = self.restorer.restore(spec["src"], spec["dst"], spec.get("method", "auto"))
            lap("restore")
        for i, step in enumerate(request.get("prepare") or []):
            res = self._step(step, ex)
            reply["prepare"].append(_step_reply(res))
            if _failed(res):
                reply["failed"], reply["failed_step"] = "prepare", i
                lap("prepare")
                return reply
        lap("prepare")
        result = self.measure(*args, bool(ex.get("env_offset", True)), stdout)
        lap("exec")
        reply["exec"] = result
        reply["timed_ns"] = result.get("wall_ns", 0)
        reply["exec_ok"] = (
            bool(result.get("ok")) and not result["timed_out"] and result["exit_code"] in expect
        )
        probes = request.get("probe")
        if probes is not None and reply["exec_ok"]:
            reply["probe"] = [{"name": p.get("name"), **self._step(p, ex)} for p in probes]
            lap("probe")
        for i, step in enumerate(request.get("conclude") or []):
            res = self._step(step, ex)
            reply["conclude"].append(_step_reply(res))
            if _failed(res):
                reply["failed"], reply["failed_step"] = "conclude", i
                break
        lap("conclude")
        return reply

    def handle(self, request: dict) -> dict:
        op = request.get("op")
        if op == "exec":
            return self._exec(request)
        if op == "sample":
            return self.sample(request)
        if op == "exec_many":
            results = self.measure_many(list(request["execs"]))
            return {"ok": True, "results": results}
        if op == "capture":
            return capture(
                list(request["argv"]),
                request.get("cwd") or os.getcwd(),
                dict(request.get("env") or os.environ),
                float(request.get("timeout_s", 60.0)),
            )
        if op == "restore":
            return self.restorer.restore(request["src"], request["dst"], request.get("method", "auto"))
        if op == "restore_many":
            return self.restorer.restore_many(
                request["src"], list(request["dsts"]), request.get("method", "auto")
            )
        if op == "info":
            return self.info()
        return {"ok": False, "error": f"unknown op {op!r}"}


def serve(runner: Runner, stdin=None, stdout=None) -> None:
    """JSON-lines loop: one request per line in, one reply per line out, until EOF or quit."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    for line in stdin:
        if not line.strip():
            continue
        start = time.perf_counter_ns()
        try:
            request = json.loads(line)
            if request.get("op") == "quit":
                break
            reply = runner.handle(request)
        except Exception as exc:  # the worker must answer, whatever went wrong
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        reply["request_ns"] = time.perf_counter_ns() - start
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()
    if runner.helper:
        runner.helper.close()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    helper = None
    if "--exec-helper" in args:
        i = args.index("--exec-helper")
        helper = args[i + 1]
        del args[i : i + 2]
    runner = Runner(helper)
    if args[:1] == ["--serve"]:
        serve(runner)
        return 0
    if args[:1] == ["--"] and len(args) > 1:
        print(json.dumps(runner.measure(args[1:], os.getcwd(), dict(os.environ))))
        return 0
    print("usage: runner.py [--exec-helper PATH] (--serve | -- CMD [ARGS...])", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
