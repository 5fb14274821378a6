"""The history dashboard's pages over HTTP (FastAPI's test client): a store of 30 runs on two hosts, two
fixture sizes, two release tags and a planted change point (git's status 15 % slower from run 12 on).
The data behind the pages, read-only access without a token, escaping, archived reports, comparing two
runs or two revisions. The browser test (tests/e2e/test_dashboard_browser.py) uses the same store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bench_pipeline.analysis import update_comparisons
from bench_pipeline.interfaces.http import create_app
from bench_pipeline.report import dashboard
from bench_pipeline.report.render import render_run
from bench_pipeline.store import Store
from tests.integration.test_history_store import STEP_AT, T0, add_runs

pytestmark = pytest.mark.integration
N_RUNS = 30
H2_RUNS = [3, 8, 13, 18, 23]  # the other host; the newest run (29) is on h1
TAGS = {10: "v1.0", 20: "v1.1"}
CELLS = [("status", "small"), ("status", "medium"), ("log-graph", "small"), ("log-graph", "medium")]
HOSTILE = "<img src=x onerror=alert(1)>"


def build_store(home: Path) -> Store:
    """The dashboard's test store in ``home`` (see the module docstring), with comparisons and the
    newest run's archived reports (BENCH_PIPELINE_HOME must point at ``home`` for the reports)."""
    store = Store(home / "bench.duckdb")
    add_runs(store, [r for r in range(N_RUNS) if r not in H2_RUNS], cells=CELLS, host="h1")
    add_runs(store, H2_RUNS, cells=CELLS, host="h2")
    with store.connect() as con:
        for run, tag in TAGS.items():
            con.execute(
                "UPDATE runs SET git_tag = ?, git_commit = ? WHERE run_id = ?",
                [tag, f"{run:02d}" * 20, f"r{run:03d}"],
            )
        con.execute(
            "UPDATE runs SET host = json_object('fingerprint', 'h1', 'hostname', ?) WHERE run_id = 'r000'",
            [HOSTILE],
        )
    update_comparisons(store, "s", 0.03)
    render_run(store, "s", "latest", reports_dir=home / "reports")
    return store


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("dashboard")
    build_store(home)
    return home


@pytest.fixture
def client(home, monkeypatch) -> TestClient:
    monkeypatch.setenv("BENCH_PIPELINE_HOME", str(home))
    return TestClient(create_app(Store(home / "bench.duckdb"), token="s3cret"))


def _data(html: str) -> dict:
    block = re.search(r'<script type="application/json" id="dash-data">(.*?)</script>', html, re.S)
    assert block, "the page has no data block"
    return json.loads(block.group(1))


def test_operation_history_has_the_planted_change_point_tags_and_filters(home):
    store = Store(home / "bench.duckdb")
    data = dashboard.operation_history(store, "s", "status")
    assert data["default_host"] == "h1" and {h["id"] for h in data["hosts"]} == {"h1", "h2"}
    assert [f["name"] for f in data["fixtures"]] == ["small", "medium"]  # smallest first
    assert [(t["tag"], t["run_id"]) for t in data["tags"]] == [("v1.0", "r010"), ("v1.1", "r020")]
    series = {(s["tool"], s["fixture"], s["host"]): s for s in data["series"]}
    assert len(series) == 2 * 2 * 3  # tools × fixtures × (h1, h2, all)
    git = series[("git", "small", "h1")]
    assert len(git["points"]) == N_RUNS - len(H2_RUNS) and all(p["host"] == "h1" for p in git["points"])
    (cp,) = git["change_points"]
    assert cp["run_id"] == f"r{STEP_AT:03d}" and cp["direction"] == "regression"
    assert cp["ratio"] == pytest.approx(1.15, rel=0.03)
    assert series[("jj", "small", "h1")]["change_points"] == []
    assert len(series[("git", "small", "all")]["points"]) == N_RUNS
    b = git["points"][0]
    assert b["ci_low"] <= b["median"] <= b["ci_high"]


def test_overview_judges_the_newest_run_per_tool(home):
    ov = dashboard.suite_overview(Store(home / "bench.duckdb"), "s")
    assert ov.tools == ["git", "jj"] and ov.latest_run["run_id"] == "r029" and ov.host == "h1"
    row = next(r for r in ov.rows if (r.operation, r.fixture) == ("status", "small"))
    assert row.tools["git"].verdict == "steady"  # the step is 17 runs old: the new level is the norm
    assert len(row.tools["git"].medians) == N_RUNS - len(H2_RUNS)
    assert {(c["tool_b"], c["verdict"]) for c in row.comparisons} == {("jj", "slower")}


def test_pages_read_without_a_token_and_writes_still_need_it(client):
    assert client.get("/", follow_redirects=False).headers["location"] == "/dashboard/"
    for url in ("/dashboard/", "/dashboard/s", "/dashboard/s/operations/status", "/dashboard/s/runs/r029",
                "/dashboard/s/compare", "/dashboard/s/runs/r029/report.html"):  # fmt: skip
        got = client.get(url)
        assert got.status_code == 200, (url, got.text[:300])
    page = client.get("/dashboard/s")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert 'href="/dashboard/s/operations/log-graph"' in page.text and '<svg class="spark' in page.text
    assert client.post("/api/results", json={}).status_code == 401
    assert client.post("/api/results", json={}, headers={"Authorization": "Bearer nope"}).status_code == 403


def test_run_page_links_its_reports_and_shows_findings(client):
    page = client.get("/dashboard/s/runs/r029").text
    for fmt in ("html", "md", "json"):
        assert f'href="/dashboard/s/runs/r029/report.{fmt}"' in page
    assert '<section id="findings">' in page and "jj is the slowest at status" in page
    assert 'href="/dashboard/s/runs/r0' in page  # similar runs link to their pages
    assert '<select name="baseline">' in page and 'value="tag:v1.1"' in page
    report = client.get("/dashboard/s/runs/r029/report.json")
    assert report.json()["run"]["run_id"] == "r029" and report.json()["schema_version"] == "1.5"
    assert client.get("/dashboard/s/runs/r028/report.html").status_code == 404  # not archived
    assert "bench-pipeline report --suite s --run r028" in client.get("/dashboard/s/runs/r028").text
    assert client.get("/dashboard/s/runs/r029/report.exe").status_code == 404
    assert client.get("/dashboard/s/runs/..%2F..%2Fetc/report.html").status_code == 404
    assert client.get("/dashboard/other/runs/r029").status_code == 404  # not a run of that suite


def test_strings_from_the_data_are_escaped(client):
    page = client.get("/dashboard/s/compare").text
    assert HOSTILE not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    op = client.get("/dashboard/s/operations/status")
    assert HOSTILE not in op.text


def test_compare_two_runs_and_two_revisions(client):
    runs = client.get("/dashboard/s/compare", params={"baseline": "r011", "candidate": "r012"})
    assert runs.status_code == 200
    rows = _data(runs.text)["rows"]
    assert (
        rows[0]["operation"] == "status" and rows[0]["tool"] == "git" and rows[0]["verdict"] == "regression"
    )
    assert 'id="compare-chart"' in runs.text and "Run <a" in runs.text
    revs = client.get(
        "/dashboard/s/compare", params={"baseline": "tag:v1.0", "candidate": f"commit:{'20' * 6}"}
    )
    assert revs.status_code == 200 and 'vs baseline <a href="/dashboard/s/runs/r010">r010</a>' in revs.text
    assert 'href="/dashboard/s/runs/r020">r020</a> vs baseline' in revs.text
    bad = client.get("/dashboard/s/compare", params={"baseline": "tag:v9", "candidate": "latest"})
    assert (
        bad.status_code == 400
        and "no finished run of suite &#x27;s&#x27; matches &#x27;tag:v9&#x27;" in bad.text
    )
    same = client.get("/dashboard/s/compare", params={"baseline": "r012", "candidate": "r012"})
    assert same.status_code == 400 and "the same run" in same.text


def test_unknown_things_are_404(client):
    assert client.get("/dashboard/nope").status_code == 404
    missing = client.get("/dashboard/s/operations/nope")  # a page that says why, not JSON
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "no succeeded run of &#x27;s&#x27; measured &#x27;nope&#x27;" in missing.text
    assert client.get("/dashboard/s/operations/status", params={"metric": "bogus"}).status_code == 400
    assert client.get("/dashboard/static/../app.py").status_code == 404
    js = client.get("/dashboard/static/plotly.min.js")
    assert js.status_code == 200 and "plotly.js" in js.text[:200]
    assert (
        client.get(
            "/dashboard/static/plotly.min.js", headers={"If-None-Match": js.headers["etag"]}
        ).status_code
        == 304
    )
    assert str(T0.year) in client.get("/dashboard/").text
