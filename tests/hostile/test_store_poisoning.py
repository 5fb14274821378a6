"""Store poisoning is impossible (issue 17): extreme times through the CLI, a file and the API are
refused, and every read path still answers — also over a row stored before the rule existed."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from bench_pipeline.interfaces.http import create_app
from bench_pipeline.store import Store
from tests.hostile.conftest import assert_refused, invoke, row_counts
from tests.hostile.corpus import DATA, EXTREME_TIMES

TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def every_read_path_answers(home: Path) -> None:
    for args in (
        ["report", "--suite", "hyperfine", "--format", "md"],
        ["history", "--suite", "hyperfine", "--json"],
        ["compare", "--suite", "hyperfine", "--run", "latest", "--tools", "hyperfine", "hyperfine"],
    ):
        result = invoke(*args)
        assert "Traceback" not in result.output and "unexpected" not in result.output, (args, result.output)
    store = Store(home / "bench.duckdb")
    run_id = store.query("SELECT run_id FROM runs ORDER BY run_id LIMIT 1").item(0, 0)
    with TestClient(create_app(store, token=TOKEN)) as client:
        for path in (
            "/api/runs",
            "/api/stats",
            "/api/stats/tools",
            f"/api/runs/{run_id}",
            f"/api/runs/{run_id}/samples",
        ):
            r = client.get(path, headers=AUTH)
            assert r.status_code == 200, (path, r.status_code, r.text[:300])


@pytest.mark.parametrize("when", EXTREME_TIMES)
def test_extreme_times_are_refused_at_every_boundary(home: Path, tmp_path: Path, when: str) -> None:
    before = row_counts(home)
    assert_refused(
        invoke("ingest", str(DATA / "hyperfine.json"), "--started-at", when, "--run-id", "x1"), "--started-at"
    )
    bundle = json.loads((DATA / "bundle-run.json").read_text())
    bundle["started_at"] = when
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    assert_refused(invoke("ingest", str(path)), "bundle.json")
    with TestClient(create_app(Store(home / "bench.duckdb"), token=TOKEN)) as client:
        body = {
            "run_id": "api-x",
            "suite": "s",
            "tool": "t",
            "started_at": when,
            "samples": [{"operation": "o", "wall_ns": 1}],
        }
        assert client.post("/api/results", json=body, headers=AUTH).status_code == 422
    assert row_counts(home) == before
    every_read_path_answers(home)


def test_a_poisoned_row_stored_before_the_rule_cannot_break_a_read(home: Path) -> None:
    con = duckdb.connect(str(home / "bench.duckdb"))
    con.execute("UPDATE runs SET started_at = TIMESTAMPTZ '9999-12-31 23:59:59-12:00'")
    con.execute("UPDATE samples SET created_at = TIMESTAMPTZ '0001-01-01 00:00:00+14:00'")
    con.close()
    every_read_path_answers(home)


def test_the_migration_repairs_poisoned_times(home: Path) -> None:
    from bench_pipeline.store import migrations

    sql = next(text for version, _name, text in migrations() if version == 10)
    con = duckdb.connect(str(home / "bench.duckdb"))
    con.execute("UPDATE runs SET started_at = TIMESTAMPTZ '9999-12-31 23:59:59-12:00'")
    for statement in sql.split(";\n"):
        code = "\n".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
        if code.startswith(("UPDATE runs", "UPDATE samples")):  # the repair part of migration 010
            con.execute(code)
    year, message = con.execute("SELECT year(started_at), message FROM runs").fetchall()[0]
    con.close()
    assert 1970 <= year < 2200 and "out of range" in message
