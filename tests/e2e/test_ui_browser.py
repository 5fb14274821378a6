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


def _new_page(browser, url: str):
    """A page without Dagster's one-time "join the community" dialog.

    That dialog opens a second after the first page load on a localhost origin and takes the focus
    (typing then lands in its e-mail field). Marking it seen server-side (GraphQL ``setNuxSeen``)
    stops it for good; the locator handler stays as a second line of defence.
    """
    import json
    import urllib.request

    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": "mutation { setNuxSeen }"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.load(response)["data"]["setNuxSeen"] is not None
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


def _pick(page, dialog, dimension: str, value: str, attempts: int = 4) -> None:
    """Choose ``value`` for one partition dimension in the launch dialog.

    Only locator actions (never bare keyboard input), so Playwright's actionability checks and
    overlay handler apply to every step: open this dimension's picker (its popover is found by the
    trigger's ``aria-controls``, since a closing popover of the other dimension may still be in the
    page), type into its filter box, tick the value, close it and check that the trigger shows the
    value. The picker re-renders while it loads, so a step may hit a detached element: retry.
    """

    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    block = (
        dialog.locator("div")
        .filter(has=page.get_by_text(dimension, exact=True))
        .filter(has=page.get_by_role("button", name="All"))
        .last
    )
    opener = block.locator('[aria-haspopup="dialog"]').first
    for attempt in range(attempts):
        try:
            if block.get_by_text(value, exact=True).filter(visible=True).count():
                return  # the trigger shows it: chosen (or preselected)
            opener.click(timeout=15_000)
            popover = page.locator(f'[id="{opener.get_attribute("aria-controls")}"]')
            search = popover.get_by_placeholder("Filter partitions")
            search.fill(value, timeout=15_000)
            item = popover.get_by_role("menuitem").filter(has=page.get_by_text(value, exact=True)).first
            item.click(timeout=15_000)  # the label: its checkbox input is visually hidden
            expect(item.get_by_role("checkbox")).to_be_checked(timeout=15_000)
            search.press("Escape")
            expect(popover).to_be_hidden(timeout=15_000)
            expect(block.get_by_text(value, exact=True).first).to_be_visible(timeout=15_000)
            return
        except (PlaywrightTimeout, AssertionError):  # expect() fails with AssertionError
            page.keyboard.press("Escape")
            if attempt == attempts - 1:
                _shot(page, f"pick-{dimension}-failed")
                raise


def test_ui_graph_partitions_and_materialize_from_the_browser(browser, bench_home, tmp_path):
    from dagster_graphql import DagsterGraphQLClient

    log = tmp_path / "dagster.log"
    with dagster_ui(bench_home, log) as (url, port):
        page = _new_page(browser, url)

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
        for dimension, value in (("suite", "vcs"), ("tool", "git")):
            _pick(page, dialog, dimension, value)
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
