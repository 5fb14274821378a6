"""``--github``: the step summary and the pull-request comment file are written (regressions first), the
comment stays within 65,000 characters on a 1,000-cell run, and the exit codes stay as documented."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bench_pipeline.interfaces.cli import main
from bench_pipeline.report.github import COMMENT_LIMIT, comment_body
from bench_pipeline.report.markdown import render_markdown
from bench_pipeline.store import Store
from tests.integration.test_history_store import STEP_AT, add_runs
from tests.unit.test_report_render import make_report

pytestmark = pytest.mark.integration
#: 1,000 cells: git's status (15 % slower from STEP_AT on) and 999 operations that do not change
CELLS = [("status", "small")] + [(f"log-n[n={k}]", "small") for k in range(999)]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("github")
    add_runs(Store(home / "bench.duckdb"), [STEP_AT - 1, STEP_AT], tools=("git",), cells=CELLS)
    return home


def _compare(home, tmp_path, monkeypatch, *extra: str):
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("BENCH_PIPELINE_HOME", str(home))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    base, cand = f"r{STEP_AT - 1:03d}", f"r{STEP_AT:03d}"
    args = ["compare", "--suite", "s", "--baseline", base, "--candidate", cand, "--github", *extra]
    return CliRunner().invoke(main, args), summary


def test_compare_github_on_a_1000_cell_run(home, tmp_path, monkeypatch):
    out, summary = _compare(home, tmp_path, monkeypatch, "--json")
    assert out.exit_code == 0, out.output
    body = json.loads(out.output.strip().splitlines()[-1])
    assert len(body["comparisons"]) == 1000
    written = body["github"]
    comment = home / "reports" / "s" / f"r{STEP_AT:03d}" / f"comment-vs-r{STEP_AT - 1:03d}.md"
    assert written["comment"] == str(comment) and written["step_summary"] == str(summary)
    text = comment.read_text()
    assert written["comment_chars"] == len(text) <= COMMENT_LIMIT
    assert text.startswith("## bench-pipeline compare: run r012 vs baseline r011")
    regressed = [r for r in body["comparisons"] if r["verdict"] == "regression"]
    regressions, table = text.index(f"### Regressions ({len(regressed)})"), text.index("### All comparisons")
    # the planted step is the largest regression: first in the list and in the table
    assert regressions < table and text[regressions:table].split("\n")[2].startswith(
        "- **git/status (small)** ×1.15"
    )
    assert text[table:].split("\n")[6].startswith("| status | small | git | 1.15")
    assert (
        "cut to fit a pull-request comment; everything is in the JSON of `bench-pipeline compare --json`"
        in text
    )
    assert summary.read_text() == "earlier step\n" + text  # appended, as GitHub expects


def test_exit_codes_stay_as_documented(home, tmp_path, monkeypatch):
    out, summary = _compare(home, tmp_path, monkeypatch, "--fail-on-regression")
    assert out.exit_code == 3
    assert "comment: " in out.output and f"step summary: {summary}" in out.output
    assert "### Regressions (" in summary.read_text()  # written before the exit
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    tools = CliRunner().invoke(
        main, ["compare", "--suite", "s", "--run", "r012", "--tools", "git", "git", "--github"]
    )
    assert tools.exit_code == 0 and "comment: " in tools.output and "step summary" not in tools.output


def test_comment_of_a_1000_cell_report_fits_and_puts_regressions_first():
    report = make_report(n_extra_operations=1_000)
    md = render_markdown(report, html_name="report.html")
    regressions = [f"git/op-{i} (small) ×1.2 vs baseline" for i in range(250)]
    text = comment_body("bench-pipeline: vcs run `r1` succeeded", regressions, md, pointer="the HTML report")
    assert len(text) <= COMMENT_LIMIT and len(md) > COMMENT_LIMIT // 2
    assert text.index("### Regressions (250)") < text.index("\n# bench-pipeline: vcs")
    assert "- … 150 more in the HTML report" in text  # the list is capped at 100 lines
    assert text.rstrip().endswith("everything is in the HTML report.")
    cut = text[: text.index("\n\n… cut to fit")]
    assert cut.split("\n")[-1].startswith("|") or cut.endswith(")")  # cut at a boundary, not mid-line
    quiet = comment_body("t", [], "## A\nbody\n", pointer="x", none_text="No regression.")
    assert quiet == "## t\n\nNo regression.\n\n## A\nbody\n"
