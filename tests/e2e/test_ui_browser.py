"""The Dagster UI of `bench-pipeline ui` in headless Chromium: asset graph, partitions, and a
materialization of `fixtures` for vcs|git launched with the UI's own button and partition picker.

Screenshots go to test-artifacts/ui-*.png (gitignored).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.dagster_server import dagster_ui

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
RUNS_QUERY = """{ runsOrError(filter: {tags: [{key: "dagster/partition", value: "vcs|git"}]}) {
  ... on Runs { results { runId status } } } }"""


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


def _new_page(browser):
    """A page that dismisses Dagster's one-time "join the community" dialog whenever it shows up
    (it appears after a delay in a fresh browser and covers the page)."""
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.add_locator_handler(
        page.get_by_text("Join the Dagster community"),
        lambda: page.get_by_role("button", name="Skip").click(),
    )
    return page


def _visit(page, url: str, *texts: str) -> None:
    page.goto(url)
    for text in texts:
        target = page.get_by_text(text, exact=True).filter(visible=True).first
        target.wait_for(timeout=60_000)
    page.wait_for_timeout(500)


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"ui-{name}.png"))


def _pick(page, dialog, value: str, attempts: int = 4) -> None:
    """Choose a partition value in the launch dialog's picker.

    The picker re-renders while it loads (and Dagster's community banner can intercept a click),
    so a click may hit a detached element: open the picker again and retry a few times.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    if dialog.get_by_text(value, exact=True).filter(visible=True).count():
        return  # already chosen: with one suite, the dialog may preselect it
    for attempt in range(attempts):
        try:
            dialog.get_by_text("Select a partition or create one").first.click(timeout=15_000)
            page.keyboard.type(value)
            option = (
                page.locator(".dagster-popover").get_by_text(value, exact=True).filter(visible=True).first
            )
            option.click(timeout=15_000)
            page.keyboard.press("Escape")
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            if attempt == attempts - 1:
                raise


def test_ui_graph_partitions_and_materialize_from_the_browser(browser, bench_home, tmp_path):
    from dagster_graphql import DagsterGraphQLClient

    log = tmp_path / "dagster.log"
    with dagster_ui(bench_home, log) as (url, port):
        page = _new_page(browser)

        # the asset graph: the pipeline chain, and the storage tiers in their own group
        _visit(
            page, f"{url}/locations/bench_pipeline/asset-groups/pipeline/lineage", "fixtures", "measurements"
        )
        for name in ("samples", "cell_stats", "report"):
            assert page.get_by_text(name, exact=True).filter(visible=True).count(), name
        _shot(page, "graph")
        _visit(page, f"{url}/locations/bench_pipeline/asset-groups/storage/lineage", "warm_tier", "cold_tier")
        _shot(page, "storage")

        # partitions of fixtures: suite × tool, none materialized yet
        _visit(page, f"{url}/assets/fixtures?view=partitions", "vcs")
        assert page.get_by_text("Materialized (0)").count()
        _shot(page, "partitions")

        # materialize vcs|git with the UI's button and partition picker
        page.get_by_role("button", name="Materialize…").click()
        dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize")
        dialog.wait_for()
        for value in ("vcs", "git"):  # suite, then tool
            _pick(page, dialog, value)
        dialog.get_by_text("1 partition", exact=True).wait_for()
        _shot(page, "launch")
        dialog.get_by_role("button", name="Launch 1 run").click()

        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        deadline = time.monotonic() + 60
        runs: list = []
        while not runs:
            assert time.monotonic() < deadline, f"no run launched:\n{log.read_text()[-3000:]}"
            time.sleep(1)
            runs = client._execute(RUNS_QUERY)["runsOrError"]["results"]
        run_id = runs[0]["runId"]

        # the run page shows it succeed
        page.goto(f"{url}/runs/{run_id}")
        page.get_by_text("Success", exact=True).filter(visible=True).first.wait_for(timeout=300_000)
        _shot(page, "run")
        assert client.get_run_status(run_id).value == "SUCCESS", log.read_text()[-3000:]

        # and the partition is materialized
        _visit(page, f"{url}/assets/fixtures?view=partitions", "vcs")
        page.get_by_text("Materialized (1)").first.wait_for(timeout=60_000)
        _shot(page, "materialized")
