"""100 concurrent submissions to the results API (issue 17): every run stored exactly once, and the
latency each client sees (the commit; statistics follow behind the response).

Starts ``bench-pipeline serve`` on a free port with a fresh home, posts N runs (each with 20 samples)
from N threads at once, then waits until the background analysis has finished every run. Prints
the median / p95 / max latency, the wall time of the burst, the runs and samples stored, and the
time until all runs were ``succeeded``.

    .venv/bin/python benchmarks/bench_api_concurrency.py [--clients 100]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import httpx

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def body(i: int) -> dict:
    return {
        "run_id": f"conc-{i:04d}",
        "suite": "api-bench",
        "tool": f"agent-{i % 4}",
        "samples": [{"operation": f"op-{k % 5}", "wall_ns": 1_000_000 + 1000 * k + i} for k in range(20)],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {
            **os.environ,
            "BENCH_PIPELINE_HOME": str(Path(tmp) / "home"),
            "BENCH_PIPELINE_API_TOKEN": TOKEN,
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "bench_pipeline", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            latencies: list[float] = []
            statuses: list[int] = []
            barrier = threading.Barrier(args.clients)
            # one client with a connection per thread, as a harness would hold (a new httpx client per
            # request costs the benchmark itself ~30 ms of CPU for its TLS context)
            client = httpx.Client(
                limits=httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients),
                timeout=300,
            )

            def post(i: int) -> None:
                barrier.wait()
                started = time.perf_counter()
                r = client.post(
                    f"{url}/api/results", json=body(i), headers={"Authorization": f"Bearer {TOKEN}"}
                )
                latencies.append(time.perf_counter() - started)
                statuses.append(r.status_code)

            threads = [threading.Thread(target=post, args=(i,)) for i in range(args.clients)]
            began = burst = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            burst = time.perf_counter() - burst
            client.close()
            while httpx.get(f"{url}/api/runs", params={"status": "running", "limit": 1}).json()["runs"]:
                time.sleep(0.2)
            analysed = time.perf_counter() - began
        finally:
            server.terminate()
            server.wait(timeout=60)
        con = duckdb.connect(str(Path(tmp) / "home" / "bench.duckdb"), read_only=True)
        runs, distinct, samples, succeeded = con.sql(
            "SELECT count(*), count(DISTINCT run_id), (SELECT count(*) FROM samples), "
            "count(*) FILTER (WHERE status = 'succeeded') FROM runs"
        ).fetchall()[0]
        con.close()
    latencies.sort()
    print(f"{args.clients} concurrent submissions: statuses {sorted(set(statuses))}, burst {burst:.2f} s")
    print(
        f"latency median {statistics.median(latencies):.2f} s, p95 "
        f"{latencies[int(0.95 * (len(latencies) - 1))]:.2f} s, max {latencies[-1]:.2f} s"
    )
    print(
        f"stored: {runs} runs ({distinct} distinct), {samples} samples (expected {args.clients * 20}); "
        f"{succeeded} succeeded, all analysed {analysed:.1f} s after the burst began"
    )


if __name__ == "__main__":
    main()
