"""Client side of the runner's JSON-lines worker protocol (see ``bench_pipeline/execution/runner.py``)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import IO, Any

from bench_pipeline.errors import RunnerError


class Worker:
    """A running runner worker, spoken to over two byte streams.

    ``work_root`` and ``fixture_root`` are the worker's own view of the run's work directory and
    of the (read-only) pristine fixtures: host paths for the local backend, mount points inside
    the container for Docker. Commands are built with these paths.
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
        self.closed = False

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

    def exec(self, argv: list[str], cwd: str, env: dict[str, str], timeout_s: float) -> dict[str, Any]:
        return self.request({"op": "exec", "argv": argv, "cwd": cwd, "env": env, "timeout_s": timeout_s})

    def capture(
        self, argv: list[str], cwd: str, env: dict[str, str], timeout_s: float = 60
    ) -> dict[str, Any]:
        return self.request({"op": "capture", "argv": argv, "cwd": cwd, "env": env, "timeout_s": timeout_s})

    def restore(self, src: str, dst: str) -> dict[str, Any]:
        return self.request({"op": "restore", "src": src, "dst": dst})

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
