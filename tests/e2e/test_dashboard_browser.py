"""The history dashboard in headless Chromium (Debian's), served by a real ``bench-pipeline serve``, every
request to anywhere else refused: on a store of 30 runs with two tags and a planted change point, the
operation page draws the change point and the tags, filters by host and fixture size change the series,
compare and run pages work, and no console errors. Leaves test-artifacts/dashboard-*.png (the pictures
in docs/img/ are these)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from tests.conftest import ROOT
from tests.e2e.browser import offline_page
from tests.integration.test_api import Server
from tests.integration.test_dashboard import H2_RUNS, N_RUNS, TAGS, build_store
from tests.integration.test_history_store import STEP_AT, T0

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
STEP_STARTED = f"{(T0.replace(day=T0.day + STEP_AT)).strftime('%Y-%m-%d')}"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("dashboard-e2e") / "home"
    mp = pytest.MonkeyPatch()
    mp.setenv("BENCH_PIPELINE_HOME", str(home))  # render_run writes the reports where the server reads them
    try:
        build_store(home)
    finally:
        mp.undo()
    srv = Server(home, home.parent / "server.log")
    try:
        yield srv
    finally:
        srv.stop()


def _chart(page, selector: str = "#op-chart") -> dict:
    """What plotly drew: traces (name, points), shapes and annotation texts of the chart element."""
    return page.evaluate(
        """sel => { const gd = document.querySelector(sel);
            return {traces: gd.data.map(t => ({name: t.name, n: (t.x || []).length, x: t.x || []})),
                    shapes: (gd.layout.shapes || []).length,
                    annotations: (gd.layout.annotations || []).map(a => a.text),
                    series: Number(gd.getAttribute('data-series')), points: Number(gd.getAttribute('data-points'))}; }""",
        selector,
    )


def test_dashboard_in_a_browser(server):
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with offline_page(
        lambda url: url.startswith(server.url + "/"), viewport={"width": 1366, "height": 900}
    ) as watched:
        page, errors, refused = watched.page, watched.errors, watched.refused
        # suite overview: a row per operation × fixture, sparklines, the newest run's verdicts
        page.goto(f"{server.url}/")
        page.click("#suites-table a")
        page.wait_for_selector("#overview-table")
        assert page.locator("#overview-table tbody tr").count() == 4
        assert page.locator("#overview-table svg.spark").count() == 8
        assert page.inner_text("#overview-table").count("jj slower ×1.") == 2  # status, both sizes
        page.screenshot(path=str(artifacts / "dashboard-overview.png"), full_page=True)

        # operation page: medians with CI bands, the planted change point, the two tags
        page.click("#overview-table >> text=status")
        page.wait_for_selector("#op-chart .main-svg")
        drawn = _chart(page)
        assert drawn["series"] == 4  # git, jj × small, medium on the newest run's host
        assert drawn["points"] == 4 * (N_RUNS - len(H2_RUNS))
        names = [t["name"] for t in drawn["traces"]]
        assert names.count("git · small CI") == 2 and "git · medium" in names  # bands: upper and lower
        (star,) = [t for t in drawn["traces"] if t["name"] == "change point"]
        assert star["n"] == 2 and all(x.startswith(STEP_STARTED) for x in star["x"])  # git small + medium
        assert sorted(drawn["annotations"]) == sorted(f"tag {t}" for t in TAGS.values())
        assert drawn["shapes"] == 2 + len(TAGS)  # change-point lines and tag lines
        assert page.locator("#op-chart .annotation-text").count() == len(TAGS)
        assert page.locator("#op-chart .scatterlayer .point").count() >= 4 * (N_RUNS - len(H2_RUNS))
        assert f"from run r{STEP_AT:03d}" in page.inner_text("#op-changes")
        page.screenshot(path=str(artifacts / "dashboard-operation.png"), full_page=True)

        # the size filter: only the small fixture
        page.uncheck(".size-filter[value=medium]")
        page.wait_for_timeout(200)
        small = _chart(page)
        assert small["series"] == 2 and small["points"] == 2 * (N_RUNS - len(H2_RUNS))
        assert all("medium" not in (t["name"] or "") for t in small["traces"])
        assert parse_qs(urlparse(page.url).query)["size"] == ["small"]
        # the host filter: the other machine's five runs, then every host
        page.select_option("#host-filter", "h2")
        page.wait_for_timeout(200)
        other = _chart(page)
        assert other["series"] == 2 and other["points"] == 2 * len(H2_RUNS)
        assert parse_qs(urlparse(page.url).query)["host"] == ["h2"]
        page.select_option("#host-filter", "all")
        page.wait_for_timeout(200)
        assert _chart(page)["points"] == 2 * N_RUNS
        page.reload()  # the filters live in the URL
        page.wait_for_selector("#op-chart .main-svg")
        assert _chart(page)["points"] == 2 * N_RUNS and not page.is_checked(".size-filter[value=medium]")

        # a run page links its archived reports; compare it with the run before from the page
        page.goto(f"{server.url}/dashboard/s/runs/r029")
        assert page.locator("#reports a").count() == 3
        page.screenshot(path=str(artifacts / "dashboard-run.png"), full_page=True)
        page.select_option("#compare-form select[name=baseline]", "tag:v1.0")
        page.click("#compare-form button")
        page.wait_for_selector("#compare-chart .main-svg")
        assert "r029</a> vs baseline" in page.inner_html("h2") and "r010" in page.inner_html("h2")
        assert page.locator("#compare-table tbody tr").count() == 8
        # two runs chosen on the compare page: git's status step
        page.select_option("#compare-form select[name=baseline]", "r011")
        page.select_option("#compare-form select[name=candidate]", "r012")
        page.click("#compare-form button")
        page.wait_for_selector("#compare-chart .main-svg")
        first = page.locator("#compare-table tbody tr").first.inner_text()
        assert "status" in first and "git" in first and "regression" in first
        page.screenshot(path=str(artifacts / "dashboard-compare.png"), full_page=True)
        # the archived HTML report opens from the run page
        page.goto(f"{server.url}/dashboard/s/runs/r029")
        page.click("#reports >> text=report.html")
        page.wait_for_selector("#findings")
        assert page.evaluate("document.body.getAttribute('data-chart-error')") is None

        assert errors == [], errors
        assert refused == [], refused
