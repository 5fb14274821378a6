"""Findings in every report: on a run with recommendations (jj is the bottleneck of `status`), error
clusters and earlier runs, the Markdown, the JSON (valid against docs/report-schema.json) and the HTML
carry recommendations with evidence, error clusters, the quality score with its components and the 3
most similar earlier runs with why; so do ``bench-pipeline findings`` and ``GET /api/runs/{id}/findings``."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from bench_pipeline.analysis import update_comparisons
from bench_pipeline.interfaces.cli import main
from bench_pipeline.interfaces.http import create_app
from bench_pipeline.patterns.findings import run_findings
from bench_pipeline.patterns.record import record_patterns
from bench_pipeline.report.render import render_run
from bench_pipeline.report.schema import report_schema
from bench_pipeline.store import Store
from tests.integration.test_history_store import STEP_AT, add_runs

pytestmark = pytest.mark.integration
NEWEST = "r015"
FAILURES = [
    {"tool": "git", "stderr": "fatal: bad object 3f2a9c1d0e"},
    {"tool": "git", "stderr": "fatal: bad object 9b0e77d12a"},
    {"tool": "jj", "timed_out": True, "exit_code": -9},
]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """16 runs of git and jj (status, snapshot); git/status steps up at STEP_AT; the newest run has
    three failed samples; comparisons computed."""
    home = tmp_path_factory.mktemp("findings")
    store = Store(home / "bench.duckdb")
    add_runs(store, list(range(15)), cells=[("status", "small"), ("snapshot", "small")])
    add_runs(store, [15], cells=[("status", "small"), ("snapshot", "small")], failures=FAILURES)
    update_comparisons(store, "s", 0.03)
    return home


def test_findings_of_a_run(home):
    store = Store(home / "bench.duckdb")
    found = run_findings(store, "s", NEWEST)
    assert found.recommendations_source == "computed"
    kinds = {r.kind for r in found.recommendations}
    assert {"bottleneck", "hot-path"} <= kinds
    bottleneck = next(r for r in found.recommendations if r.kind == "bottleneck" and r.operation == "status")
    assert bottleneck.tool == "jj" and bottleneck.evidence["against"][0]["other"] == "git"
    clusters = {c.signature: c for c in found.error_clusters}
    assert clusters["fatal: bad object <hex>"].count == 2 and clusters["timeout"].kind == "timeout"
    q = found.quality
    assert q is not None and q.run_id == NEWEST and 0 < q.quality <= 1
    assert q.quality == pytest.approx((q.noise + q.completeness + q.significance) / 3)
    assert len(found.similar_runs) == 3
    assert all(s.run_id < NEWEST for s in found.similar_runs)  # earlier runs only
    # after git's step every run has git/status slow against the suite's mean: the likes are post-step
    assert all(int(s.run_id[1:]) >= STEP_AT for s in found.similar_runs)
    assert "cosine" in found.similar_runs[0].why and "git/status (small)" in found.similar_runs[0].why
    assert "same host" in found.similar_runs[0].why


def test_stored_recommendations_are_read_back(tmp_path):
    store = Store(tmp_path / "bench.duckdb")
    add_runs(store, list(range(4)), cells=[("status", "small"), ("snapshot", "small")])
    update_comparisons(store, "s", 0.03)
    recorded = record_patterns(store, "s")
    found = run_findings(store, "s", "r003")
    assert found.recommendations_source == "learning store"
    assert [r.title for r in found.recommendations] == [r.title for r in recorded.recommendations]
    assert [r.evidence for r in found.recommendations] == [
        json.loads(json.dumps(r.evidence, default=str)) for r in recorded.recommendations
    ]


def test_findings_appear_in_all_three_formats(home, tmp_path):
    store = Store(home / "bench.duckdb")
    report, written = render_run(store, "s", "latest", reports_dir=tmp_path / "reports")
    assert report.run.run_id == NEWEST and report.schema_version == "1.5"
    body = json.loads(written["json"].read_text())
    jsonschema.Draft202012Validator(report_schema()).validate(body)
    assert body["recommendations"] and body["recommendations"][0]["evidence"]
    assert {c["signature"] for c in body["error_clusters"]} >= {"fatal: bad object <hex>", "timeout"}
    assert set(body["quality"]) >= {"quality", "noise", "completeness", "significance", "detail"}
    assert len(body["similar_runs"]) == 3 and all(s["why"] for s in body["similar_runs"])

    md = written["md"].read_text()
    assert "## Findings" in md and "Run quality **" in md and "noise " in md and "completeness " in md
    assert "### Recommendations" in md and "**bottleneck**: jj is the slowest at status (small)" in md
    assert re.search(r"Evidence: metric: wall, against: \[\{other git, ratio 1\.\d+, ci_low 1\.\d+", md)
    assert "### Error clusters (2)" in md and "fatal: bad object <hex>" in md
    assert "### Most similar earlier runs" in md and md.count("cosine ") >= 3

    html = written["html"].read_text()
    assert '<section id="findings">' in html and 'href="#findings"' in html
    assert 'id="recommendations-table"' in html and "jj is the slowest at status (small)" in html
    assert 'id="errors-table"' in html and "fatal: bad object &lt;hex&gt;" in html
    assert '<meter min="0" max="1"' in html and '<ol class="similar">' in html


def test_findings_command_and_api(home, monkeypatch):
    monkeypatch.setenv("BENCH_PIPELINE_HOME", str(home))
    out = CliRunner().invoke(main, ["findings", "--suite", "s", "--json"])
    assert out.exit_code == 0, out.output
    body = json.loads(out.output.strip().splitlines()[-1])
    assert body["run_id"] == NEWEST and body["recommendations"] and len(body["similar_runs"]) == 3
    assert set(body) >= {"recommendations", "error_clusters", "quality", "similar_runs"}
    human = CliRunner().invoke(main, ["findings", "--suite", "s", "--run", "r010"])
    assert human.exit_code == 0 and "# Findings of s run r010" in human.output
    assert "Run quality **" in human.output and "### Recommendations" in human.output
    missing = CliRunner().invoke(main, ["findings", "--suite", "s", "--run", "nope"])
    assert missing.exit_code != 0 and "no finished run of suite 's' matches 'nope'" in missing.output

    client = TestClient(create_app(Store(home / "bench.duckdb"), token=""))
    got = client.get(f"/api/runs/{NEWEST}/findings")
    assert got.status_code == 200
    assert got.json()["recommendations"] == body["recommendations"]
    assert got.json()["quality"] == body["quality"]
    assert client.get("/api/runs/nope/findings").status_code == 404
    assert "/api/runs/{run_id}/findings" in client.get("/openapi.json").json()["paths"]
