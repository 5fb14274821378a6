"""The sections of the HTML report, one function each: the report model in, escaped HTML out. Tables
are complete here (they read without script); charts are placeholders that report.js fills in."""

from __future__ import annotations

import json
from typing import Any

from bench_pipeline.report.html_parts import (
    METRICS,
    STATUS_WORDS,
    badge,
    chart_filter,
    chart_section,
    e,
    fmt,
    fmt_bytes_small,
    fmt_p,
    fmt_ratio,
    metric_select,
    select,
    table,
    td,
    with_code,
)
from bench_pipeline.report.model import METRIC_WORDS, Comparison, Report, ToolCell, decided_metric


def _table_metrics(report: Report) -> dict[str, str]:
    """wall, cpu, rss, then the extra metrics any cell of the run has (docs/ingest.md)."""
    extras = {m for row in report.operations for c in row.tools.values() for m in c.metrics} - set(METRICS)
    return {**METRICS, **{m: m for m in sorted(extras)}}


def summary(report: Report) -> str:
    out = ['<section id="summary"><h2>Summary</h2>']
    metric = decided_metric(report)  # what the run was sampled to a verdict on leads
    leading = [p for p in report.pairs if p.metric == metric and p.geomean_ratio is not None]
    if leading:
        items = []
        for p in leading:
            ci = f" (95% CI {p.ci_low:.2f}–{p.ci_high:.2f})" if p.ci_low and p.ci_high else ""
            if p.ci_high is not None and p.ci_high < 1:
                word = badge(f"{p.tool_b} faster", "faster")
            elif p.ci_low is not None and p.ci_low > 1:
                word = badge(f"{p.tool_b} slower", "slower")
            else:
                word = badge("no clear difference", "inconclusive")
            counts = ", ".join(f"{n} {e(v)}" for v, n in sorted(p.verdicts.items()))
            items.append(
                f"<li>{word} <b>{e(p.tool_b)} vs {e(p.tool_a)}</b>: geometric mean of {METRIC_WORDS[metric]} ratios "
                f"<b>{p.geomean_ratio:.2f}</b>{ci} over {p.cells} cells; {counts}.</li>"
            )
        out.append(f'<ul class="verdicts">{"".join(items)}</ul>')
    if report.findings:
        shown, rest = report.findings[:10], report.findings[10:]
        out.append(
            f"<p>Significant differences (Benjamini–Hochberg across all {len(report.comparisons)} "
            f"comparisons, margin δ = {report.delta:.0%}), largest first:</p>"
            f'<ol class="findings">{"".join(f"<li>{with_code(f)}</li>" for f in shown)}</ol>'
        )
        if rest:
            out.append(
                f'<details><summary>{len(rest)} more</summary><ol start="{len(shown) + 1}" class="findings">'
                + "".join(f"<li>{with_code(f)}</li>" for f in rest)
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
            + td(fmt_ratio(p.geomean_ratio), p.geomean_ratio, "num")
            + td(
                f"{fmt_ratio(p.ci_low)}–{fmt_ratio(p.ci_high)}" if p.ci_low and p.ci_high else "–",
                p.ci_low,
                "num",
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


def distributions(report: Report) -> str:
    present = {r.fixture for r in report.operations}
    ordered = [f for f in report.fixtures if f in present] + sorted(present - set(report.fixtures))
    fixtures = [(f, f) for f in ordered]  # smallest first
    return chart_section(
        "distributions",
        "Distributions by tool",
        "Per operation and tool: box from the 25th to the 75th percentile with the median, whiskers from "
        "the 5th to the 95th percentile, ticks at the minimum and maximum (log scale). Cells without a "
        "measurement are listed under the chart.",
        metric_select("dist-metric")
        + select("dist-fixture", fixtures, "fixture")
        + chart_filter("dist-filter"),
        "dist-chart",
    )


def comparisons(report: Report) -> str:
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
            f'<div class="controls">{select("forest-pair", options, "pair")}{chart_filter("forest-filter")}</div>'
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
    ci = (
        f"{fmt_ratio(c.ci_low)}–{fmt_ratio(c.ci_high)}"
        if c.ci_low is not None and c.ci_high is not None
        else "–"
    )
    return (
        "<tr>"
        + td(e(c.operation))
        + td(e(c.fixture))
        + td(e(c.metric))
        + td(f"{e(c.tool_b)} vs {e(c.tool_a)}")
        + td(fmt(c.metric, c.median_a), c.median_a, "num")
        + td(fmt(c.metric, c.median_b), c.median_b, "num")
        + td(fmt_ratio(c.ratio), c.ratio, "num")
        + td(ci, c.ci_low, "num")
        + td(fmt_p(c.p_value), c.p_value, "num")
        + td(fmt_p(c.p_adjusted), c.p_adjusted, "num")
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


def operations(report: Report) -> str:
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
    toggle = select("ops-metric", list(metrics.items()), "show")
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


def targets(report: Report) -> str:
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


def unmeasured(report: Report) -> str:
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


def history(report: Report) -> str:
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
        + td(fmt_ratio(cp.ratio), cp.ratio, "num")
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
    return chart_section(
        "history",
        "History",
        "Median of each run (95% CI as error bars) per tool; stars and dashed lines mark change points "
        "(the first run at a new level that persists).",
        select("history-series", options, "cell"),
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


def scaling(report: Report) -> str:
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
        + td(fmt_ratio(f.exponent), f.exponent, "num")
        + td(fmt_ratio(f.r_squared), f.r_squared, "num")
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
    return chart_section(
        "scaling",
        "Scaling",
        "Median per tool against size, log-log: a straight line of slope 1 is linear growth, a flat line "
        "constant cost. Points are measured medians; dashed lines are fitted growth curves, named in the legend.",
        select("scaling-op", options, "operation") + metric_select("scaling-metric"),
        "scaling-chart",
        after,
    )


def not_measured(report: Report) -> str:
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


def environment(report: Report) -> str:
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


def revisions(report: Report) -> str:
    """What each newer revision changed against an older one (all metrics); empty without revisions."""
    if not report.revisions:
        return ""
    rows = []
    for c in report.revisions:
        kind = c.verdict  # faster | slower | equivalent | inconclusive | invalid: badges of their own
        ci = f"{fmt_ratio(c.ci_low)}–{fmt_ratio(c.ci_high)}" if c.ci_low and c.ci_high else "–"
        rows.append(
            "<tr>"
            + td(f"{e(c.new)} vs {e(c.old)}")
            + td(e(c.operation))
            + td(e(c.fixture))
            + td(e(METRICS.get(c.metric, c.metric)))
            + td(fmt(c.metric, c.median_old), c.median_old, "num")
            + td(fmt(c.metric, c.median_new), c.median_new, "num")
            + td(fmt_ratio(c.ratio), c.ratio, "num")
            + td(ci, c.ci_low, "num")
            + td(fmt_p(c.p_adjusted), c.p_adjusted, "num")
            + td(badge(c.verdict, kind), c.verdict)
            + "</tr>"
        )
    body = table(
        "revisions-table",
        [
            ("revisions", ""),
            ("operation", ""),
            ("fixture", ""),
            ("metric", ""),
            ("older", "num"),
            ("newer", "num"),
            ("ratio new/old", "num"),
            ("95% CI", "num"),
            ("p_adj", "num"),
            ("verdict", ""),
        ],
        rows,
        caption="Each newer revision of a tool against each older one measured in this run (the older is "
        "listed first in the run's tools), interleaved on the same fixtures: the run's comparisons, read "
        "new relative to old.",
    )
    return f'<section id="revisions"><h2>What changed between revisions</h2>{body}</section>'


def builds(report: Report) -> str:
    """The tools the run obtained from their build recipe; empty when none was."""
    if not report.builds:
        return ""
    rows = []
    for b in report.builds:
        kind = {"built": "pass", "cached": "pass", "failed": "failed"}.get(b.status, "unavailable")
        rows.append(
            "<tr>"
            + td(e(b.tool))
            + td(e(b.rev))
            + td(f"<code>{e(b.commit[:12])}</code>", b.commit)
            + td(badge(b.status, kind, b.reason), b.status)
            + td(f"{b.seconds:.0f} s", b.seconds, "num")
            + td("–" if b.build_seconds is None else f"{b.build_seconds:.0f} s", b.build_seconds, "num")
            + td(with_code(b.reason) if b.status not in ("built", "cached") else "")
            + "</tr>"
        )
    body = table(
        "builds-table",
        [
            ("tool", ""),
            ("revision", ""),
            ("commit", ""),
            ("status", ""),
            ("build time in this run", "num"),
            ("the build took", "num"),
            ("why", ""),
        ],
        rows,
        caption="Tools built from their suite recipe, keyed by (tool, resolved commit or version, recipe): "
        "a cached build costs nothing; a failed one leaves its tool out of the run, with its log.",
    )
    return f'<section id="builds"><h2>Builds</h2>{body}</section>'
