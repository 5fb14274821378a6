"""The history dashboard's pages as HTML (data from ``report.dashboard``): suites, a suite's overview,
an operation over time, a run, a comparison of two runs or revisions.

Tables and sparklines (inline SVG) are complete here and read without script; the operation and
comparison charts are drawn by ``static/dashboard.js`` from the page's inert JSON block, with the same
offline plotly.js as the reports (served once by the dashboard, never from a CDN). Every string from
the data is escaped (``html_parts.e``); links are built from quoted path segments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode

from bench_pipeline.report import html_findings
from bench_pipeline.report.dashboard import (
    ALL_HOSTS,
    Comparison,
    RunDetail,
    SuiteOverview,
    ToolTrend,
    host_label,
    revisions,
    to_json,
)
from bench_pipeline.report.github import worst_first
from bench_pipeline.report.html_parts import METRICS, badge, e, fmt, fmt_p, fmt_ratio, inert_json, table, td
from bench_pipeline.report.markdown import fmt_ns

ROOT = "/dashboard"
MAX_RUN_OPTIONS = 300  # newest runs offered in a select (revisions and the URL reach older ones)
VERDICT_BADGE = {
    "regression": "regression",
    "improvement": "improvement",
    "steady": "equivalent",
    "new": "na",
}


# ------------------------------------------------------------------------------------------ links
def _q(segment: str) -> str:
    return quote(segment, safe="")


def suite_url(suite: str) -> str:
    return f"{ROOT}/{_q(suite)}"


def operation_url(suite: str, operation: str, **query: str) -> str:
    return f"{suite_url(suite)}/operations/{_q(operation)}" + (f"?{urlencode(query)}" if query else "")


def run_url(suite: str, run_id: str) -> str:
    return f"{suite_url(suite)}/runs/{_q(run_id)}"


def compare_url(suite: str, **query: str) -> str:
    return f"{suite_url(suite)}/compare" + (f"?{urlencode(query)}" if query else "")


def report_url(suite: str, run_id: str, fmt_: str) -> str:
    return f"{run_url(suite, run_id)}/report.{fmt_}"


# ------------------------------------------------------------------------------------------ layout
def page(
    title: str, body: str, *, crumbs: Sequence[tuple[str, str | None]], data: Any = None, charts: bool = False
) -> str:
    """A dashboard page: breadcrumbs, ``body``, the page's data block and the scripts it needs."""
    trail = " › ".join(
        f'<a href="{e(href)}">{e(text)}</a>' if href else f"<span>{e(text)}</span>" for text, href in crumbs
    )
    scripts = (f'<script src="{ROOT}/static/plotly.min.js"></script>' if charts else "") + "".join(
        f'<script src="{ROOT}/static/{name}"></script>' for name in ("tables.js", "dashboard.js")
    )
    return "".join(
        [
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<link rel="icon" href="data:,">',  # no favicon request
            f"<title>{e(title)} · bench-pipeline</title>",
            f'<link rel="stylesheet" href="{ROOT}/static/report.css">',
            f'<link rel="stylesheet" href="{ROOT}/static/dashboard.css">',
            f'</head><body><header><p class="crumbs">{trail}</p><h1>{e(title)}</h1></header><main>',
            body,
            "</main>",
            inert_json(to_json(data), "dash-data") if data is not None else "",
            scripts,
            "</body></html>\n",
        ]
    )


def _value(metric: str, value: float | None) -> str:
    return fmt(metric, value) if metric in METRICS else ("–" if value is None else f"{value:.4g}")


def _when(value: Any) -> str:
    return str(value)[:16].replace("T", " ")


def error_page(status: int, message: str) -> str:
    """What a page says when it cannot be shown: the reason, and the way back."""
    body = f'<p class="note error" id="error">{e(message)}</p><p><a href="{ROOT}/">all suites</a></p>'
    return page(
        "not found" if status == 404 else "cannot show this page", body, crumbs=[("suites", f"{ROOT}/")]
    )


# ------------------------------------------------------------------------------------------ suites
def suites_page(rows: list[dict[str, Any]]) -> str:
    if not rows:
        body = (
            '<p class="note">No finished runs yet. Run a suite (<code>bench-pipeline run</code>), ingest results '
            "(<code>bench-pipeline ingest</code>) or submit them (<code>POST /api/results</code>).</p>"
        )
    else:
        body = table(
            "suites-table",
            [("suite", ""), ("runs", "num"), ("succeeded", "num"), ("tags", "num"), ("newest run", "")],
            [
                "<tr>"
                + td(f'<a href="{e(suite_url(r["suite"]))}">{e(r["suite"])}</a>', r["suite"])
                + td(str(r["runs"]), r["runs"], "num")
                + td(str(r["succeeded"]), r["succeeded"], "num")
                + td(str(r["tags"]), r["tags"], "num")
                + td(e(_when(r["newest"])))
                + "</tr>"
                for r in rows
            ],
        )
    return page("Suites", body, crumbs=[("bench-pipeline", None)])


# ------------------------------------------------------------------------------------------ overview
def sparkline(trend: ToolTrend, metric: str = "wall", width: int = 120, height: int = 26) -> str:
    """The trend's medians as an inline SVG polyline (log scale between its own min and max); the
    newest point is a dot coloured by its verdict."""
    values = [v for v in trend.medians if v and v > 0]
    if not values:
        return ""
    lo, hi = math.log(min(values)), math.log(max(values))
    span = hi - lo or 1.0
    step = (width - 6) / max(len(values) - 1, 1)
    points = [
        (3 + i * step, 3 + (height - 6) * (1 - (math.log(v) - lo) / span)) for i, v in enumerate(values)
    ]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    x, y = points[-1]
    tip = (
        f"{len(values)} runs: min {_value(metric, min(values))}, max {_value(metric, max(values))}, "
        f"newest {_value(metric, values[-1])}"
    )
    return (
        f'<svg class="spark v-{e(trend.verdict)}" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{e(tip)}"><title>{e(tip)}</title>'
        f'<polyline points="{line}" fill="none" stroke-width="1.5"/><circle cx="{x:.1f}" cy="{y:.1f}" r="2.6"/></svg>'
    )


def _trend_cell(trend: ToolTrend | None) -> str:
    if trend is None:
        return td('<span class="muted">–</span>', "")
    word = trend.verdict
    if trend.ratio is not None and word in ("regression", "improvement"):
        word += f" ×{trend.ratio:.2f}"
    tip = {
        "regression": "the newest median is above its history's 99% prediction interval and beyond δ",
        "improvement": "the newest median is below its history's 99% prediction interval and beyond δ",
        "steady": "the newest median is within its history's prediction interval (or within δ)",
        "new": "fewer than 3 earlier runs: no verdict yet",
    }[trend.verdict]
    return td(
        f'<div class="trend">{sparkline(trend)}<span class="num">{e(fmt_ns(trend.latest))}</span>'
        f"{badge(word, VERDICT_BADGE[trend.verdict], tip)}</div>",
        trend.latest,
    )


def _comparison_badges(comparisons: list[dict[str, Any]]) -> str:
    out = []
    for c in comparisons:
        if c["verdict"] in ("faster", "slower") and c["ratio"]:
            factor = c["ratio"] if c["verdict"] == "slower" else 1 / c["ratio"]
            out.append(badge(f"{c['tool_b']} {c['verdict']} ×{factor:.2f} vs {c['tool_a']}", c["verdict"]))
        elif c["verdict"] == "equivalent":
            out.append(badge(f"{c['tool_b']} ≈ {c['tool_a']}", "equivalent"))
    return " ".join(out) or '<span class="muted">no clear difference</span>'


def overview_page(ov: SuiteOverview) -> str:
    latest = ov.latest_run or {}
    counts: dict[str, int] = {}
    for row in ov.rows:
        for t in row.tools.values():
            counts[t.verdict] = counts.get(t.verdict, 0) + 1
    summary = (
        f'<p class="meta">{ov.runs} finished runs · newest '
        f'<a href="{e(run_url(ov.suite, latest.get("run_id", "")))}"><code>{e(latest.get("run_id"))}</code></a> '
        f"({e(_when(latest.get('started_at')))}, {e(latest.get('status'))}"
        + (f", tag <code>{e(latest['git_tag'])}</code>" if latest.get("git_tag") else "")
        + f") · host {e(ov.host or '–')} · "
        + " ".join(badge(f"{n} {v}", VERDICT_BADGE[v]) for v, n in sorted(counts.items()))
        + f' · <a href="{e(compare_url(ov.suite))}">compare two runs or revisions</a></p>'
    )
    headers = [("operation", ""), ("fixture", "")] + [(t, "") for t in ov.tools] + [("newest run: tools", "")]
    rows = [
        "<tr>"
        + td(f'<a href="{e(operation_url(ov.suite, r.operation))}">{e(r.operation)}</a>', r.operation)
        + td(e(r.fixture))
        + "".join(_trend_cell(r.tools.get(t)) for t in ov.tools)
        + td(_comparison_badges(r.comparisons))
        + "</tr>"
        for r in ov.rows
    ]
    body = summary + table(
        "overview-table",
        headers,
        rows,
        caption="Per tool: the wall-time medians of the last runs on the newest run's host (sparkline, log "
        "scale), the newest median and its verdict against the cell's history (the same-run gate: 99% "
        "prediction interval of the last runs, beyond δ). Last column: the tool comparisons of the newest "
        "run. Click an operation for its history.",
    )
    return page(ov.suite, body, crumbs=[("suites", f"{ROOT}/"), (ov.suite, None)])


# ------------------------------------------------------------------------------------------ operation
def operation_page(data: dict[str, Any], operations: list[str]) -> str:
    suite, operation, metric = data["suite"], data["operation"], data["metric"]
    hosts = [(ALL_HOSTS, "all hosts")] + [
        (h["id"], f"{h['label']} ({h['runs']} runs)") for h in data["hosts"]
    ]
    host_options = "".join(
        f'<option value="{e(v)}"{" selected" if v == data["default_host"] else ""}>{e(text)}</option>'
        for v, text in hosts
    )
    sizes = "".join(
        f'<label class="check"><input type="checkbox" class="size-filter" value="{e(f["name"])}" checked> '
        + e(f["name"])
        + (f" ({f['commits']:,} commits)" if f["commits"] else "")
        + "</label>"
        for f in data["fixtures"]
    )
    metrics = "".join(
        f'<option value="{e(m)}"{" selected" if m == metric else ""}>{e(word)}</option>'
        for m, word in METRICS.items()
    )
    others = "".join(
        f'<option value="{e(operation_url(suite, op))}"{" selected" if op == operation else ""}>{e(op)}</option>'
        for op in operations
    )
    body = (
        '<div class="controls">'
        f'<label>host <select id="host-filter">{host_options}</select></label>'
        f'<span class="sizes">fixture sizes {sizes}</span>'
        f'<form method="get" class="inline"><label>metric <select name="metric" data-autosubmit>{metrics}</select></label>'
        "<noscript><button>show</button></noscript></form>"
        f'<label>operation <select id="operation-jump">{others}</select></label>'
        "</div>"
        '<div class="chart tall" id="op-chart"></div><p class="note chart-note" id="op-chart-note"></p>'
        '<p class="note">Run medians per tool and fixture over time; the band is each median\'s 95% confidence '
        "interval. Stars and dashed lines: change points (E-divisive confirmed by PELT, persisting ≥ 2 runs, "
        f"beyond δ = {data['delta']:.0%}), found in the series shown (one host, or all hosts mixed). Dotted "
        "lines: release tags. Filter by host and fixture size; the URL keeps the filters.</p>"
        '<h2>Change points shown</h2><ul id="op-changes" class="plain-list"></ul>'
        '<h2>Release tags</h2><ul class="plain-list">'
        + (
            "".join(
                f'<li><code>{e(t["tag"])}</code> — <a href="{e(run_url(suite, t["run_id"]))}">{e(t["run_id"])}</a> '
                f"({e(_when(t['started_at']))})</li>"
                for t in data["tags"]
            )
            or "<li>none</li>"
        )
        + "</ul>"
    )
    return page(
        operation,
        body,
        crumbs=[("suites", f"{ROOT}/"), (suite, suite_url(suite)), (operation, None)],
        data={"page": "operation", **data},
        charts=True,
    )


# ------------------------------------------------------------------------------------------ run
def _run_options(runs: list[dict[str, Any]], selected: str | None, skip: str | None = None) -> str:
    opts = []
    for r in runs[:MAX_RUN_OPTIONS]:
        if r["run_id"] == skip:
            continue
        label = f"{r['run_id']} · {_when(r['started_at'])}" + (
            f" · tag {r['git_tag']}" if r.get("git_tag") else ""
        )
        label += f" · {host_label(r)}"
        mark = " selected" if r["run_id"] == selected else ""
        opts.append(f'<option value="{e(r["run_id"])}"{mark}>{e(label)}</option>')
    revs = "".join(
        f'<option value="{e(ref)}"{" selected" if ref == selected else ""}>{e(text)}</option>'
        for ref, text in revisions(runs)
    )
    return f'<optgroup label="runs">{"".join(opts)}</optgroup>' + (
        f'<optgroup label="revisions">{revs}</optgroup>' if revs else ""
    )


def run_page(detail: RunDetail) -> str:
    run, suite = detail.run, detail.run["suite"]
    run_id = run["run_id"]
    host = run.get("host") or {}
    facts = [
        ("status", badge(run["status"], "pass" if run["status"] == "succeeded" else "failed")),
        ("started", e(_when(run["started_at"]))),
        ("trigger", e(run["trigger"])),
        ("backend", e(run.get("backend") or "–")),
        ("tag", f"<code>{e(run['git_tag'])}</code>" if run.get("git_tag") else "–"),
        ("commit", f"<code>{e(run['git_commit'][:12])}</code>" if run.get("git_commit") else "–"),
        ("host", e(host_label({"hostname": host.get("hostname"), "host": host.get("fingerprint")}))),
        (
            "tools",
            e(
                ", ".join(f"{t} ({v})" for t, v in (run.get("tool_versions") or {}).items())
                or ", ".join(run.get("tools") or [])
            ),
        ),
        ("quick", "yes" if run.get("quick") else "no"),
    ]
    links = [
        f'<a href="{e(report_url(suite, run_id, f))}">report.{e(f)}</a>'
        for f, exists in detail.reports.items()
        if exists
    ]
    reports = (
        "Archived reports: " + " · ".join(links)
        if links
        else f"No archived report: render it with <code>bench-pipeline report --suite {e(suite)} --run {e(run_id)}</code>."
    )
    newer_first = [r for r in detail.runs if r["run_id"] != run_id]
    baseline = next((r["run_id"] for r in newer_first if str(r["started_at"]) < str(run["started_at"])), None)
    form = (
        f'<form method="get" action="{e(compare_url(suite))}" class="controls" id="compare-form">'
        f'<input type="hidden" name="candidate" value="{e(run_id)}">'
        f'<label>compare this run with <select name="baseline">{_run_options(detail.runs, baseline, skip=run_id)}</select></label>'
        "<button>compare</button></form>"
    )
    cells = table(
        "cells-table",
        [("operation", ""), ("fixture", ""), ("tool", ""), ("status", ""), ("median (wall)", "num"), ("95% CI", "num"),
         ("CV", "num"), ("ok / failed", "num")],
        [
            "<tr>"
            + td(f'<a href="{e(operation_url(suite, c["operation"]))}">{e(c["operation"])}</a>', c["operation"])
            + td(e(c["fixture"]))
            + td(e(c["tool"]))
            + td(badge(c["status"], "pass" if c["status"] == "measured" else c["status"], c.get("reason") or ""), c["status"])
            + td(e(fmt_ns(c["median"])), c["median"], "num")
            + td(f"{e(fmt_ns(c['ci_low']))}–{e(fmt_ns(c['ci_high']))}" if c["ci_low"] is not None else "–", None, "num")
            + td(f"{c['cv']:.1%}" if c["cv"] is not None else "–", c["cv"], "num")
            + td(f"{c['n_ok'] or 0} / {c['n_failed'] or 0}", c["n_ok"], "num")
            + "</tr>"
            for c in detail.cells
        ],
    )  # fmt: skip
    body = (
        '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"
        f'<p id="reports">{reports}</p>{form}<h2>Cells</h2>{cells}'
        + html_findings.findings(detail.findings, lambda rid: run_url(suite, rid))
    )
    return page(
        f"run {run_id}", body, crumbs=[("suites", f"{ROOT}/"), (suite, suite_url(suite)), (run_id, None)]
    )


# ------------------------------------------------------------------------------------------ compare
def compare_page(
    suite: str,
    runs: list[dict[str, Any]],
    result: Comparison | None,
    *,
    baseline: str | None,
    candidate: str | None,
    metric: str,
    error: str | None = None,
) -> str:
    metrics = "".join(
        f'<option value="{e(m)}"{" selected" if m == metric else ""}>{e(w)}</option>'
        for m, w in METRICS.items()
    )
    form = (
        f'<form method="get" action="{e(compare_url(suite))}" class="controls" id="compare-form">'
        f'<label>baseline <select name="baseline">{_run_options(runs, baseline)}</select></label>'
        f'<label>candidate <select name="candidate">{_run_options(runs, candidate)}</select></label>'
        f'<label>metric <select name="metric">{metrics}</select></label><button>compare</button></form>'
        '<p class="note">Pick two runs, or two revisions (a tag, or a commit: its newest run). Ratio = candidate / '
        "baseline with its 95% BCa bootstrap CI; Brunner–Munzel p adjusted by Benjamini–Hochberg over these "
        "cells; regression / improvement when significant and the whole CI is beyond δ.</p>"
    )
    body = form
    data = None
    if error:
        body += f'<p class="note error" id="compare-error">{e(error)}</p>'
    if result is not None:
        counts: dict[str, int] = {}
        for r in result.rows:
            counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
        ordered = sorted(result.rows, key=worst_first)
        head = (
            f'<h2>Run <a href="{e(run_url(suite, result.candidate))}">{e(result.candidate)}</a> vs baseline '
            f'<a href="{e(run_url(suite, result.baseline))}">{e(result.baseline)}</a></h2>'
            + "".join(f'<p class="note">note: {e(n)}</p>' for n in result.notes)
            + '<p class="meta">'
            + " ".join(badge(f"{n} {v}", v) for v, n in sorted(counts.items()))
            + "</p>"
        )
        rows = [
            "<tr>"
            + td(f'<a href="{e(operation_url(suite, r["operation"], metric=metric))}">{e(r["operation"])}</a>', r["operation"])
            + td(e(r["fixture"]))
            + td(e(r.get("tool")))
            + td(e(_value(metric, r.get("baseline_median"))), r.get("baseline_median"), "num")
            + td(e(_value(metric, r.get("candidate_median"))), r.get("candidate_median"), "num")
            + td(fmt_ratio(r.get("ratio")), r.get("ratio"), "num")
            + td(f"{fmt_ratio(r.get('ci_low'))}–{fmt_ratio(r.get('ci_high'))}" if r.get("ci_low") else "–", r.get("ci_low"), "num")
            + td(fmt_p(r.get("p_adjusted")), r.get("p_adjusted"), "num")
            + td(badge(r["verdict"], r["verdict"]), r["verdict"])
            + "</tr>"
            for r in ordered
        ]  # fmt: skip
        body += (
            head
            + '<div class="chart" id="compare-chart"></div><p class="note chart-note" id="compare-chart-note"></p>'
            + table(
                "compare-table",
                [
                    ("operation", ""),
                    ("fixture", ""),
                    ("tool", ""),
                    ("baseline", "num"),
                    ("candidate", "num"),
                    ("ratio", "num"),
                    ("95% CI", "num"),
                    ("p_adj", "num"),
                    ("verdict", ""),
                ],
                rows,
                caption="Regressions first (largest ratio first), then improvements, inconclusive, equivalent.",
            )  # fmt: skip
        )
        data = {"page": "compare", "metric": metric, "rows": ordered}
    return page(
        "compare",
        body,
        crumbs=[("suites", f"{ROOT}/"), (suite, suite_url(suite)), ("compare", None)],
        data=data,
        charts=result is not None,
    )
