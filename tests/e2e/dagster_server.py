"""Start and stop `bench-pipeline ui` (dagster dev) for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def dagster_ui(home: Path, log: Path):
    port = free_port()
    env = {**os.environ, "BENCH_PIPELINE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench_pipeline", "ui", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/server_info", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"dagster webserver did not start:\n{log.read_text()[-3000:]}")
                time.sleep(1)
            yield url, port
        finally:
            os.killpg(proc.pid, signal.SIGTERM)  # dagster dev: kill the whole process group
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
