"""Hostile requests to the results API: 4xx with a clear message and nothing stored; tokens never
logged; failed authentication rate-limited; anonymous reads a setting that hides host details."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bench_pipeline.interfaces.http import create_app
from bench_pipeline.interfaces.http.guard import MAX_FAILURES, RedactQuery
from bench_pipeline.store import Store
from tests.hostile.conftest import row_counts
from tests.hostile.corpus import api_cases

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
CASES = list(api_cases())


@pytest.fixture
def client(home: Path):
    with TestClient(create_app(Store(home / "bench.duckdb"), token=TOKEN)) as c:
        yield c


@pytest.mark.parametrize(("name", "body"), CASES, ids=[name for name, _ in CASES])
def test_a_hostile_payload_is_a_client_error(client: TestClient, home: Path, name: str, body: str) -> None:
    before = row_counts(home)
    path = "/api/results/batch" if name.endswith("in a batch") else "/api/results"
    r = client.post(path, content=body.encode(), headers=AUTH)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert "Traceback" not in r.text and len(r.text) < 5000
    assert row_counts(home) == before


def test_a_token_in_the_query_string_never_reaches_the_access_log() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:5", "GET", f"/api/runs?suite=vcs&token={TOKEN}&limit=5", "1.1", 401), None,
    )  # fmt: skip
    RedactQuery().filter(record)
    assert TOKEN not in record.getMessage()
    assert "suite=vcs" in record.getMessage() and "token=[redacted]" in record.getMessage()


def test_failed_authentication_is_rate_limited(client: TestClient) -> None:
    bad = {"Authorization": "Bearer wrong"}
    codes = [client.post("/api/results", json={}, headers=bad).status_code for _ in range(MAX_FAILURES + 5)]
    assert codes[:MAX_FAILURES] == [403] * MAX_FAILURES and set(codes[MAX_FAILURES:]) == {429}
    refused = client.post("/api/results", json={}, headers=AUTH)  # even the right token waits
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1


def test_anonymous_reads_are_a_setting_and_never_show_host_details(home: Path) -> None:
    store = Store(home / "bench.duckdb")
    run_id = store.query("SELECT run_id FROM runs LIMIT 1").item(0, 0)
    with TestClient(create_app(store, token=TOKEN, anonymous_reads=False)) as closed:
        assert closed.get("/api/runs").status_code == 401
        assert closed.get("/api/runs", headers={"Authorization": "Bearer wrong"}).status_code == 403
        assert "host" in closed.get(f"/api/runs/{run_id}", headers=AUTH).json()
        assert closed.get("/health").status_code == 200
    with TestClient(create_app(store, token=TOKEN, anonymous_reads=True)) as open_:
        anonymous = open_.get(f"/api/runs/{run_id}")
        assert anonymous.status_code == 200 and "host" not in anonymous.json()
