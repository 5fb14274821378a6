"""Client side of the runner's JSON-lines worker protocol (see ``bench_pipeline/execution/runner.py``).

One method per request: ``exec`` (one timed run), ``sample`` (restore, prepare, exec, probe and
conclude in one round trip), ``capture``, ``restore`` / ``restore_many`` and ``info``. Replies
are returned as the worker sent them (every one carries ``request_ns``, the worker's own time).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Sequence
from typing import IO, Any

from bench_pipeline.errors import RunnerError


class Worker:
    """A running runner worker, spoken to over two byte streams.

    ``work_root`` and ``fixture_root`` are the worker's own view of the run's work directory and
    of the (read-only) pristine fixtures: host paths for the local backend, mount points inside
    the container for Docker. Commands are built with these paths.

    ``cpus``: the CPU set every measured command of this worker is pinned to unless a request
    says otherwise (the backend's placement: the same for every tool of a run); None: unpinned.
    """

    def __init__(
        self,
        reader: IO[bytes],
        writer: IO[bytes],
        *,
        description: str,
        work_root: str,
        fixture_root: str,
        path: str,
        env: dict[str, str] | None = None,
        on_close: Callable[[], None] | None = None,
        stderr_tail: Callable[[], str] | None = None,
        cpus: Sequence[int] | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.description = description
        self.work_root = work_root
        self.fixture_root = fixture_root
        self.path = path  # PATH inside the worker
        # variables this backend sets for every measured command, over the deterministic base
        # environment and under the suite's own (bench_pipeline.suite.determinism.command_env)
        self.env = dict(env or {})
        self._on_close = on_close
        self._stderr_tail = stderr_tail
        self.cpus = sorted(cpus) if cpus else None
        # where measured commands' stdout goes: a counted pipe, or /dev/null (a suite's settings.stdout)
        self.stdout = "pipe"
        self.closed = False

    def narrow(self, choice: int | Sequence[int] | None) -> list[int] | None:
        """Pin this worker's measured commands to part of its placement (a suite's ``cpus``): a
        count takes the last N CPUs of the placement (CPU 0 usually serves most interrupts), a list
        names them; None leaves the placement as it is. Returns the placement now in force."""
        if choice is None:
            return self.cpus
        allowed = self.cpus or sorted(os.sched_getaffinity(0))
        if isinstance(choice, int):
            self.cpus = allowed[-min(choice, len(allowed)) :]
            return self.cpus
        outside = sorted(set(choice) - set(allowed))
        if outside:
            raise RunnerError(
                f"{self.description}: cannot pin to CPUs {outside}: this backend measures on {allowed}"
                " (settings.cpus: choose among those, or give a count)"
            )
        self.cpus = sorted(set(choice))
        return self.cpus

    @classmethod
    def from_process(cls, proc: subprocess.Popen, **kwargs: Any) -> Worker:
        assert proc.stdout is not None and proc.stdin is not None

        def close() -> None:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

        def tail() -> str:
            if proc.poll() is None or proc.stderr is None:
                return ""
            return proc.stderr.read().decode("utf-8", "replace")[-1000:]

        return cls(proc.stdout, proc.stdin, on_close=close, stderr_tail=tail, **kwargs)

    def request(self, payload: dict[str, Any]) -> dict[str, Any]:
        if self.closed:
            raise RunnerError(f"worker {self.description} is closed")
        try:
            self._writer.write(json.dumps(payload).encode() + b"\n")
            self._writer.flush()
            line = self._reader.readline()
        except (BrokenPipeError, OSError) as exc:
            raise RunnerError(f"worker {self.description} died: {exc} {self._tail()}") from None
        if not line:
            raise RunnerError(f"worker {self.description} exited unexpectedly {self._tail()}")
        try:
            reply = json.loads(line)
        except json.JSONDecodeError:
            raise RunnerError(f"worker {self.description} answered garbage: {line[:200]!r}") from None
        if not reply.get("ok"):
            raise RunnerError(f"worker {self.description}: {reply.get('error', 'unknown error')}")
        return reply

    def _tail(self) -> str:
        text = self._stderr_tail() if self._stderr_tail else ""
        return f"(stderr: {text.strip()})" if text.strip() else ""

    def exec(
        self,
        argv: list[str],
        cwd: str,
        env: dict[str, str],
        timeout_s: float,
        *,
        cpus: Sequence[int] | None = None,
    ) -> dict[str, Any]:
        """One timed run; ``cpus`` (default: the worker's placement) pins the command."""
        return self.request({"op": "exec", **self.exec_request(argv, cwd, env, timeout_s, cpus=cpus)})

    def exec_many(self, requests: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Timed runs back to back in one round trip (``requests`` from :meth:`exec_request`).

        With the local bench-exec helper nothing of the worker runs between two runs, as in
        hyperfine's loop: what ``bench-pipeline measure`` uses. One exec reply per request.
        """
        results = list(self.request({"op": "exec_many", "execs": list(requests)})["results"])
        broken = next((r for r in results if not r.get("ok")), None)
        if broken is not None:  # as exec: a run the runner could not make is an error, never a sample
            raise RunnerError(f"worker {self.description}: {broken.get('error', 'unknown error')}")
        return results

    def exec_request(
        self,
        argv: list[str],
        cwd: str,
        env: dict[str, str],
        timeout_s: float,
        *,
        cpus: Sequence[int] | None = None,
        expect_exit: Sequence[int] | None = None,
    ) -> dict[str, Any]:
        """The fields of an ``exec`` request (also the ``exec`` part of a ``sample``)."""
        request: dict[str, Any] = {"argv": argv, "cwd": cwd, "env": env, "timeout_s": timeout_s}
        pin = cpus if cpus is not None else self.cpus
        if pin:
            request["cpus"] = sorted(pin)
        if self.stdout != "pipe":
            request["stdout"] = self.stdout
        if expect_exit is not None:
            request["expect_exit"] = list(expect_exit)
        return request

    def sample(
        self,
        exec: dict[str, Any],
        *,
        restore: dict[str, Any] | None = None,
        prepare: Sequence[dict[str, Any]] = (),
        conclude: Sequence[dict[str, Any]] = (),
        probe: Sequence[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A whole sample in one round trip (runner docstring, op ``sample``).

        ``exec``: from :meth:`exec_request`; ``restore``: ``{"src", "dst"}``; steps:
        ``{"argv", "cwd"?, "env"?, "timeout_s"?}`` (probes also ``"name"``), missing fields
        taken from ``exec``.
        """
        return self.request(
            {
                "op": "sample",
                "restore": restore,
                "prepare": list(prepare),
                "exec": exec,
                "conclude": list(conclude),
                "probe": None if probe is None else list(probe),
            }
        )

    def capture(
        self, argv: list[str], cwd: str, env: dict[str, str], timeout_s: float = 60
    ) -> dict[str, Any]:
        return self.request({"op": "capture", "argv": argv, "cwd": cwd, "env": env, "timeout_s": timeout_s})

    def restore(self, src: str, dst: str, method: str = "auto") -> dict[str, Any]:
        """Make ``dst`` a fresh copy of ``src``; the reply says the ``method`` used and its ``seconds``."""
        return self.request({"op": "restore", "src": src, "dst": dst, "method": method})

    def restore_many(self, src: str, dsts: Sequence[str], method: str = "auto") -> dict[str, Any]:
        """Fresh copies of ``src`` at each of ``dsts`` in one round trip (``results``: one reply each)."""
        return self.request({"op": "restore_many", "src": src, "dsts": list(dsts), "method": method})

    def info(self) -> dict[str, Any]:
        return self.request({"op": "info"})

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self._writer.write(b'{"op": "quit"}\n')
            self._writer.flush()
            self._writer.close()
        except OSError:
            pass
        if self._on_close:
            self._on_close()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
