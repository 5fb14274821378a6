"""The measurement runner: time one command exactly, on the host or inside a container.

This file is deliberately **standard library only and self-contained**: the local backend runs
it as a small worker process (``python3 -I -S runner.py --serve``) and the Docker backend runs
the very same file inside each tool container, so both backends share one measurement path.

What one measurement does (SPEC §4.1):

* exec without a shell; stdin is ``/dev/null``, stdout and stderr are pipes that are drained and
  counted, never a terminal;
* wall time from a monotonic clock around fork → wait;
* CPU time, peak RSS, block I/O and context switches from ``wait4`` rusage **of that child
  only** (never ``RUSAGE_CHILDREN``, whose max RSS never decreases);
* a per-run timeout after which the command's whole process group is killed and the sample is
  recorded ``timed_out``.

Where a C compiler was available the fork/exec/wait4 is done by the tiny static helper
``native/bench_exec.c``: Linux folds the pre-exec memory image into ``ru_maxrss``, so forking
from Python would put a floor of Python's RSS (~10 MB) under every peak-memory figure. Without
the helper the runner forks itself and reports that floor in ``rss_floor_bytes``.

Worker protocol: one JSON object per line on stdin, one JSON reply per line on stdout.
``{"op": "exec", "argv": [...], "cwd": str, "env": {...}, "timeout_s": float}`` → a
measurement; ``{"op": "restore", "src": str, "dst": str}`` → copy a pristine tree (untimed);
``{"op": "capture", "argv", "cwd", "env", "timeout_s"}`` → run untimed and return its stdout
text (versions, state checks); ``{"op": "info"}`` → who and where the worker is; ``{"op": "quit"}``. Replies carry
``"ok": true`` or ``"ok": false, "error": "..."``.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time

RUNNER_PROTOCOL = 1
STDERR_TAIL_BYTES = 2048
_READ_CHUNK = 65536


def _drain(
    fds: dict[int, str], deadline_ns: int | None, pidfd: int | None
) -> tuple[dict[str, int], bytes, bool, bytes]:
    """Read every fd in ``fds`` to EOF, counting bytes; keep the tail of stderr.

    Returns (byte counts by name, stderr tail, deadline_passed, bytes of the fd named "result").
    Stops early when ``deadline_ns`` passes. ``pidfd`` (if given) is watched too, so a child that exits while a grandchild keeps
    the pipes open does not hang the runner beyond a short grace period.
    """
    counts = {name: 0 for name in fds.values()}
    tail = b""
    captured = b""
    sel = selectors.DefaultSelector()
    for fd in fds:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    if pidfd is not None:
        sel.register(pidfd, selectors.EVENT_READ)
    open_fds = set(fds)
    exited_at: int | None = None
    passed = False
    try:
        while open_fds:
            now = time.perf_counter_ns()
            if deadline_ns is not None and now >= deadline_ns:
                passed = True
                break
            if exited_at is not None and now - exited_at > 2_000_000_000:
                break  # child is gone; something it left behind holds the pipe
            wait_s = None if deadline_ns is None else (deadline_ns - now) / 1e9
            if exited_at is not None:
                wait_s = 0.05 if wait_s is None else min(wait_s, 0.05)
            for key, _ in sel.select(timeout=wait_s):
                fd = int(key.fd)  # type: ignore[arg-type]
                if fd == pidfd:
                    sel.unregister(pidfd)
                    exited_at = time.perf_counter_ns()
                    continue
                try:
                    chunk = os.read(fd, _READ_CHUNK)
                except BlockingIOError:
                    continue
                if not chunk:
                    sel.unregister(fd)
                    open_fds.discard(fd)
                    continue
                counts[fds[fd]] += len(chunk)
                if fds[fd] == "result":
                    captured += chunk
                elif fds[fd] == "stderr":
                    tail = (tail + chunk)[-STDERR_TAIL_BYTES:]
    finally:
        sel.close()
    return counts, tail, passed, captured


def _kill_group(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
            return
        except (ProcessLookupError, PermissionError):
            continue


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


def measure_direct(argv: list[str], cwd: str, env: dict[str, str], timeout_s: float) -> dict:
    """Measure by forking from this process (fallback when no bench-exec helper exists)."""
    start = time.perf_counter_ns()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        return _spawn_error(exc, argv)
    assert proc.stdout is not None and proc.stderr is not None
    pidfd = os.pidfd_open(proc.pid) if hasattr(os, "pidfd_open") else None
    deadline = start + int(timeout_s * 1e9) if timeout_s > 0 else None
    fds = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr"}
    counts, tail, timed_out, _ = _drain(fds, deadline, pidfd)
    if timed_out:
        _kill_group(proc.pid)
        more, more_tail, _, _ = _drain(fds, time.perf_counter_ns() + 2_000_000_000, None)
        counts = {k: counts[k] + more[k] for k in counts}
        tail = (tail + more_tail)[-STDERR_TAIL_BYTES:]
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter_ns() - start
    proc.returncode = status  # we reaped it ourselves: keep Popen from waiting again
    for f in (proc.stdout, proc.stderr):
        f.close()
    if pidfd is not None:
        os.close(pidfd)
    return _result(
        wall_ns=wall,
        user_ns=int(ru.ru_utime * 1e9),
        sys_ns=int(ru.ru_stime * 1e9),
        peak_rss_bytes=ru.ru_maxrss * 1024,
        read_bytes=ru.ru_inblock * 512,
        write_bytes=ru.ru_oublock * 512,
        ctx_switches=ru.ru_nvcsw + ru.ru_nivcsw,
        exit_code=os.waitstatus_to_exitcode(status) if not timed_out else -9,
        signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0,
        timed_out=timed_out,
        stdout_bytes=counts["stdout"],
        stderr_bytes=counts["stderr"],
        stderr_tail=tail.decode("utf-8", "replace"),
    )


def measure_with_helper(
    helper: str, argv: list[str], cwd: str, env: dict[str, str], timeout_s: float
) -> dict:
    """Measure through ``bench-exec``: it forks the command, times it and reports its rusage."""
    result_r, result_w = os.pipe()
    timeout_ms = max(0, int(timeout_s * 1000))
    try:
        proc = subprocess.Popen(
            [helper, str(result_w), str(timeout_ms), "--", *argv],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
            pass_fds=(result_w,),
        )
    except OSError as exc:
        os.close(result_r)
        os.close(result_w)
        return _spawn_error(exc, argv)
    os.close(result_w)
    assert proc.stdout is not None and proc.stderr is not None
    # backstop in case the helper itself wedges: well past the helper's own timeout
    backstop = time.perf_counter_ns() + int((timeout_s + 30) * 1e9) if timeout_s > 0 else None
    fds = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr", result_r: "result"}
    counts, tail, stuck, captured = _drain(fds, backstop, None)
    if stuck:
        _kill_group(proc.pid)
    proc.wait()
    for f in (proc.stdout, proc.stderr):
        f.close()
    os.close(result_r)
    line = captured.decode("ascii", "replace").strip()
    fields = line.split()
    if len(fields) != 12:
        return _result(ok=False, error=f"bench-exec reported {line!r} (exit {proc.returncode})")
    wall, user, sys_, rss_kb, inb, outb, nv, niv, code, sig, tout, exec_errno = (int(x) for x in fields)
    if exec_errno:
        return _spawn_error(
            OSError(exec_errno, os.strerror(exec_errno))
            if exec_errno != 2
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
        stdout_bytes=counts["stdout"],
        stderr_bytes=counts["stderr"],
        stderr_tail=tail.decode("utf-8", "replace"),
    )


def capture(argv: list[str], cwd: str, env: dict[str, str], timeout_s: float, limit: int = 1 << 20) -> dict:
    """Run a command untimed and return its exit code, stdout (up to ``limit`` bytes) and stderr tail."""
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
        return {
            "ok": True,
            "exit_code": 127 if isinstance(exc, FileNotFoundError) else 126,
            "stdout": "",
            "stderr_tail": f"cannot execute {argv[0]!r}: {exc.strerror}",
            "timed_out": False,
        }
    except subprocess.TimeoutExpired:
        return {"ok": True, "exit_code": -9, "stdout": "", "stderr_tail": "timed out", "timed_out": True}
    return {
        "ok": True,
        "exit_code": proc.returncode,
        "timed_out": False,
        "stdout": proc.stdout[:limit].decode("utf-8", "replace"),
        "stderr_tail": proc.stderr[-STDERR_TAIL_BYTES:].decode("utf-8", "replace"),
    }


def restore(src: str, dst: str) -> dict:
    """Replace ``dst`` by a fresh copy of ``src`` (symlinks kept as links). Untimed."""
    start = time.perf_counter_ns()
    if os.path.lexists(dst):
        shutil.rmtree(dst)
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    cp = shutil.which("cp")
    # cp -a is several times faster than copytree on trees of thousands of small files
    if cp is None or subprocess.run([cp, "-a", "--", src, dst], capture_output=True).returncode != 0:
        if os.path.lexists(dst):
            shutil.rmtree(dst)
        shutil.copytree(src, dst, symlinks=True)
    return {"ok": True, "seconds": (time.perf_counter_ns() - start) / 1e9}


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


class Runner:
    """Measures commands, through the helper when one is given."""

    def __init__(self, exec_helper: str | None = None) -> None:
        self.exec_helper = exec_helper if exec_helper and os.access(exec_helper, os.X_OK) else None
        self.cgroup = _cgroup_probe()

    def measure(self, argv: list[str], cwd: str, env: dict[str, str], timeout_s: float = 60.0) -> dict:
        mark = self.cgroup.begin() if self.cgroup else None
        if self.exec_helper:
            result = measure_with_helper(self.exec_helper, argv, cwd, env, timeout_s)
        else:
            result = measure_direct(argv, cwd, env, timeout_s)
        if self.cgroup and result.get("ok"):
            result.update(self.cgroup.end(mark, result))
        return result

    def info(self) -> dict:
        return {
            "ok": True,
            "protocol": RUNNER_PROTOCOL,
            "python": sys.version.split()[0],
            "pid": os.getpid(),
            "uid": os.getuid(),
            "exec_helper": bool(self.exec_helper),
            "rss_method": "bench-exec" if self.exec_helper else "python-fork",
            **(self.cgroup.describe() if self.cgroup else {}),
        }

    def handle(self, request: dict) -> dict:
        op = request.get("op")
        if op == "exec":
            return self.measure(
                list(request["argv"]),
                request.get("cwd") or os.getcwd(),
                dict(request.get("env") or os.environ),
                float(request.get("timeout_s", 60.0)),
            )
        if op == "capture":
            return capture(
                list(request["argv"]),
                request.get("cwd") or os.getcwd(),
                dict(request.get("env") or os.environ),
                float(request.get("timeout_s", 60.0)),
            )
        if op == "restore":
            return restore(request["src"], request["dst"])
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
        try:
            request = json.loads(line)
            if request.get("op") == "quit":
                break
            reply = runner.handle(request)
        except Exception as exc:  # the worker must answer, whatever went wrong
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()


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
