"""The results API in-process (FastAPI's test client): the guard, validation, idempotency, reads.
The same behaviours on a real uvicorn server, with concurrency and schemathesis: tests/integration/test_api.py."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from bench_pipeline.interfaces.http import create_app
from bench_pipeline.store import Store

TOKEN = "unit-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(bench_home: Path) -> TestClient:
    return TestClient(create_app(Store(), token=TOKEN, max_body_bytes=4096))


def body(run_id: str = "r1", **sample: object) -> dict:
    return {
        "run_id": run_id,
        "suite": "s",
        "tool": "t",
        "samples": [{"operation": "op", "wall_ns": 5, **sample}],
    }


def test_guard_order_and_codes(client: TestClient) -> None:
    assert client.post("/api/results", json=body()).status_code == 401
    assert client.post("/api/results", json=body(), headers={"Authorization": "Bearer no"}).status_code == 403
    big = body(pad="x" * 5000)
    assert client.post("/api/results", json=big).status_code == 401  # token first
    assert client.post("/api/results", json=big, headers=AUTH).status_code == 413
    assert client.post("/api/results", json=body(), headers=AUTH).status_code == 201
    assert client.post("/api/results", json=body(), headers=AUTH).json()["status"] == "exists"
    assert client.post("/api/results", json=body(wall_ns=6), headers=AUTH).status_code == 409


def test_no_token_configured_refuses_submissions_but_reads(bench_home: Path) -> None:
    client = TestClient(create_app(Store(), token=""))
    assert client.post("/api/results", json=body(), headers=AUTH).status_code == 503
    assert client.get("/health").json()["status"] == "ok"


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        ({"round": 2**40}, "round must be at most"),
        ({"exit_code": 2**40}, "exit code out of range"),
        ({"wall_ns": 2**64}, "too large"),
        ({"wall_ns": True}, "expected a number"),
        ({"metrics": {"m": {"value": 1, "unit": "x" * 40}}}, "unit"),
        ({"evaluations": [{"evaluator": "e", "score": -0.1}]}, "between 0 and 1"),
        ({"telemetry": {"cost_usd": -1}}, "must not be negative"),
        ({"operation": "a\u0007b"}, "control characters"),
    ],
)
def test_out_of_range_values_are_422(client: TestClient, sample: dict, message: str) -> None:
    r = client.post("/api/results", json=body(**sample), headers=AUTH)
    assert r.status_code == 422 and message in r.text
    assert client.get("/api/runs").json()["runs"] == []


def test_metrics_with_huge_values_are_refused_not_crashed(client: TestClient) -> None:
    r = client.post(
        "/api/results",
        content='{"run_id": "h", "suite": "s", "tool": "t", "samples": [{"operation": "o", "wall_ns": 1, "metrics": {"m": 1e400}}]}',
        headers={**AUTH, "content-type": "application/json"},
    )
    assert r.status_code == 422


def test_reads(client: TestClient) -> None:
    client.post("/api/results", json=body("r2", user_ns=3), headers=AUTH)
    deadline = time.monotonic() + 60  # analysed behind the response: `running` until then
    while (
        client.get("/api/runs", params={"status": "running"}).json()["runs"] and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    run = client.get("/api/runs/r2").json()
    assert run["samples"] == 1 and run["cells"][0]["status"] == "measured"
    assert client.get("/api/runs/r2/samples").json()["samples"][0]["user_ns"] == 3
    assert client.get("/api/stats").json()["runs"] == 1
    assert client.get("/api/stats/tools").json()["tools"][0]["tool"] == "t"
    assert client.get("/api/batches").json() == {"batches": []}
    assert client.get("/api/batches/x").status_code == 404
