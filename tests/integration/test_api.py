"""The results API on a real uvicorn server (``bench-pipeline serve`` on 127.0.0.1): tokens, limits,
validation, idempotency, concurrency, reads, and a bounded schemathesis run against its OpenAPI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
TOKEN = "t0k3n-" + "x" * 24
MAX_BODY = 64 * 1024
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, home: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {**os.environ, "BENCH_PIPELINE_HOME": str(home), "BENCH_PIPELINE_API_TOKEN": TOKEN}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench_pipeline",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--max-body-bytes",
                str(MAX_BODY),
            ],
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not start: {log.read_text()}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("api")
    srv = Server(root / "home", root / "server.log")
    try:
        yield srv
    finally:
        srv.stop()


def settled(server: Server) -> None:
    """Submissions are analysed behind the response (the run is `running` until then): wait for it."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if not httpx.get(f"{server.url}/api/runs", params={"status": "running"}).json()["runs"]:
            return
        time.sleep(0.1)
    raise AssertionError("submitted runs still pending after 120 s")


def run_body(run_id: str, n: int = 3, **extra: object) -> dict:
    return {
        "run_id": run_id,
        "suite": "api-suite",
        "tool": "mytool",
        "samples": [{"operation": "startup", "wall_ns": 1_000_000 + i} for i in range(n)],
        **extra,
    }


def test_token_required_and_compared(server: Server) -> None:
    body = run_body("auth-1")
    no = httpx.post(f"{server.url}/api/results", json=body)
    assert no.status_code == 401 and no.headers["www-authenticate"] == "Bearer"
    basic = httpx.post(f"{server.url}/api/results", json=body, headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401
    wrong = httpx.post(f"{server.url}/api/results", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and TOKEN not in wrong.text
    prefix = httpx.post(
        f"{server.url}/api/results", json=body, headers={"Authorization": f"Bearer {TOKEN[:-1]}"}
    )
    assert prefix.status_code == 403
    assert httpx.get(f"{server.url}/api/runs/auth-1").status_code == 404  # nothing stored
    ok = httpx.post(f"{server.url}/api/results", json=body, headers=AUTH)
    assert ok.status_code == 201, ok.text
    assert ok.json()["status"] == "created" and ok.json()["samples"] == 3


def test_same_run_twice_is_stored_once_and_conflicts_are_refused(server: Server) -> None:
    body = run_body("idem-1")
    assert httpx.post(f"{server.url}/api/results", json=body, headers=AUTH).status_code == 201
    again = httpx.post(f"{server.url}/api/results", json=body, headers=AUTH)
    assert again.status_code == 200 and again.json()["status"] == "exists" and again.json()["samples"] == 0
    other = httpx.post(f"{server.url}/api/results", json=run_body("idem-1", n=4), headers=AUTH)
    assert other.status_code == 409 and "different content" in other.json()["detail"]
    settled(server)
    run = httpx.get(f"{server.url}/api/runs/idem-1").json()
    assert run["samples"] == 3 and run["trigger"] == "api" and run["backend"] == "external"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"run_id": "v1", "suite": "s", "tool": "t", "samples": [{"operation": "o", "wall_ns": NaN}]}',
            "NaN",
        ),
        (
            '{"run_id": "v2", "suite": "s", "tool": "t", "samples": [{"operation": "o", "wall_ns": Infinity}]}',
            "NaN",
        ),
        (
            '{"run_id": "v3", "suite": "s", "tool": "t", "samples": [{"operation": "o", "wall_ns": -1}]}',
            "negative",
        ),
        (
            '{"run_id": "v4", "suite": "s", "tool": "t", "samples": [{"operation": "o", "wall_ns": 1.5}]}',
            "whole",
        ),
        (
            '{"run_id": "v5", "suite": "s", "tool": "t", "samples": [{"operation": "o", "wall_ns": "7"}]}',
            "number",
        ),
        ('{"run_id": "../../etc/passwd", "suite": "s", "tool": "t", "samples": []}', "run_id"),
        ('{"run_id": "v6", "suite": "s", "tool": "t", "samples": [{"operation": "o"}]}', "wall_ns"),
        ('{"run_id": "v7", "suite": "s", "tool": "t", "samples": [{"operation": "o", "wall_ns": 1}]', "JSON"),
        ('{"run_id": "v8", "suite": "s", "samples": [{"operation": "o", "wall_ns": 1}]}', "tool"),
        (
            '{"run_id": "v9", "suite": "s", "tool": "t", "samples": [{"operation": "o", "wall_ns": 1, "x": 1}]}',
            "x",
        ),
    ],
)
def test_invalid_payloads_get_422_with_a_clear_message(server: Server, content: str, message: str) -> None:
    r = httpx.post(
        f"{server.url}/api/results", content=content, headers={**AUTH, "content-type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert message in json.dumps(r.json())


def test_deeply_nested_json_is_a_client_error(server: Server) -> None:
    content = '{"run_id": "deep", "suite": "s", "tool": "t", "metadata": ' + "[" * 20000 + "]" * 20000 + "}"
    r = httpx.post(
        f"{server.url}/api/results", content=content, headers={**AUTH, "content-type": "application/json"}
    )
    assert 400 <= r.status_code < 500


def test_bodies_over_the_limit_get_413_streamed_or_not(server: Server) -> None:
    big = run_body("big-1", n=3, metadata={"pad": "x" * (MAX_BODY + 10)})
    r = httpx.post(f"{server.url}/api/results", json=big, headers=AUTH)
    assert r.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer, counted as it arrives
        yield b'{"run_id": "big-2", "suite": "s", "tool": "t", "metadata": {"pad": "'
        for _ in range(MAX_BODY // 4096 + 4):
            yield b"y" * 4096
        yield b'"}, "samples": [{"operation": "o", "wall_ns": 1}]}'

    r = httpx.post(
        f"{server.url}/api/results", content=chunks(), headers={**AUTH, "content-type": "application/json"}
    )
    assert r.status_code == 413
    unauth = httpx.post(f"{server.url}/api/results", json=big)
    assert unauth.status_code == 401  # the token is checked before the body is read
    assert httpx.get(f"{server.url}/api/runs/big-1").status_code == 404


def test_fifty_concurrent_posts_are_each_stored_once(server: Server) -> None:
    def post(i: int) -> int:
        with httpx.Client(timeout=120) as client:
            return client.post(
                f"{server.url}/api/results", json=run_body(f"conc-{i:02d}", n=3), headers=AUTH
            ).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(post, range(50)))
    assert codes == [201] * 50
    settled(server)
    runs = httpx.get(f"{server.url}/api/runs", params={"limit": 1000, "suite": "api-suite"}).json()["runs"]
    ids = Counter(r["run_id"] for r in runs if r["run_id"].startswith("conc-"))
    assert len(ids) == 50 and set(ids.values()) == {1}
    assert all(r["samples"] == 3 for r in runs if r["run_id"].startswith("conc-"))


def test_the_same_run_posted_concurrently_is_stored_once(server: Server) -> None:
    body = run_body("same-1", n=5)

    def post(_: int) -> int:
        with httpx.Client(timeout=120) as client:
            return client.post(f"{server.url}/api/results", json=body, headers=AUTH).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = Counter(pool.map(post, range(20)))
    assert codes == {201: 1, 200: 19}
    settled(server)
    assert httpx.get(f"{server.url}/api/runs/same-1").json()["samples"] == 5


def test_batches_agent_runs_and_aggregates(server: Server) -> None:
    batch = {
        "batch_id": "eval-batch-1",
        "metadata": {"harness": "demo"},
        "runs": [
            {
                "run_id": "agent-a-1",
                "suite": "agents",
                "tool": "agent-a",
                "model": "m-1",
                "operation": "fix-bug",
                "fixture": "L1",
                "evaluations": [{"evaluator": "tests", "score": 1.0, "passed": True}],
                "telemetry": {
                    "tokens_in": 100,
                    "tokens_out": 20,
                    "cost_usd": 0.01,
                    "tool_calls": 3,
                    "duration_ms": 1500,
                },
            },
            {
                "run_id": "agent-b-1",
                "suite": "agents",
                "tool": "agent-b",
                "operation": "fix-bug",
                "fixture": "L1",
                "evaluations": [{"evaluator": "tests", "score": 0.5}],
                "telemetry": {
                    "tokens_in": 300,
                    "tokens_out": 40,
                    "cost_usd": 0.05,
                    "tool_calls": 9,
                    "duration_ms": 3000,
                },
            },
        ],
    }
    r = httpx.post(f"{server.url}/api/results/batch", json=batch, headers=AUTH)
    assert r.status_code == 201, r.text
    assert httpx.post(f"{server.url}/api/results/batch", json=batch, headers=AUTH).status_code == 200
    settled(server)
    got = httpx.get(f"{server.url}/api/batches/eval-batch-1").json()
    assert got["run_ids"] == ["agent-a-1", "agent-b-1"] and got["runs"] == 2
    assert got["avg_score"] == pytest.approx(0.75) and got["tokens_in"] == 400
    listed = httpx.get(f"{server.url}/api/batches").json()["batches"]
    assert "eval-batch-1" in {b["batch_id"] for b in listed}
    tools = {t["tool"]: t for t in httpx.get(f"{server.url}/api/stats/tools").json()["tools"]}
    assert tools["agent-a"]["mean_score"] == 1.0 and tools["agent-b"]["cost_usd"] == pytest.approx(0.05)
    assert tools["agent-a"]["median_wall_ns"] == 1_500_000_000
    stats = httpx.get(f"{server.url}/api/stats").json()
    assert stats["batches"] >= 1 and stats["metrics"]["tokens_in"]["sum"] >= 400
    samples = httpx.get(f"{server.url}/api/runs/agent-b-1/samples").json()
    assert samples["total"] == 1 and samples["samples"][0]["metrics"]["score.tests"]["value"] == 0.5
    assert httpx.get(f"{server.url}/api/batches/nope").status_code == 404


def test_reads_health_and_openapi(server: Server) -> None:
    assert (
        httpx.post(f"{server.url}/api/results", json=run_body("read-1", n=7), headers=AUTH).status_code == 201
    )
    settled(server)
    page = httpx.get(f"{server.url}/api/runs/read-1/samples", params={"limit": 3, "offset": 3}).json()
    assert page["total"] == 7 and [s["iteration"] for s in page["samples"]] == [3, 4, 5]
    assert [s["wall_ns"] for s in page["samples"]] == [1_000_003, 1_000_004, 1_000_005]
    assert httpx.get(f"{server.url}/api/runs/nope/samples").status_code == 404
    assert httpx.get(f"{server.url}/api/runs", params={"limit": 0}).status_code == 422
    health = httpx.get(f"{server.url}/health").json()
    assert health["status"] == "ok" and health["schema_version"] >= 8
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert {
        "/api/results",
        "/api/results/batch",
        "/api/runs",
        "/api/runs/{run_id}",
        "/api/runs/{run_id}/samples",
        "/api/batches",
        "/api/batches/{batch_id}",
        "/api/stats",
        "/api/stats/tools",
        "/health",
    } <= set(spec["paths"])
    assert "HTTPBearer" in json.dumps(spec["components"]["securitySchemes"])


def test_sql_metacharacters_in_queries_are_just_values(server: Server) -> None:
    hostile = "'; DROP TABLE runs; --"
    r = httpx.get(f"{server.url}/api/runs", params={"suite": hostile, "tool": hostile})
    assert r.status_code == 200 and r.json()["runs"] == []
    assert httpx.get(f"{server.url}/api/runs/{hostile}").status_code == 404
    body = run_body("sql-1", n=1)
    body["samples"][0]["operation"] = hostile
    assert httpx.post(f"{server.url}/api/results", json=body, headers=AUTH).status_code == 201
    settled(server)
    assert httpx.get(f"{server.url}/api/runs/sql-1").json()["cells"][0]["operation"] == hostile
    assert httpx.get(f"{server.url}/api/stats").json()["runs"] >= 1


@pytest.mark.slow
def test_schemathesis_finds_no_server_errors(server: Server, tmp_path: Path) -> None:
    st = Path(sys.executable).with_name("st")
    if not st.exists():
        pytest.skip("schemathesis CLI not installed")
    proc = subprocess.run(
        [
            str(st),
            "run",
            f"{server.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "10",
            "--max-time",
            "90",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--generation-database",
            "none",
            "--seed",
            "1",
            "--no-color",
            "--workers",
            "2",
            "--report-dir",
            str(tmp_path / "report"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]


def test_the_token_is_never_logged(server: Server) -> None:
    httpx.post(f"{server.url}/api/results", json=run_body("log-1"), headers=AUTH)
    httpx.post(f"{server.url}/api/results", json=run_body("log-2"), headers={"Authorization": "Bearer guess"})
    time.sleep(0.5)
    log = server.log.read_text(errors="replace")
    assert "POST /api/results" in log  # the access log is there ...
    assert TOKEN not in log and "guess" not in log  # ... without tokens
