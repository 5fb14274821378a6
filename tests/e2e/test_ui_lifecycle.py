"""`bench-pipeline ui` owns what it starts (issue 13): SIGTERM or SIGINT stops the webserver, the
daemon and the code servers within ten seconds, and Dagster has no dagster.yaml to warn about."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from tests.conftest import ROOT
from tests.e2e.dagster_server import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def _start(home, log):
    port = free_port()
    env = {**os.environ, "BENCH_PIPELINE_HOME": str(home)}
    env.pop("DAGSTER_HOME", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench_pipeline", "ui", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as reply:
                if reply.status == 200:
                    break
        except OSError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "the UI did not start"
        time.sleep(1)
    time.sleep(5)  # the daemon and the code servers come up after the webserver answers
    return proc


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_ui_stops_every_process_it_started(bench_home, tmp_path, sig):
    log_path = tmp_path / "ui.log"
    with log_path.open("w") as log:
        proc = _start(bench_home, log)
        started = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in started)
        assert "dagster_webserver" in names and "dagster._daemon" in names and "code-server" in names, names
        os.kill(proc.pid, sig)  # the ui process only, not its group: it must stop the rest itself
        t0 = time.monotonic()
        proc.wait(timeout=15)
        _gone, alive = psutil.wait_procs(started, timeout=max(0.1, 10 - (time.monotonic() - t0)))
        stopped_in = time.monotonic() - t0
    output = log_path.read_text()
    assert not alive, f"left behind: {[(p.pid, p.cmdline()) for p in alive]}"
    assert stopped_in <= 10.5, stopped_in
    assert "Found a dagster instance configuration" not in output, output[-2000:]
    assert "dagster.yaml" in output and "stopping the Dagster UI" in output
