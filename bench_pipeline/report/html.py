"""HTML exporter: one self-contained file with interactive charts and sortable, filterable tables.

Everything is inline: plotly.js from the installed ``plotly`` package, the CSS, the script and the data;
a Content-Security-Policy forbids every network load, so the file works offline and from a mail
attachment. Tables are rendered here with every string escaped (they read without script); charts are
drawn in the browser from the report's own JSON, embedded as an inert ``application/json`` block, so
every plotted number is also in the JSON report.
"""

from __future__ import annotations

import json
import re
from functools import cache
from html import escape
from typing import Any

from bench_pipeline.report.markdown import fmt_bytes, fmt_ns
from bench_pipeline.report.model import Comparison, Report, ToolCell

METRICS = {"wall": "wall time", "cpu": "CPU time (user + sys)", "rss": "peak memory (RSS)"}
STATUS_WORDS = {"na": "n/a", "unavailable": "unavailable", "failed": "failed", "invalid": "invalid"}
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'"
)


@cache
def plotly_js() -> str:
    """The minified plotly.js bundled with the ``plotly`` Python package (no CDN)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def e(value: Any) -> str:
    """Escape any value for HTML text and attribute values."""
    return escape("" if value is None else str(value), quote=True)


def fmt(metric: str, value: float | None) -> str:
    if metric not in METRICS:  # an extra metric (tokens, cost, a score): its own unit, as stored
        return "–" if value is None else f"{value:.4g}"
    return fmt_bytes(value) if metric == "rss" else fmt_ns(value)


def _table_metrics(report: Report) -> dict[str, str]:
    """wall, cpu, rss, then the extra metrics any cell of the run has (docs/ingest.md)."""
    extras = {m for row in report.operations for c in row.tools.values() for m in c.metrics} - set(METRICS)
    return {**METRICS, **{m: m for m in sorted(extras)}}


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _p(value: float | None) -> str:
    return "–" if value is None else f"{value:.2g}"


def badge(word: str, kind: str, title: str = "") -> str:
    tip = f' title="{e(title)}"' if title else ""
    return f'<span class="badge b-{e(kind)}"{tip}>{e(word)}</span>'


def td(content: str, value: float | str | None = None, cls: str = "", title: str = "") -> str:
    """A cell with already-escaped ``content``; ``value`` is what sorting uses (empty: sorts last)."""
    attrs = ""
    if value is not None:
        attrs += f' data-v="{e(value)}"'
    elif content in ("–", ""):
        attrs += ' data-v=""'
    if cls:
        attrs += f' class="{e(cls)}"'
    if title:
        attrs += f' title="{e(title)}"'
    return f"<td{attrs}>{content}</td>"


def table(
    table_id: str, headers: list[tuple[str, str]], rows: list[str], *, caption: str = "", extra: str = ""
) -> str:
    """A sortable table (click a header) with a filter box; ``headers`` are (label, css class)."""
    head = "".join(
        f'<th class="{e(cls)}" tabindex="0" title="click to sort">{e(label)}</th>' for label, cls in headers
    )
    note = f'<p class="note">{caption}</p>' if caption else ""
    return (
        f'{note}<div class="controls"><input type="search" class="filter" data-table="{e(table_id)}" '
        f'placeholder="filter rows (all words must match)" aria-label="filter {e(table_id)}">'
        f'<span class="count" data-count-for="{e(table_id)}">{len(rows)} row{"" if len(rows) == 1 else "s"}</span>{extra}</div>'
        f'<div class="table-wrap"><table id="{e(table_id)}" class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _code(text: str) -> str:
    """Escape a sentence and show its `backticked` parts as code."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", e(text))


def _data_block(report: Report) -> str:
    """The report JSON for the charts, inert and unable to close its script element."""
    text = report.model_dump_json()
    for raw, safe in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, safe)
    return f'<script type="application/json" id="report-data">{text}</script>'


# ------------------------------------------------------------------------------------------ sections
def _header(report: Report) -> str:
    r = report.run
    bits = [
        f"status {badge(r.status, 'pass' if r.status == 'succeeded' else 'failed')}",
        f"started {e(r.started_at[:19])} UTC",
        f"trigger {e(r.trigger)}",
        f"backend {e(r.backend or '?')}",
    ]
    if r.git_tag:
        bits.append(f"tag <code>{e(r.git_tag)}</code>")
    if r.git_commit:
        bits.append(f"commit <code>{e(r.git_commit[:12])}</code>")
    if r.quick:
        bits.append(badge("quick mode", "unavailable", "few runs per cell: wide confidence intervals"))
    if r.seconds is not None:
        bits.append(f"took {r.seconds:.0f} s")
    tools = []
    for t in r.tools:
        version = r.tool_versions.get(t)
        tools.append(
            f"<b>{e(t)}</b> ({e(version)})"
            if version
            else f"<b>{e(t)}</b> {badge('unavailable', 'unavailable')}"
        )
    counts = " ".join(
        badge(f"{n} {STATUS_WORDS.get(k, k)}", {"measured": "pass"}.get(k, k))
        for k, n in sorted(report.cell_counts.items())
    )
    return (
        f"<header><h1>{e(report.suite)} <small>run <code>{e(r.run_id)}</code></small></h1>"
        f'<p class="meta">{" · ".join(bits)}</p>'
        f'<p class="meta">Tools: {", ".join(tools) or "none"}. Fixtures: {e(", ".join(r.sizes))}. '
        f"Samples: {report.samples}. Cells: {counts}</p></header>"
    )


def _nav(sections: list[tuple[str, str]]) -> str:
    links = "".join(f'<a href="#{e(anchor)}">{e(title)}</a>' for anchor, title in sections)
    return f"<nav>{links}</nav>"


def _summary(report: Report) -> str:
    out = ['<section id="summary"><h2>Summary</h2>']
    wall_pairs = [p for p in report.pairs if p.metric == "wall" and p.geomean_ratio is not None]
    if wall_pairs:
        items = []
        for p in wall_pairs:
            ci = f" (95% CI {p.ci_low:.2f}–{p.ci_high:.2f})" if p.ci_low and p.ci_high else ""
            if p.ci_high is not None and p.ci_high < 1:
                word = badge(f"{p.tool_b} faster", "faster")
            elif p.ci_low is not None and p.ci_low > 1:
                word = badge(f"{p.tool_b} slower", "slower")
            else:
                word = badge("no clear difference", "inconclusive")
            counts = ", ".join(f"{n} {e(v)}" for v, n in sorted(p.verdicts.items()))
            items.append(
                f"<li>{word} <b>{e(p.tool_b)} vs {e(p.tool_a)}</b>: geometric mean of time ratios "
                f"<b>{p.geomean_ratio:.2f}</b>{ci} over {p.cells} cells; {counts}.</li>"
            )
        out.append(f'<ul class="verdicts">{"".join(items)}</ul>')
    if report.findings:
        shown, rest = report.findings[:10], report.findings[10:]
        out.append(
            f"<p>Significant differences (Benjamini–Hochberg across all {len(report.comparisons)} "
            f"comparisons, margin δ = {report.delta:.0%}), largest first:</p>"
            f'<ol class="findings">{"".join(f"<li>{_code(f)}</li>" for f in shown)}</ol>'
        )
        if rest:
            out.append(
                f'<details><summary>{len(rest)} more</summary><ol start="{len(shown) + 1}" class="findings">'
                + "".join(f"<li>{_code(f)}</li>" for f in rest)
                + "</ol></details>"
            )
    elif report.comparisons:
        out.append(
            f"<p>No difference between tools is significant beyond the practical margin "
            f"δ = {report.delta:.0%} in this run.</p>"
        )
    else:
        out.append("<p>No comparisons between tools in this run.</p>")
    if report.pairs:
        rows = [
            "<tr>"
            + td(f"{e(p.tool_b)} vs {e(p.tool_a)}")
            + td(e(p.metric))
            + td(_ratio(p.geomean_ratio), p.geomean_ratio, "num")
            + td(
                f"{_ratio(p.ci_low)}–{_ratio(p.ci_high)}" if p.ci_low and p.ci_high else "–", p.ci_low, "num"
            )
            + td(str(p.cells), p.cells, "num")
            + td(e(", ".join(f"{n} {v}" for v, n in sorted(p.verdicts.items()))))
            + "</tr>"
            for p in sorted(
                report.pairs, key=lambda p: list(METRICS).index(p.metric) if p.metric in METRICS else 9
            )
        ]
        out.append(
            table(
                "pairs-table",
                [
                    ("B vs A", ""),
                    ("metric", ""),
                    ("geomean ratio B/A", "num"),
                    ("95% CI", "num"),
                    ("cells", "num"),
                    ("verdicts", ""),
                ],
                rows,
                caption="Geometric mean of the ratios B/A over each pair's valid cells, per metric "
                "(below 1: B is faster or lighter).",
            )
        )
    if report.warnings:
        out.append(
            '<div class="warnings"><h3>Warnings</h3><ul>'
            + "".join(f"<li>{e(w)}</li>" for w in report.warnings)
            + "</ul></div>"
        )
    out.append("</section>")
    return "".join(out)


def _chart_section(anchor: str, title: str, intro: str, controls: str, chart_id: str, after: str = "") -> str:
    return (
        f'<section id="{anchor}"><h2>{title}</h2><p class="note">{intro}</p>'
        f'<div class="controls">{controls}</div><div class="chart" id="{chart_id}"></div>'
        f'<p class="note chart-note" id="{chart_id}-note"></p>{after}</section>'
    )


def _select(select_id: str, options: list[tuple[str, str]], label: str) -> str:
    opts = "".join(f'<option value="{e(v)}">{e(text)}</option>' for v, text in options)
    return f'<label>{e(label)} <select id="{e(select_id)}">{opts}</select></label>'


def _filter(input_id: str) -> str:
    return (
        f'<input type="search" id="{e(input_id)}" placeholder="filter operations" '
        f'aria-label="filter operations in the chart">'
    )


def _metric_select(select_id: str) -> str:
    return _select(select_id, [(k, v) for k, v in METRICS.items()], "metric")


def _distributions(report: Report) -> str:
    present = {r.fixture for r in report.operations}
    ordered = [f for f in report.fixtures if f in present] + sorted(present - set(report.fixtures))
    fixtures = [(f, f) for f in ordered]  # smallest first
    return _chart_section(
        "distributions",
        "Distributions by tool",
        "Per operation and tool: box from the 25th to the 75th percentile with the median, whiskers from "
        "the 5th to the 95th percentile, ticks at the minimum and maximum (log scale). Cells without a "
        "measurement are listed under the chart.",
        _metric_select("dist-metric") + _select("dist-fixture", fixtures, "fixture") + _filter("dist-filter"),
        "dist-chart",
    )


def _comparisons(report: Report) -> str:
    wall = [c for c in report.comparisons if c.metric == "wall"]
    pairs = list(dict.fromkeys((c.tool_a, c.tool_b) for c in wall))
    options = [("all", "all pairs")] + [(f"{a}|{b}", f"{b} vs {a}") for a, b in pairs]
    rows = [_comparison_row(c) for c in report.comparisons]
    forest = ""
    if wall:
        forest = (
            f'<p class="note">Forest plot: ratio of medians B/A of wall time with its 95% BCa bootstrap '
            f"interval, one row per operation × fixture × pair, log scale; the shaded band is the practical "
            f"margin δ = {report.delta:.0%}. Filled circles: faster (green) or slower (red) with p_adj &lt; α "
            f"and the whole interval beyond the margin; diamonds: equivalent; open circles: inconclusive; "
            f"crosses: invalid (the tools' resulting states differ, no verdict).</p>"
            f'<div class="controls">{_select("forest-pair", options, "pair")}{_filter("forest-filter")}</div>'
            f'<div class="chart" id="forest-chart"></div><p class="note chart-note" id="forest-chart-note"></p>'
        )
    body = (
        table(
            "comparisons-table",
            [
                ("operation", ""),
                ("fixture", ""),
                ("metric", ""),
                ("B vs A", ""),
                ("median A", "num"),
                ("median B", "num"),
                ("ratio B/A", "num"),
                ("95% CI", "num"),
                ("p", "num"),
                ("p_adj", "num"),
                ("n A/B", "num"),
                ("verdict", ""),
            ],
            rows,
            caption="Every comparison of the run (all metrics). Brunner–Munzel p, adjusted by "
            "Benjamini–Hochberg across all comparisons of the run.",
        )
        if rows
        else "<p>No comparisons between tools in this run.</p>"
    )
    return f'<section id="comparisons"><h2>Comparisons</h2>{forest}{body}</section>'


def _comparison_row(c: Comparison) -> str:
    ci = f"{_ratio(c.ci_low)}–{_ratio(c.ci_high)}" if c.ci_low is not None and c.ci_high is not None else "–"
    return (
        "<tr>"
        + td(e(c.operation))
        + td(e(c.fixture))
        + td(e(c.metric))
        + td(f"{e(c.tool_b)} vs {e(c.tool_a)}")
        + td(fmt(c.metric, c.median_a), c.median_a, "num")
        + td(fmt(c.metric, c.median_b), c.median_b, "num")
        + td(_ratio(c.ratio), c.ratio, "num")
        + td(ci, c.ci_low, "num")
        + td(_p(c.p_value), c.p_value, "num")
        + td(_p(c.p_adjusted), c.p_adjusted, "num")
        + td(f"{c.n_a}/{c.n_b}", c.n_a + c.n_b, "num")
        + td(badge(c.verdict, c.verdict), c.verdict)
        + "</tr>"
    )


def _tool_cell(c: ToolCell | None, metric: str) -> str:
    """One tool's cell of the operations table for one metric: value with CI, or an explicit marker."""
    cls = f"num m-{e(metric)}"
    if c is None:
        return td(badge("not planned", "na"), "", cls)
    if c.status in ("na", "unavailable"):
        return td(badge(STATUS_WORDS[c.status], c.status, c.reason), "", cls)
    m = c.metrics.get(metric)
    if c.status == "failed" or m is None or m.median is None:
        word = f"failed ({c.n_failed}×)" if c.n_failed else "failed"
        return td(badge(word, "failed", c.reason), "", cls)
    text = fmt(metric, m.median)
    if m.ci_low is not None and m.ci_high is not None:
        text += f'<span class="ci">{fmt(metric, m.ci_low)}–{fmt(metric, m.ci_high)}</span>'
    if c.valid is False:
        detail = f"{c.equivalence or 'state differs'}, similarity {c.similarity or 0:.2f}"
        text = badge("invalid", "invalid", detail) + f' <span class="muted">{text}</span>'
    if c.n_failed:
        text += " " + badge(f"{c.n_failed} failed", "failed", c.reason)
    for x in c.targets:
        if x.metric == metric and x.passed is not None:
            text += " " + badge(
                "target pass" if x.passed else "target FAIL", "pass" if x.passed else "fail", x.target
            )
    return td(text, m.median, cls)


def _operations(report: Report) -> str:
    tools = report.run.tools
    metrics = _table_metrics(report)
    headers: list[tuple[str, str]] = [("operation", ""), ("category", ""), ("fixture", "")]
    for metric in metrics:
        headers += [(t, f"num m-{e(metric)}") for t in tools]
    rows = []
    for row in report.operations:
        cells = [td(e(row.operation)), td(e(row.category) or "–"), td(e(row.fixture))]
        for metric in metrics:
            cells += [_tool_cell(row.tools.get(t), metric) for t in tools]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    toggle = _select("ops-metric", list(metrics.items()), "show")
    return (
        '<section id="operations"><h2>Operations</h2>'
        + table(
            "ops-table",
            headers,
            rows,
            caption="Median per tool with the distribution-free 95% confidence interval of the median "
            "(n ≥ 6). Markers: <b>n/a</b> the operation has no meaning for the tool; <b>unavailable</b> the "
            "tool is not installed or its setup failed; <b>failed</b> no successful run; <b>invalid</b> the "
            "resulting state differs from the reference tool's. Hover a marker for the reason.",
            extra=toggle,
        )
        + "</section>"
    )


def _targets(report: Report) -> str:
    rows = []
    for row in report.operations:
        for tool, c in row.tools.items():
            for x in c.targets:
                result = (
                    badge("no value", "na")
                    if x.passed is None
                    else badge("pass", "pass")
                    if x.passed
                    else badge("FAIL", "fail")
                )
                rows.append(
                    "<tr>"
                    + td(e(row.operation))
                    + td(e(row.fixture))
                    + td(e(tool))
                    + td(e(x.target))
                    + td(fmt(x.metric, x.value), x.value, "num")
                    + td(fmt(x.metric, x.limit), x.limit, "num")
                    + td(result, "" if x.passed is None else int(bool(x.passed)))
                    + "</tr>"
                )
    if not rows:
        return ""
    return (
        '<section id="targets"><h2>Targets</h2>'
        + table(
            "targets-table",
            [
                ("operation", ""),
                ("fixture", ""),
                ("tool", ""),
                ("target", ""),
                ("value", "num"),
                ("limit", "num"),
                ("result", ""),
            ],
            rows,
        )
        + "</section>"
    )


def _unmeasured(report: Report) -> str:
    """Cells that are not (fully) measured, with the reason: nothing is silently missing."""
    rows = []
    for row in report.operations:
        for tool, c in row.tools.items():
            kind = "invalid" if c.valid is False else c.status
            if kind == "measured" and not c.n_failed:
                continue
            word = STATUS_WORDS.get(kind, "partly failed" if c.n_failed else kind)
            reason = c.reason or (c.equivalence or "")
            rows.append(
                "<tr>"
                + td(e(row.operation))
                + td(e(row.fixture))
                + td(e(tool))
                + td(badge(word, kind if kind != "measured" else "failed"), word)
                + td(str(c.n_ok), c.n_ok, "num")
                + td(str(c.n_failed), c.n_failed, "num")
                + td(e(c.stop) or "–")
                + td(f'<div class="reason">{e(reason)}</div>' if reason else "–")
                + "</tr>"
            )
    if not rows:
        return ""
    return (
        '<section id="unmeasured"><h2>Cells without a full measurement</h2>'
        + table(
            "unmeasured-table",
            [
                ("operation", ""),
                ("fixture", ""),
                ("tool", ""),
                ("status", ""),
                ("ok runs", "num"),
                ("failed runs", "num"),
                ("stop", ""),
                ("reason", ""),
            ],
            rows,
        )
        + "</section>"
    )


def _history(report: Report) -> str:
    if not report.history:
        return ""
    keys = list(dict.fromkeys((s.operation, s.fixture, s.metric) for s in report.history))
    with_change = [
        k
        for k in keys
        if any(s.change_points for s in report.history if (s.operation, s.fixture, s.metric) == k)
    ]
    keys = with_change + [k for k in keys if k not in with_change]
    options = [
        (json.dumps(list(k)), f"{k[0]} · {k[1]} · {k[2]}" + (" (change)" if k in with_change else ""))
        for k in keys
    ]
    rows = [
        "<tr>"
        + td(e(s.operation))
        + td(e(s.fixture))
        + td(e(s.tool))
        + td(e(s.metric))
        + td(f"<code>{e(cp.run_id)}</code>", cp.started_at)
        + td(e(cp.started_at[:19]))
        + td(fmt(s.metric, cp.before_median), cp.before_median, "num")
        + td(fmt(s.metric, cp.after_median), cp.after_median, "num")
        + td(_ratio(cp.ratio), cp.ratio, "num")
        + "</tr>"
        for s in report.history
        for cp in s.change_points
    ]
    after = (
        table(
            "changes-table",
            [
                ("operation", ""),
                ("fixture", ""),
                ("tool", ""),
                ("metric", ""),
                ("first run at new level", ""),
                ("started", ""),
                ("before", "num"),
                ("after", "num"),
                ("ratio", "num"),
            ],
            rows,
        )
        if rows
        else f"<p>No change point in the history of {len(report.history)} cells.</p>"
    )
    return _chart_section(
        "history",
        "History",
        "Median of each run (95% CI as error bars) per tool; stars and dashed lines mark change points "
        "(the first run at a new level that persists).",
        _select("history-series", options, "cell"),
        "history-chart",
        after,
    )


def _scaling_keys(report: Report) -> list[tuple[str, str, str | None]]:
    """(operation, basis, fixture) of every curve: operations measured on at least two fixtures of known
    size (basis commits), and every scaling fit (parameter fits name their fixture)."""
    sized = {name for name, f in report.fixtures.items() if f.commits}
    per_op: dict[str, set[str]] = {}
    for row in report.operations:
        if row.fixture in sized and any(c.status == "measured" for c in row.tools.values()):
            per_op.setdefault(row.operation, set()).add(row.fixture)
    keys: list[tuple[str, str, str | None]] = [
        (op, "commits", None) for op, fx in per_op.items() if len(fx) >= 2
    ]
    keys += [(f.operation, f.basis, f.fixture) for f in report.scaling]
    return list(dict.fromkeys(keys))


def _scaling(report: Report) -> str:
    keys = _scaling_keys(report)
    if not keys:
        return ""
    options = [
        (
            json.dumps(list(k)),
            k[0] if k[1:] == ("commits", None) else f"{k[0]} · by {k[1]}" + (f" on {k[2]}" if k[2] else ""),
        )
        for k in keys
    ]
    rows = [
        "<tr>"
        + td(e(f.tool))
        + td(e(f.operation))
        + td(e(f.fixture) if f.fixture else "all")
        + td(e(f.metric))
        + td(e(f.basis))
        + td(badge(f.growth, "growth") + (" clear" if f.clear else ""), f.growth)
        + td(_ratio(f.exponent), f.exponent, "num")
        + td(_ratio(f.r_squared), f.r_squared, "num")
        + td(e(", ".join(f"{p.label or p.fixture} (n={p.n:g}) {fmt(f.metric, p.median)}" for p in f.sizes)))
        + "</tr>"
        for f in report.scaling
    ]
    after = (
        table(
            "scaling-table",
            [
                ("tool", ""),
                ("operation", ""),
                ("fixture", ""),
                ("metric", ""),
                ("n counts", ""),
                ("growth", ""),
                ("log-log slope", "num"),
                ("R²", "num"),
                ("sizes", ""),
            ],
            rows,
            caption="Growth class chosen by AIC among constant, log, linear, n log n and quadratic "
            "(<i>clear</i>: better than the next class by at least 2); R² of the chosen curve on log(median).",
        )
        if rows
        else '<p class="note">Growth classes are not fitted in this report; the curves show the measured medians.</p>'
    )
    return _chart_section(
        "scaling",
        "Scaling",
        "Median per tool against size, log-log: a straight line of slope 1 is linear growth, a flat line "
        "constant cost. Points are measured medians; dashed lines are fitted growth curves, named in the legend.",
        _select("scaling-op", options, "operation") + _metric_select("scaling-metric"),
        "scaling-chart",
        after,
    )


def _not_measured(report: Report) -> str:
    items = (
        "".join(f"<li>{e(n)}</li>" for n in report.not_measured)
        or "<li>Nothing: every planned cell was measured.</li>"
    )
    return f'<section id="not-measured"><h2>Not measured</h2><ul>{items}</ul></section>'


def _kv_rows(values: dict[str, Any]) -> list[str]:
    rows = []
    for key, value in values.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        value_cell = td(f'<span class="reason">{e(text)}</span>', str(text))
        rows.append(f"<tr>{td(e(key))}{value_cell}</tr>")
    return rows


def _environment(report: Report) -> str:
    r = report.run
    tools = [
        f"<tr>{td(e(t))}{td(e(r.tool_versions[t]) if r.tool_versions.get(t) else badge('unavailable', 'unavailable'))}</tr>"
        for t in r.tools
    ]
    fixtures = [
        "<tr>"
        + td(e(f.name))
        + td(str(f.commits) if f.commits is not None else "–", f.commits, "num")
        + td(str(f.files) if f.files is not None else "–", f.files, "num")
        + td(fmt_bytes_small(f.file_size_median), f.file_size_median, "num")
        + "</tr>"
        for f in report.fixtures.values()
    ]
    head = '<table class="plain"><thead><tr><th>{}</th><th>{}</th>{}</tr></thead><tbody>{}</tbody></table>'
    return (
        '<section id="environment"><h2>Environment</h2><div class="env">'
        f"<div><h3>Host</h3>{head.format('key', 'value', '', ''.join(_kv_rows(r.host)))}</div>"
        f"<div><h3>Tools</h3>{head.format('tool', 'version', '', ''.join(tools))}"
        f"<h3>Fixtures</h3>{head.format('fixture', 'commits', '<th>files</th><th>median file size</th>', ''.join(fixtures))}"
        f"<h3>Settings</h3>{head.format('key', 'value', '', ''.join(_kv_rows(r.settings)))}</div></div>"
        f'<p class="note">Report generated {e(report.generated_at)} · schema version {e(report.schema_version)} · '
        f"the same data as JSON: <code>report.json</code> next to this file.</p></section>"
    )


def fmt_bytes_small(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value / 1024:.1f} KiB" if value >= 1024 else f"{value:.0f} B"


# ------------------------------------------------------------------------------------------ page
def render_html(report: Report) -> str:
    """The report as one self-contained HTML page (several MB: plotly.js is inline)."""
    sections = [("summary", "Summary", _summary(report))]
    if any(c.status == "measured" for row in report.operations for c in row.tools.values()):
        sections.append(("distributions", "Distributions", _distributions(report)))
    sections.append(("comparisons", "Comparisons", _comparisons(report)))
    sections.append(("operations", "Operations", _operations(report)))
    for anchor, title, body in (
        ("targets", "Targets", _targets(report)),
        ("unmeasured", "Failures & gaps", _unmeasured(report)),
        ("history", "History", _history(report)),
        ("scaling", "Scaling", _scaling(report)),
    ):
        if body:
            sections.append((anchor, title, body))
    sections.append(("not-measured", "Not measured", _not_measured(report)))
    sections.append(("environment", "Environment", _environment(report)))
    title = f"bench-pipeline · {report.suite} · {report.run.run_id}"
    return "".join(
        [
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
            _header(report),
            _nav([(a, t) for a, t, _ in sections]),
            '<main><noscript><p class="note">The charts need JavaScript; the tables read without it.</p></noscript>',
            *(body for _, _, body in sections),
            "</main>",
            _data_block(report),
            f"<script>{plotly_js()}</script>",
            f"<script>{SCRIPT}</script>",
            "</body></html>\n",
        ]
    )


CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--head:#f6f8fa;--accent:#0969da}
*{box-sizing:border-box}
body{margin:0;color:var(--fg);background:#fff;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header,main,nav{max-width:1320px;margin:0 auto;padding:0 16px}
header h1{font-size:22px;margin:14px 0 4px}header h1 small{font-size:14px;font-weight:400;color:var(--muted)}
.meta{margin:2px 0;color:var(--muted)}
nav{position:sticky;top:0;z-index:20;background:rgba(255,255,255,.96);border-bottom:1px solid var(--line);padding-top:6px;padding-bottom:6px}
nav a{margin-right:16px;color:var(--accent);text-decoration:none;white-space:nowrap}nav a:hover{text-decoration:underline}
section{margin:18px 0 26px;scroll-margin-top:44px}
h2{font-size:18px;margin:0 0 6px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:15px;margin:12px 0 4px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#eff2f5;padding:0 3px;border-radius:3px}
.note{color:var(--muted);font-size:13px;margin:4px 0}
.controls{display:flex;flex-wrap:wrap;gap:12px;align-items:center;margin:6px 0}
.controls input[type=search]{width:280px;padding:3px 6px;border:1px solid var(--line);border-radius:4px;font:inherit}
.controls select{font:inherit;padding:2px}.count{color:var(--muted);font-size:12px}
.table-wrap{max-height:70vh;overflow:auto;border:1px solid var(--line);border-radius:4px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:3px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
table.sortable thead th{position:sticky;top:0;background:var(--head);cursor:pointer;user-select:none;white-space:nowrap;z-index:1}
table.sortable thead th:hover{background:#eaeef2}
th[aria-sort=ascending]::after{content:" ▲";font-size:10px}th[aria-sort=descending]::after{content:" ▼";font-size:10px}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tbody tr:hover{background:#f6f8fa}
.ci{display:block;color:var(--muted);font-size:11px}.muted{color:var(--muted)}
.badge{display:inline-block;padding:0 7px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap;background:#eaeef2;color:#424a53}
.b-na{background:#eaeef2;color:#59636e}.b-unavailable{background:#fff1c2;color:#7a4a00}
.b-failed,.b-fail,.b-slower,.b-regression{background:#ffe2e0;color:#b3161f}
.b-invalid{background:#f3e6ff;color:#7030c0}.b-pass,.b-faster,.b-improvement{background:#d8f5de;color:#116329}
.b-equivalent{background:#ddeeff;color:#0a4da3}.b-inconclusive{background:#eaeef2;color:#59636e}
.b-growth{background:#eef1ff;color:#3d3ba8}
.reason{white-space:pre-wrap;word-break:break-word;font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;max-height:8em;overflow:auto;max-width:70ch}
.chart{width:100%;min-height:120px}
.verdicts li,.findings li{margin:2px 0}
.warnings{background:#fff8e1;border:1px solid #f0d78c;border-radius:4px;padding:4px 12px;margin-top:10px}
.env{display:grid;grid-template-columns:1fr 1fr;gap:24px}.env table.plain{margin-bottom:6px}
table.plain th{background:var(--head)}
#ops-table[data-metric=wall] .m-cpu,#ops-table[data-metric=wall] .m-rss,#ops-table[data-metric=cpu] .m-wall,
#ops-table[data-metric=cpu] .m-rss,#ops-table[data-metric=rss] .m-wall,#ops-table[data-metric=rss] .m-cpu{display:none}
@media (max-width:900px){.env{grid-template-columns:1fr}}
"""

SCRIPT = r"""
(function () {
  "use strict";
  var R = JSON.parse(document.getElementById("report-data").textContent);
  var TOOLS = R.run.tools;
  var COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
  var UNIT = {wall: [1e6, "ms"], cpu: [1e6, "ms"], rss: [1048576, "MiB"]};
  var WORDS = {wall: "wall time", cpu: "CPU time", rss: "peak memory"};
  var MAX_ROWS = 60;
  var CONFIG = {displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"]};

  // Plotly reads pseudo-HTML in labels: escape every string that comes from the data.
  function esc(s) { return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"); }
  function $(id) { return document.getElementById(id); }
  function color(tool) { var i = TOOLS.indexOf(tool); return COLORS[(i < 0 ? TOOLS.length : i) % COLORS.length]; }
  function fmt(metric, v) {
    if (v === null || v === undefined) return "–";
    if (metric === "rss") return (v / 1048576).toFixed(1) + " MiB";
    if (v >= 1e9) return (v / 1e9).toFixed(2) + " s";
    if (v >= 1e6) return (v / 1e6).toFixed(2) + " ms";
    return (v / 1e3).toFixed(0) + " µs";
  }
  function scaled(metric, v) { return v === null || v === undefined ? null : v / UNIT[metric][0]; }
  function terms(id) { var el = $(id); return el ? el.value.toLowerCase().split(/\s+/).filter(Boolean) : []; }
  function matches(text, ts) { text = text.toLowerCase(); return ts.every(function (t) { return text.indexOf(t) >= 0; }); }
  function note(id, text) { var el = $(id + "-note"); if (el) el.textContent = text; }
  function draw(id, traces, layout) {
    layout.margin = layout.margin || {l: 10, r: 20, t: 30, b: 50};
    layout.font = {size: 12};
    layout.legend = layout.legend || {orientation: "h", y: 1.02, yanchor: "bottom", x: 0};
    Plotly.react($(id), traces, layout, CONFIG);
  }
  // Log axes: ticks at 1-2-5 × 10^k (or every digit on a narrow range) with full labels, not plotly's
  // bare digits between decades.
  function logAxis(values, base) {
    var v = values.filter(function (x) { return x > 0 && isFinite(x); });
    if (!v.length) return base;
    var lo = Math.min.apply(null, v), hi = Math.max.apply(null, v), ticks = [];
    [[1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]].some(function (set) {
      ticks = [];
      for (var k = Math.floor(Math.log10(lo)) - 1; k <= Math.ceil(Math.log10(hi)) + 1; k++) {
        set.forEach(function (m) { var t = Number((m * Math.pow(10, k)).toPrecision(6)); if (t >= lo / 1.15 && t <= hi * 1.15) ticks.push(t); });
      }
      return ticks.length >= 3;
    });
    base.type = "log";
    if (ticks.length >= 2) { base.tickvals = ticks; base.ticktext = ticks.map(function (t) { return String(t); }); }
    return base;
  }
  function on(ids, fn) { ids.forEach(function (id) { var el = $(id); if (el) el.addEventListener(el.tagName === "INPUT" ? "input" : "change", fn); }); }

  // ---------------------------------------------------------------- distributions (box per tool)
  function drawDistributions() {
    if (!$("dist-chart")) return;
    var metric = $("dist-metric").value, fixture = $("dist-fixture").value, ts = terms("dist-filter");
    var rows = R.operations.filter(function (r) { return r.fixture === fixture && matches(r.operation, ts); });
    var shown = rows.slice(0, MAX_ROWS), labels = shown.map(function (r) { return esc(r.operation); });
    var traces = [], missing = [];
    TOOLS.forEach(function (tool) {
      var b = {y: [], q1: [], median: [], q3: [], lowerfence: [], upperfence: [], mean: [], text: []};
      var ext = {x: [], y: [], text: []};
      shown.forEach(function (r, i) {
        var c = r.tools[tool], m = c && c.metrics[metric];
        if (!c || !m || m.median === null || c.status !== "measured") {
          var why = !c ? "not planned" : c.status === "na" ? "n/a" : c.status;
          missing.push(tool + " / " + r.operation + ": " + why);
          return;
        }
        var med = m.median, q1 = m.q1 !== null ? m.q1 : med, q3 = m.q3 !== null ? m.q3 : med;
        var lo = m.p5 !== null ? m.p5 : (m.min !== null ? m.min : q1), hi = m.p95 !== null ? m.p95 : (m.max !== null ? m.max : q3);
        b.y.push(labels[i]); b.median.push(scaled(metric, med)); b.q1.push(scaled(metric, Math.min(q1, med)));
        b.q3.push(scaled(metric, Math.max(q3, med))); b.lowerfence.push(scaled(metric, Math.min(lo, q1, med)));
        b.upperfence.push(scaled(metric, Math.max(hi, q3, med))); b.mean.push(scaled(metric, m.mean !== null ? m.mean : med));
        var tip = esc(tool) + (c.valid === false ? " (INVALID)" : "") + "<br>" + labels[i] + " · n=" + m.n +
          "<br>min " + fmt(metric, m.min) + " · p5 " + fmt(metric, m.p5) + "<br>q1 " + fmt(metric, m.q1) +
          " · median " + fmt(metric, med) + " · q3 " + fmt(metric, m.q3) + "<br>p95 " + fmt(metric, m.p95) + " · max " + fmt(metric, m.max);
        b.text.push(tip);
        [m.min, m.max].forEach(function (v) { if (v !== null) { ext.x.push(scaled(metric, v)); ext.y.push(labels[i]); ext.text.push(tip); } });
      });
      traces.push({type: "box", orientation: "h", name: esc(tool), legendgroup: tool, offsetgroup: tool,
        y: b.y, q1: b.q1, median: b.median, q3: b.q3, lowerfence: b.lowerfence, upperfence: b.upperfence,
        mean: b.mean, boxmean: false, text: b.text, hoverinfo: "text", marker: {color: color(tool)}, line: {width: 1.5}});
      traces.push({type: "scatter", mode: "markers", orientation: "h", name: esc(tool) + " min/max", legendgroup: tool, offsetgroup: tool,
        showlegend: false, x: ext.x, y: ext.y, text: ext.text, hoverinfo: "text",
        marker: {symbol: "line-ns-open", size: 9, color: color(tool), line: {width: 2}}});
    });
    var height = Math.max(260, 90 + shown.length * (14 + 12 * TOOLS.length));
    draw("dist-chart", traces, {height: height, boxmode: "group", scattermode: "group", boxgroupgap: 0.25,
      xaxis: logAxis(traces.reduce(function (all, t) { return all.concat(t.x || [], t.lowerfence || [], t.upperfence || []); }, []),
        {title: {text: WORDS[metric] + " (" + UNIT[metric][1] + ", log scale)"}, gridcolor: "#e5e8eb"}),
      yaxis: {type: "category", categoryorder: "array", categoryarray: labels, autorange: "reversed", automargin: true}});
    var text = (rows.length > shown.length ? "Showing " + shown.length + " of " + rows.length + " operations: type in the filter to narrow. " : "") +
      (missing.length ? "Not drawn (" + missing.length + "): " + missing.slice(0, 12).join("; ") + (missing.length > 12 ? "; …" : "") + "." : "");
    note("dist-chart", text);
  }

  // ---------------------------------------------------------------- forest plot of ratios
  var VERDICT_STYLE = {
    faster: {symbol: "circle", color: "#1a7f37"}, slower: {symbol: "circle", color: "#cf222e"},
    equivalent: {symbol: "diamond", color: "#0969da"}, inconclusive: {symbol: "circle-open", color: "#6e7781"},
    invalid: {symbol: "x", color: "#8250df"}
  };
  function drawForest() {
    if (!$("forest-chart")) return;
    var pair = $("forest-pair").value, ts = terms("forest-filter");
    var all = R.comparisons.filter(function (c) {
      return c.metric === "wall" && (pair === "all" || c.tool_a + "|" + c.tool_b === pair) &&
        matches(c.operation + " " + c.fixture + " " + c.tool_a + " " + c.tool_b + " " + c.verdict, ts);
    });
    var plotted = all.filter(function (c) { return c.ratio !== null && c.ratio > 0; });
    var shown = plotted.slice(0, MAX_ROWS + 20);
    function label(c) { return esc(c.operation) + " · " + esc(c.fixture) + " · " + esc(c.tool_b) + " vs " + esc(c.tool_a); }
    var labels = shown.map(label), groups = {}, d = R.delta || 0.03;
    shown.forEach(function (c, i) {
      var v = VERDICT_STYLE[c.verdict] ? c.verdict : "inconclusive", g = groups[v] = groups[v] || {x: [], y: [], lo: [], hi: [], text: []};
      var ok = c.ci_low !== null && c.ci_high !== null && c.verdict !== "invalid";
      g.x.push(c.ratio); g.y.push(labels[i]);
      g.hi.push(ok ? Math.max(c.ci_high - c.ratio, 0) : 0); g.lo.push(ok ? Math.max(c.ratio - c.ci_low, 0) : 0);
      g.text.push(labels[i] + "<br>ratio " + c.ratio.toFixed(3) + (c.ci_low !== null && c.ci_high !== null ? " [" + c.ci_low.toFixed(3) + "–" + c.ci_high.toFixed(3) + "]" : " (no CI)") +
        "<br>p_adj " + (c.p_adjusted === null ? "–" : c.p_adjusted.toPrecision(2)) + " · " + esc(c.verdict) + "<br>n " + c.n_a + "/" + c.n_b);
    });
    var traces = Object.keys(VERDICT_STYLE).filter(function (v) { return groups[v]; }).map(function (v) {
      var g = groups[v], s = VERDICT_STYLE[v];
      return {type: "scatter", mode: "markers", name: v + " (" + g.x.length + ")", x: g.x, y: g.y, text: g.text, hoverinfo: "text",
        marker: {symbol: s.symbol, color: s.color, size: 9, line: {width: 1.5, color: s.color}},
        error_x: {type: "data", symmetric: false, array: g.hi, arrayminus: g.lo, color: s.color, thickness: 1.5, width: 3}};
    });
    draw("forest-chart", traces, {height: Math.max(240, 110 + shown.length * 20),
      xaxis: logAxis(shown.reduce(function (all, c) { return all.concat([c.ratio, c.ci_low, c.ci_high, 1 / (1 + d), 1 + d]); }, []),
        {title: {text: "ratio of medians B/A, wall time (log scale; below 1: B is faster)"}, gridcolor: "#e5e8eb", zeroline: false}),
      yaxis: {type: "category", categoryorder: "array", categoryarray: labels, autorange: "reversed", automargin: true},
      shapes: [
        {type: "rect", xref: "x", yref: "paper", x0: 1 / (1 + d), x1: 1 + d, y0: 0, y1: 1, fillcolor: "rgba(9,105,218,0.10)", line: {width: 0}, layer: "below"},
        {type: "line", xref: "x", yref: "paper", x0: 1, x1: 1, y0: 0, y1: 1, line: {color: "#59636e", width: 1, dash: "dot"}}
      ]});
    var msg = [];
    if (plotted.length > shown.length) msg.push("Showing " + shown.length + " of " + plotted.length + " rows: filter or pick a pair to narrow.");
    if (all.length > plotted.length) msg.push((all.length - plotted.length) + " comparison(s) have no ratio (a tool without a measurement): see the table.");
    note("forest-chart", msg.join(" "));
  }

  // ---------------------------------------------------------------- history lines and change points
  function drawHistory() {
    if (!$("history-chart")) return;
    var key = JSON.parse($("history-series").value), metric = key[2];
    var series = R.history.filter(function (s) { return s.operation === key[0] && s.fixture === key[1] && s.metric === metric; });
    var traces = [], shapes = [], cx = [], cy = [], ct = [];
    series.forEach(function (s) {
      var pts = s.points.filter(function (p) { return p.median !== null; });
      traces.push({type: "scatter", mode: "lines+markers", name: esc(s.tool), x: pts.map(function (p) { return p.started_at; }),
        y: pts.map(function (p) { return scaled(metric, p.median); }), line: {color: color(s.tool), width: 2}, marker: {color: color(s.tool), size: 6},
        text: pts.map(function (p) { return esc(s.tool) + " · run " + esc(p.run_id) + "<br>median " + fmt(metric, p.median) + (p.ci_low !== null && p.ci_high !== null ? " [" + fmt(metric, p.ci_low) + "–" + fmt(metric, p.ci_high) + "]" : ""); }),
        hoverinfo: "text",
        error_y: {type: "data", symmetric: false, color: color(s.tool), thickness: 1, width: 2,
          array: pts.map(function (p) { return p.ci_high !== null ? scaled(metric, p.ci_high - p.median) : 0; }),
          arrayminus: pts.map(function (p) { return p.ci_low !== null ? scaled(metric, p.median - p.ci_low) : 0; })}});
      s.change_points.forEach(function (cp) {
        shapes.push({type: "line", xref: "x", yref: "paper", x0: cp.started_at, x1: cp.started_at, y0: 0, y1: 1, line: {color: color(s.tool), width: 1.5, dash: "dash"}});
        cx.push(cp.started_at); cy.push(scaled(metric, cp.after_median));
        ct.push("change point · " + esc(s.tool) + " · run " + esc(cp.run_id) + "<br>" + fmt(metric, cp.before_median) + " → " + fmt(metric, cp.after_median) + (cp.ratio !== null ? " (×" + cp.ratio.toFixed(2) + ")" : ""));
      });
    });
    if (cx.length) traces.push({type: "scatter", mode: "markers", name: "change point", x: cx, y: cy, text: ct, hoverinfo: "text",
      marker: {symbol: "star", size: 15, color: "#cf222e", line: {color: "#fff", width: 1}}});
    draw("history-chart", traces, {height: 380, shapes: shapes, margin: {l: 60, r: 20, t: 30, b: 50},
      xaxis: {type: "date", title: {text: "run start"}}, yaxis: {title: {text: WORDS[metric] + " (" + UNIT[metric][1] + ")"}, rangemode: "tozero"}});
  }

  // ---------------------------------------------------------------- scaling curves (log-log)
  var GROWTH = {
    constant: function () { return 0; }, log: function (n) { return Math.log(n); }, linear: function (n) { return n; },
    "n log n": function (n) { return n * Math.log(n); }, quadratic: function (n) { return n * n; }
  };
  function drawScaling() {
    if (!$("scaling-chart")) return;
    var key = JSON.parse($("scaling-op").value), op = key[0], basis = key[1], fixture = key[2];
    var metric = $("scaling-metric").value, traces = [];
    TOOLS.forEach(function (tool) {
      var fit = R.scaling.filter(function (f) {
        return f.tool === tool && f.operation === op && f.metric === metric && f.basis === basis && (f.fixture || null) === fixture;
      })[0];
      var pts = [];
      if (fit) {
        fit.sizes.forEach(function (p) { if (p.median !== null && p.n > 0) pts.push({n: p.n, median: p.median, label: p.label || p.fixture}); });
      } else if ((basis === "commits" || basis === "files") && fixture === null) {
        R.operations.forEach(function (r) {
          var size = R.fixtures[r.fixture], n = size && size[basis], c = r.tools[tool], m = c && c.status === "measured" && c.metrics[metric];
          if (r.operation === op && n && m && m.median !== null) pts.push({n: n, median: m.median, label: r.fixture});
        });
      }
      if (!pts.length) return;
      pts.sort(function (a, b) { return a.n - b.n; });
      var curve = fit && fit.fixed !== null && fit.slope !== null && GROWTH[fit.growth];
      var name = esc(tool) + (fit ? " — " + esc(fit.growth) + (fit.r_squared !== null ? ", R² " + fit.r_squared.toFixed(2) : "") : "");
      traces.push({type: "scatter", mode: curve ? "markers" : "lines+markers", name: name, legendgroup: tool,
        x: pts.map(function (p) { return p.n; }), y: pts.map(function (p) { return scaled(metric, p.median); }),
        line: {color: color(tool), width: 2}, marker: {size: 8, color: color(tool)}, hoverinfo: "text",
        text: pts.map(function (p) { return esc(tool) + " · " + esc(p.label) + " (n=" + p.n + ")<br>median " + fmt(metric, p.median); })});
      if (curve) {
        var lo = pts[0].n, hi = pts[pts.length - 1].n, xs = [], ys = [];
        for (var i = 0; i <= 40; i++) { var n = lo * Math.pow(hi / lo, i / 40); xs.push(n); ys.push(scaled(metric, fit.fixed + fit.slope * GROWTH[fit.growth](n))); }
        traces.push({type: "scatter", mode: "lines", name: esc(tool) + " fit", legendgroup: tool, showlegend: false, x: xs, y: ys,
          hoverinfo: "skip", line: {color: color(tool), width: 1.5, dash: "dash"}});
      }
    });
    var xTitle = basis === "commits" || basis === "files" ? "fixture size (" + basis + ", log scale)" : esc(basis) + " (parameter value, log scale)";
    draw("scaling-chart", traces, {height: 380, margin: {l: 60, r: 20, t: 30, b: 50},
      xaxis: logAxis([].concat.apply([], traces.map(function (t) { return t.x; })), {title: {text: xTitle}}),
      yaxis: logAxis([].concat.apply([], traces.map(function (t) { return t.y; })), {title: {text: WORDS[metric] + " (" + UNIT[metric][1] + ", log scale)"}})});
    note("scaling-chart", traces.length ? "" : "No tool has a measurement of this operation on two sizes for this metric.");
  }

  // ---------------------------------------------------------------- tables: sort and filter
  function key(td) { var v = td.getAttribute("data-v"); return v === null ? td.textContent.trim() : v; }
  function sortTable(t, col, th) {
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    Array.prototype.forEach.call(t.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    var body = t.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var keys = rows.map(function (r) { return r.cells[col] ? key(r.cells[col]) : ""; });
    var numeric = keys.every(function (k) { return k === "" || !isNaN(Number(k)); });
    var order = rows.map(function (r, i) { return i; }).sort(function (a, b) {
      var ka = keys[a], kb = keys[b];
      if (ka === "" || kb === "") return ka === kb ? a - b : (ka === "" ? 1 : -1);
      var c = numeric ? Number(ka) - Number(kb) : ka.localeCompare(kb, undefined, {numeric: true});
      return c * dir || a - b;
    });
    var frag = document.createDocumentFragment();
    order.forEach(function (i) { frag.appendChild(rows[i]); });
    body.appendChild(frag);
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (t) {
    Array.prototype.forEach.call(t.tHead.rows[0].cells, function (th, i) {
      th.addEventListener("click", function () { sortTable(t, i, th); });
      th.addEventListener("keydown", function (ev) { if (ev.key === "Enter") sortTable(t, i, th); });
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("input.filter"), function (inp) {
    var t = $(inp.getAttribute("data-table")), counter = document.querySelector('[data-count-for="' + t.id + '"]');
    inp.addEventListener("input", function () {
      var ts = inp.value.toLowerCase().split(/\s+/).filter(Boolean), shown = 0, rows = t.tBodies[0].rows;
      Array.prototype.forEach.call(rows, function (r) { var ok = matches(r.textContent, ts); r.hidden = !ok; if (ok) shown++; });
      counter.textContent = (ts.length ? shown + " of " : "") + rows.length + (rows.length === 1 ? " row" : " rows");
    });
  });
  var opsTable = $("ops-table"), opsMetric = $("ops-metric");
  if (opsTable && opsMetric) {
    // the stylesheet hides wall/cpu/rss columns by data-metric; extra metrics (any name) by script
    var showMetric = function () {
      var own = "m-" + opsMetric.value;
      opsTable.setAttribute("data-metric", opsMetric.value);
      opsTable.querySelectorAll("[class*='m-']").forEach(function (cell) {
        var mine = Array.prototype.filter.call(cell.classList, function (k) { return k.indexOf("m-") === 0; });
        if (mine.length) cell.style.display = mine.indexOf(own) >= 0 ? "table-cell" : "none";
      });
    };
    showMetric();
    opsMetric.addEventListener("change", showMetric);
  }

  // ---------------------------------------------------------------- wire up
  function safely(fn) { try { fn(); } catch (err) { var el = document.body; console.error(err); el.setAttribute("data-chart-error", String(err)); } }
  if (typeof Plotly === "undefined") return;
  on(["dist-metric", "dist-fixture", "dist-filter"], function () { safely(drawDistributions); });
  on(["forest-pair", "forest-filter"], function () { safely(drawForest); });
  on(["history-series"], function () { safely(drawHistory); });
  on(["scaling-op", "scaling-metric"], function () { safely(drawScaling); });
  [drawDistributions, drawForest, drawHistory, drawScaling].forEach(safely);
})();
"""
