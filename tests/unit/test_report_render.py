"""Report exporters (Markdown, JSON, HTML) on hand-built reports: explicit markers, no gaps, no network
loads, escaped data, Markdown within a PR comment's size, JSON valid against docs/report-schema.json."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import jsonschema
import numpy as np
import polars as pl
import pytest

from bench_pipeline.report import FORMATS, SCHEMA_VERSION, Report, build_report, write_reports
from bench_pipeline.report.html import render_html
from bench_pipeline.report.json_export import render_json
from bench_pipeline.report.markdown import MAX_CHARS, render_markdown
from bench_pipeline.report.model import (
    ChangePoint,
    Comparison,
    FixtureSize,
    HistoryPoint,
    HistorySeries,
    MetricSummary,
    OperationRow,
    PairSummary,
    RunInfo,
    ScalingFit,
    ScalingPoint,
    TargetResult,
    ToolCell,
)
from bench_pipeline.report.schema import SCHEMA_PATH, report_schema

HOSTILE = "<script>alert(1)</script>"
HOSTILE_REASON = 'fatal: "x" <img src=x onerror=alert(2)> & more'
TOOLS = ["git", "git-worktree", "jj"]  # jj: unavailable


def _metrics(median: float) -> dict[str, MetricSummary]:
    def summary(m: float) -> MetricSummary:
        return MetricSummary(
            n=10, median=m, mean=m * 1.01, std=m * 0.03, cv=0.03, min=m * 0.9, max=m * 1.3,
            p5=m * 0.92, p95=m * 1.2, p99=m * 1.28, q1=m * 0.97, q3=m * 1.04, iqr=m * 0.07,
            ci_low=m * 0.98, ci_high=m * 1.02,
        )  # fmt: skip

    return {"wall": summary(median), "cpu": summary(median * 0.8), "rss": summary(30e6)}


def _measured(median: float, **kw) -> ToolCell:
    return ToolCell(status="measured", n_ok=10, stop="converged", metrics=_metrics(median), **kw)


def _unavailable() -> ToolCell:
    return ToolCell(status="unavailable", reason="jj is not installed (install jj ≥ 0.20)")


def _comparison(op: str, fixture: str, verdict: str, ratio: float | None, metric: str = "wall") -> Comparison:
    return Comparison(
        operation=op, fixture=fixture, metric=metric, tool_a="git", tool_b="git-worktree",
        median_a=10e6, median_b=None if ratio is None else 10e6 * ratio, ratio=ratio,
        ci_low=None if ratio is None else ratio * 0.97, ci_high=None if ratio is None else ratio * 1.03,
        p_value=0.001, p_adjusted=0.004, verdict=verdict, n_a=10, n_b=10,
    )  # fmt: skip


def make_report(n_extra_operations: int = 0, *, history: bool = False) -> Report:
    rows = []
    for fixture, scale in (("small", 1.0), ("medium", 4.0)):
        rows.append(
            OperationRow(
                operation="status", category="read", fixture=fixture,
                tools={
                    "git": _measured(
                        8e6 * scale,
                        targets=[
                            TargetResult(target="p99 < 500ms", metric="wall", stat="p99", limit=5e8,
                                         value=8e6 * scale * 1.28, passed=True),
                            TargetResult(target="median < 1ms", metric="wall", stat="median", limit=1e6,
                                         value=8e6 * scale, passed=False),
                        ],
                    ),
                    "git-worktree": _measured(9e6 * scale, n_failed=1, reason="exit 128 once"),
                    "jj": _unavailable(),
                },
            )
        )  # fmt: skip
        rows.append(
            OperationRow(
                operation=HOSTILE, category="read", fixture=fixture,
                tools={"git": _measured(3e6 * scale), "git-worktree": _measured(2e6 * scale), "jj": _unavailable()},
            )
        )  # fmt: skip
        rows.append(
            OperationRow(
                operation="commit", category="write", fixture=fixture,
                tools={
                    "git": _measured(20e6 * scale, valid=True, equivalence="same", similarity=1.0),
                    "git-worktree": _measured(
                        21e6 * scale, valid=False, equivalence="tree differs", similarity=0.5
                    ),
                    "jj": _unavailable(),
                },
            )
        )  # fmt: skip
        rows.append(
            OperationRow(
                operation="broken", category="read", fixture=fixture,
                tools={
                    "git": ToolCell(status="failed", reason=HOSTILE_REASON, n_failed=2, stop="failing"),
                    "git-worktree": ToolCell(status="na", reason="only git is asked to fail"),
                    "jj": _unavailable(),
                },
            )
        )  # fmt: skip
    for i in range(n_extra_operations):
        rows.append(
            OperationRow(
                operation=f"generated-operation-{i:04d}", category="read", fixture="small",
                tools={"git": _measured(1e6 + i), "git-worktree": _measured(1.1e6 + i), "jj": _unavailable()},
            )
        )  # fmt: skip
    comparisons = []
    for fixture in ("small", "medium"):
        comparisons += [
            _comparison("status", fixture, "slower", 1.125),
            _comparison("status", fixture, "inconclusive", 1.01, metric="cpu"),
            _comparison(HOSTILE, fixture, "faster", 0.66),
            _comparison("commit", fixture, "invalid", 1.05),
            _comparison("broken", fixture, "inconclusive", None),
        ]
    comparisons += [_comparison(r.operation, "small", "equivalent", 1.1) for r in rows[8:]]
    history_series, scaling = [], []
    if history:
        points = [
            HistoryPoint(
                run_id=f"run-{k}", started_at=f"2025-01-{k + 1:02d}T03:00:00+00:00",
                median=8e6 if k < 5 else 9.6e6, ci_low=7.8e6 if k < 5 else 9.3e6, ci_high=8.2e6 if k < 5 else 9.9e6,
            )
            for k in range(8)
        ]  # fmt: skip
        history_series = [
            HistorySeries(
                operation=HOSTILE, fixture="small", tool="git", metric="wall", points=points,
                change_points=[ChangePoint(run_id="run-5", started_at=points[5].started_at,
                                           before_median=8e6, after_median=9.6e6, ratio=1.2)],
            ),
            HistorySeries(operation=HOSTILE, fixture="small", tool="git-worktree", metric="wall", points=points[:6]),
        ]  # fmt: skip
        scaling = [
            ScalingFit(
                tool="git", operation="status", metric="wall", basis="commits",
                sizes=[ScalingPoint(fixture="small", n=500, median=8e6), ScalingPoint(fixture="medium", n=5000, median=32e6)],
                growth="linear", exponent=0.6, r_squared=0.97, fixed=5.33e6, slope=5333.3, clear=True,
            ),
            ScalingFit(
                tool="git-worktree", operation="log", fixture="small", metric="wall", basis="n",
                sizes=[ScalingPoint(fixture="small", n=n, median=1e6 + 1e3 * n, label=f"log[n={n}]") for n in (10, 100, 1000)],
                growth="linear", exponent=0.9, r_squared=0.99, fixed=1e6, slope=1e3,
            ),
        ]  # fmt: skip
    counts: dict[str, int] = {}
    for row in rows:
        for cell in row.tools.values():
            counts[cell.status] = counts.get(cell.status, 0) + 1
    return Report(
        generated_at="2025-01-09T00:00:00+00:00",
        suite="vcs",
        run=RunInfo(
            run_id="20250109T000000Z-vcs-abc123",
            suite="vcs",
            status="succeeded",
            started_at="2025-01-09 00:00:00+00:00",
            finished_at="2025-01-09 00:05:00+00:00",
            trigger="manual",
            backend="local",
            git_tag=None,
            git_commit=None,
            quick=False,
            tools=TOOLS,
            sizes=["small", "medium"],
            tool_versions={"git": "git version 2.47.2", "git-worktree": "git version 2.47.2"},
            host={
                "cpu_model": "Test CPU",
                "cores": 2,
                "memory_bytes": 8 << 30,
                "kernel": "6.1",
                "note": HOSTILE,
            },
            settings={"warmup": 1, "min_runs": 10},
            seconds=300.0,
        ),  # fmt: skip
        cell_counts=counts,
        samples=1234,
        findings=[
            f"git-worktree is 1.52× faster than git at `{HOSTILE}` on small (time; 95% CI 1.47–1.56×, p_adj 0.004)",
            "git-worktree is 1.12× slower than git at `status` on small (time; 95% CI 1.09–1.16×, p_adj 0.004)",
        ],
        pairs=[
            PairSummary(
                tool_a="git",
                tool_b="git-worktree",
                metric="wall",
                cells=6,
                geomean_ratio=0.93,
                ci_low=0.85,
                ci_high=1.02,
                verdicts={"faster": 2, "slower": 2, "inconclusive": 2},
            ),
        ],  # fmt: skip
        operations=rows,
        comparisons=comparisons,
        not_measured=[
            "Fixture sizes not run: large.",
            "Unavailable cells (8): jj/status (small) and 7 more.",
        ],
        warnings=["1 target(s) missed: git/status (small): median < 1ms"],
        fixtures={
            "small": FixtureSize(name="small", commits=500, files=500, file_size_median=1536),
            "medium": FixtureSize(name="medium", commits=5000, files=5000, file_size_median=1536),
        },
        history=history_series,
        scaling=scaling,
    )


# ------------------------------------------------------------------------------------------ helpers
class _Tables(HTMLParser):
    """Rows of every <table> by id: lists of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.scripts: list[dict[str, str | None]] = []
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts.append(a)
        if tag == "table":
            self._table = a.get("id") or f"anon-{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table:
            if self._row:
                self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _parse(html: str) -> _Tables:
    parser = _Tables()
    parser.feed(html)
    return parser


def _validate(text: str) -> dict:
    data = json.loads(text)
    jsonschema.Draft202012Validator(report_schema()).validate(data)
    return data


# ------------------------------------------------------------------------------------------ tests
@pytest.mark.parametrize("history", [False, True])
def test_all_formats_render_with_explicit_markers_and_no_gaps(history):
    report = make_report(history=history)
    md, js, html = render_markdown(report), render_json(report), render_html(report)

    for marker in ("n/a", "unavailable", "failed", "invalid", "**FAIL**", "pass"):
        assert marker in md, marker
    for status in ("na", "unavailable", "failed", "invalid", "pass", "fail"):
        assert f'class="badge b-{status}"' in html, status
    assert "Not measured" in html and "Fixture sizes not run: large." in html
    assert "Test CPU" in html and "git version 2.47.2" in html and "1 target(s) missed" in html

    # Markdown: every tool column of every operation row says something
    table = md.split("## Operations", 1)[1].split("\n\n## ", 1)[0]
    op_rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(op_rows) == len(report.operations)
    for line in op_rows:
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        assert all(c and c != "–" for c in cells[2 : 2 + len(TOOLS)]), line

    # HTML: the operations table has one cell per tool × metric, none empty
    tables = _parse(html).tables
    ops = tables["ops-table"]
    assert len(ops) == len(report.operations)
    assert all(len(r) == 3 + 3 * len(TOOLS) and all(r[3:]) for r in ops)
    assert len(tables["comparisons-table"]) == len(report.comparisons)
    assert {r[3] for r in tables["unmeasured-table"]} >= {"n/a", "unavailable", "failed", "invalid"}
    assert [r[-1] for r in tables["targets-table"]] == ["pass", "FAIL", "pass", "FAIL"]

    assert _validate(js)["schema_version"] == SCHEMA_VERSION
    if history:
        assert 'id="history-chart"' in html and 'id="changes-table"' in html and "scaling-table" in html
        assert "## Change points" in md and "## Scaling" in md and "linear" in md
    else:
        assert 'id="history-chart"' not in html and "scaling-table" not in html
        assert 'id="scaling-chart"' in html  # two fixture sizes: measured curves without fits
        assert "## Change points" not in md


def test_html_loads_nothing_from_the_network():
    html = render_html(make_report(history=True))
    # every resource-loading element or attribute: none
    assert not re.search(
        r"<(script|link|img|iframe|embed|object|source|audio|video)\b[^>]*\s(src|href)\s*=", html, re.I
    )
    assert "@import" not in html and "url(http" not in html
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';' in html
    assert "plotly.js v" in html and len(html) > 1_000_000  # plotly inline
    scripts = _parse(html).scripts
    assert len(scripts) == 3 and all("src" not in s for s in scripts)


def test_html_escapes_strings_from_data():
    report = make_report(history=True)
    html = render_html(report)
    assert HOSTILE not in html
    assert "<img src=x onerror" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("</script>") == 3  # data, plotly.js, ours: nothing closes a script early
    # the embedded data are the JSON report, intact after unescaping
    data = html.split('<script type="application/json" id="report-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in data and json.loads(data) == json.loads(render_json(report))
    assert HOSTILE in json.loads(data)["operations"][1]["operation"]


def test_markdown_of_a_huge_report_fits_a_comment_and_points_at_the_html(tmp_path):
    report = make_report(n_extra_operations=2_000)
    md = render_markdown(report, html_name="report.html")
    assert len(md) < MAX_CHARS
    assert md.rstrip().endswith("the full tables are in the HTML report `report.html`.")
    assert "## Summary" in md and "## Not measured" in md and "## Environment" in md
    assert "more operation rows not shown here" in md
    assert render_markdown(report).rstrip().endswith("the JSON report `report.json`.")
    assert len(render_markdown(make_report())) < 10_000  # a small report is not truncated
    assert "truncated" not in render_markdown(make_report())

    written = write_reports(report, tmp_path)
    assert set(written) == set(FORMATS) == {"md", "json", "html"}
    run_dir = tmp_path / "vcs" / report.run.run_id
    assert all(p.parent == run_dir and p.name == f"report.{f}" for f, p in written.items())
    assert (tmp_path / "vcs" / "latest").resolve() == run_dir.resolve()
    assert written["md"].read_text().rstrip().endswith("`report.html`.")
    _validate(written["json"].read_text())


def test_committed_schema_equals_the_generated_one():
    committed = json.loads(SCHEMA_PATH.read_text())
    assert committed == report_schema(), "run: uv run python -m bench_pipeline.report.schema"
    jsonschema.Draft202012Validator.check_schema(committed)
    assert committed["x-schema-version"] == SCHEMA_VERSION
    assert "schema_version" in committed["required"] or "schema_version" in committed["properties"]


def test_schema_rejects_a_malformed_report():
    data = json.loads(render_json(make_report()))
    data["operations"][0]["tools"]["git"]["metrics"]["wall"]["median"] = "fast"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, report_schema())
    del data["run"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, report_schema())


# ------------------------------------------------------------------------------------------ from a store
def test_build_report_reads_quartiles_and_fixture_sizes_from_the_store(tmp_path):
    from bench_pipeline import analysis
    from bench_pipeline.execution.rounds import SAMPLE_SCHEMA
    from bench_pipeline.store import Store

    store = Store(tmp_path / "bench.duckdb")
    store.create_run(
        "r1", "s", trigger="manual", backend="local", host={}, settings={}, tools=["a", "b"],
        sizes=["small"], quick=False, suite_sha256="x",
    )  # fmt: skip
    rng = np.random.default_rng(3)
    walls = {t: rng.lognormal(np.log(m), 0.1, 12).astype(np.int64) for t, m in (("a", 5e6), ("b", 6e6))}
    rows = [
        {
            "run_id": "r1", "suite": "s", "tool": t, "operation": "op", "fixture": "small", "backend": "local",
            "round": i, "iteration": i, "warmup": False, "wall_ns": int(w), "user_ns": int(w) // 2,
            "sys_ns": int(w) // 10, "peak_rss_bytes": 1 << 20, "read_bytes": 0, "write_bytes": 0,
            "ctx_switches": 1, "exit_code": 0, "timed_out": False, "ok": True, "stdout_bytes": 0,
            "stderr_bytes": 0, "stderr_tail": None, "created_at": datetime.now(UTC),
        }
        for t, ws in walls.items()
        for i, w in enumerate(ws)
    ]  # fmt: skip
    with store.connect() as con:
        con.register("new_rows", pl.DataFrame(rows, schema=SAMPLE_SCHEMA).to_arrow())
        con.execute("INSERT INTO samples BY NAME SELECT * FROM new_rows")
        for t in walls:
            con.execute(
                "INSERT INTO run_cells (run_id, suite, tool, operation, fixture, category, status, reason, "
                "n_ok, n_failed, stop) VALUES ('r1', 's', ?, 'op', 'small', 'read', 'measured', '', 12, 0, 'max_runs')",
                [t],
            )
    store.finish_run("r1", "succeeded")
    for t in walls:
        analysis.update_cell_stats(store, "s", t)
    analysis.update_comparisons(store, "s", 0.03)

    report = build_report(store, "s", "r1")
    wall = report.operations[0].tools["a"].metrics["wall"]
    assert wall.q1 == pytest.approx(np.percentile(walls["a"], 25))
    assert wall.q3 == pytest.approx(np.percentile(walls["a"], 75))
    assert wall.min <= wall.p5 <= wall.q1 <= wall.median <= wall.q3 <= wall.p95 <= wall.max
    assert wall.iqr == pytest.approx(wall.q3 - wall.q1)
    assert report.fixtures["small"].commits == 500 and report.fixtures["small"].files == 500
    assert report.history == [] and any("History across runs" in n for n in report.not_measured)
    assert any(c.metric == "wall" for c in report.comparisons)
    _validate(render_json(report))
    render_html(report)
    render_markdown(report)


def test_history_series_from_a_history_analysis_result():
    """The history analysis keeps runs in ``series`` (``points`` counts them) with datetimes."""
    at = datetime(2025, 1, 2, 3, 0, tzinfo=UTC)
    cell = {
        "suite": "vcs", "operation": "status", "fixture": "small", "tool": "git", "metric": "wall", "points": 2,
        "series": [
            {"run_id": "r1", "started_at": at, "median": 1e6, "ci_low": None, "ci_high": None, "n": 10},
            {"run_id": "r2", "started_at": at, "median": 2e6, "ci_low": 1.9e6, "ci_high": 2.1e6, "n": 10},
        ],
        "change_points": [
            {"run_id": "r2", "started_at": at, "index": 1, "before_median": 1e6, "after_median": 2e6, "ratio": 2.0,
             "direction": "regression", "p_value": 0.01, "methods": ["e-divisive"]},
        ],
        "trend": {"points": 2, "slope_per_run": 0.5, "p_value": 0.3, "significant": False},
        "gate": {"alert": False},
    }  # fmt: skip
    series = HistorySeries.from_cell(cell)
    assert [p.median for p in series.points] == [1e6, 2e6]
    assert series.points[0].started_at == at.isoformat()
    assert series.change_points[0].direction == "regression" and series.trend.slope_per_run == 0.5
    report = make_report().model_copy(update={"history": [series]})
    assert 'id="history-chart"' in render_html(report)
    _validate(render_json(report))
