"""The HTML report of a real run, opened from disk in headless Chromium with every network request
refused: charts render, no script errors, tables sort and filter. Leaves test-artifacts/report.png."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from bench_pipeline.report.schema import report_schema
from tests.conftest import DATA, ROOT
from tests.e2e.browser import CHROMIUM_ARGS, chromium_path, offline_page

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture
def real_report(bench_home, git_required) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "bench_pipeline", "run", "--suite", str(DATA / "mini.yaml"), "--quick",
         "--backend", "local", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=os.environ,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _column(page, table: str, index: int) -> list[str]:
    return page.eval_on_selector_all(
        f"#{table} tbody tr:not([hidden])",
        f"rows => rows.map(r => r.cells[{index}].getAttribute('data-v') ?? r.cells[{index}].textContent.trim())",
    )


def test_html_report_renders_offline_and_its_tables_work(real_report):
    paths = {k: Path(v) for k, v in real_report["reports"].items()}
    assert set(paths) == {"md", "json", "html"} and all(p.exists() for p in paths.values())
    jsonschema.Draft202012Validator(report_schema()).validate(json.loads(paths["json"].read_text()))

    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with offline_page(
        lambda url: url.startswith("file://"), viewport={"width": 1366, "height": 768}
    ) as watched:
        page, errors, refused = watched.page, watched.errors, watched.refused
        page.goto(paths["html"].resolve().as_uri())
        page.wait_for_selector("#dist-chart .main-svg", timeout=15_000)
        page.wait_for_selector("#forest-chart .main-svg", timeout=15_000)

        # charts: boxes per tool and forest points
        assert page.locator("#dist-chart .main-svg").count() > 0
        assert page.locator("#dist-chart g.trace.boxes").count() >= 2
        assert page.locator("#forest-chart .scatterlayer .point").count() >= 1
        assert page.evaluate("document.body.getAttribute('data-chart-error')") is None
        # explicit markers: the failing operation and the n/a cell
        ops_text = page.inner_text("#ops-table")
        assert "failed" in ops_text and "n/a" in ops_text

        # sorting: the git column (index 3), ascending then descending; cells without a value last
        page.select_option("#ops-metric", "wall")
        before = _column(page, "ops-table", 0)
        page.click("#ops-table thead th:nth-child(4)")
        values = _column(page, "ops-table", 3)
        numbers = [float(v) for v in values if v != ""]
        assert numbers == sorted(numbers) and values[-1] == ""  # broken (failed) sorts last
        assert _column(page, "ops-table", 0) != before
        page.click("#ops-table thead th:nth-child(4)")
        numbers = [float(v) for v in _column(page, "ops-table", 3) if v != ""]
        assert numbers == sorted(numbers, reverse=True)
        page.click("#ops-table thead th:nth-child(1)")
        names = _column(page, "ops-table", 0)
        assert names == sorted(names)

        # filtering: one operation left, the counter says so, clearing restores every row
        box = page.locator('input.filter[data-table="ops-table"]')
        box.fill("status")
        assert _column(page, "ops-table", 0) == ["status"]
        assert page.inner_text('[data-count-for="ops-table"]') == "1 of 4 rows"
        box.fill("")
        assert len(_column(page, "ops-table", 0)) == 4
        # the chart filter redraws the distributions
        page.fill("#dist-filter", "log")
        page.wait_for_timeout(300)
        assert page.locator("#dist-chart g.trace.boxes .box").count() >= 1
        page.fill("#dist-filter", "")
        page.wait_for_timeout(300)

        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(artifacts / "report.png"), full_page=True)
        page.screenshot(path=str(artifacts / "report-viewport.png"))  # what a 1366×768 laptop shows
        assert errors == [], errors
        assert refused == [], refused


def test_extra_metrics_get_their_own_columns_in_the_html_report(bench_home, tmp_path):
    """Ingested tokens of two agents: the operations table offers `tokens` next to wall/cpu/rss and
    shows exactly its columns when chosen."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from bench_pipeline.analysis import analyse_runs
    from bench_pipeline.report.render import render_run
    from bench_pipeline.resume import ingest_and_complete as ingest_files  # stored, analysed, finished
    from bench_pipeline.store import Store

    files = []
    for tool, tokens in (("agent-a", 1000), ("agent-b", 1300)):
        samples = [
            {"operation": "fix-bug", "wall_ns": 10**9 + i, "metrics": {"tokens": tokens + i}}
            for i in range(8)
        ]
        path = tmp_path / f"{tool}.json"
        path.write_text(json.dumps({"run_id": "x", "suite": "agents", "tool": tool, "samples": samples}))
        files.append(path)
    ingest_files(files, run_id="x")
    analyse_runs(Store(), ["x"])
    _, written = render_run(Store(), "agents", "x", ["html"])
    with sync_api.sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        except Exception as exc:
            pytest.skip(f"cannot start Chromium: {exc}")
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(written["html"].resolve().as_uri())
            options = page.eval_on_selector_all("#ops-metric option", "os => os.map(o => o.value)")
            assert options == ["wall", "cpu", "rss", "tokens"]

            def visible(cls: str) -> list[str]:
                cells = page.locator(f"#ops-table tbody td.{cls}").filter(visible=True)
                return [t.strip() for t in cells.all_inner_texts()]

            assert visible("m-tokens") == [] and len(visible("m-wall")) == 2  # wall first
            page.select_option("#ops-metric", "tokens")
            assert visible("m-wall") == []
            # medians 1003.5 / 1303.5 with their CIs, as stored (no unit conversion)
            assert [v[:4] for v in visible("m-tokens")] == ["1004", "1304"]
            assert errors == []
        finally:
            browser.close()
