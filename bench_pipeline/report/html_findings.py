"""The Findings section of the HTML report: quality with its components, recommendations with their
evidence, error clusters, the most similar earlier runs. Same words as the Markdown
(``markdown_findings``); every string from the data escaped."""

from __future__ import annotations

from collections.abc import Callable

from bench_pipeline.patterns.findings import RunFindings
from bench_pipeline.report.html_parts import badge, e, table, td, with_code
from bench_pipeline.report.markdown_findings import evidence_text, quality_sentence
from bench_pipeline.report.model import Report

Findings = Report | RunFindings  # both carry quality, recommendations, error_clusters, similar_runs


def _quality(report: Findings) -> str:
    q = report.quality
    sentence = with_code(quality_sentence(q).replace("**", ""))
    if q is None or q.quality is None:
        return f'<p class="note">{sentence}</p>'
    bars = "".join(
        f'<div class="qbar" title="{e(name)} {value:.2f}"><span>{e(name)}</span>'
        f'<meter min="0" max="1" low="0.5" high="0.8" optimum="1" value="{value:.3f}"></meter>'
        f"<b>{value:.2f}</b></div>"
        for name, value in (
            ("quality", q.quality),
            ("noise", q.noise),
            ("completeness", q.completeness),
            ("significance", q.significance),
        )
        if value is not None
    )
    return f'<div class="quality" id="quality">{bars}</div><p class="note">{sentence}</p>'


def _recommendations(report: Findings) -> str:
    recs = report.recommendations
    if not recs:
        return "<h3>Recommendations</h3><p>No recommendations for this run.</p>"
    rows = [
        "<tr>"
        + td(
            badge(r.kind, "growth" if r.kind == "config" else "slower" if r.kind == "bottleneck" else "na"),
            r.kind,
        )
        + td(f"<b>{e(r.title)}</b><br>{with_code(r.detail)}")
        + td(e(r.tool or "–"))
        + td(e(r.operation or "–"))
        + td(e(r.fixture or "–"))
        + td(f"{r.score:.3g}", r.score, "num")
        + td(f'<div class="reason">{e(evidence_text(r.evidence, 2_000))}</div>' if r.evidence else "–")
        + "</tr>"
        for r in recs
    ]
    return f"<h3>Recommendations ({len(recs)})</h3>" + table(
        "recommendations-table",
        [("kind", ""), ("recommendation", ""), ("tool", ""), ("operation", ""), ("fixture", ""),
         ("score", "num"), ("evidence", "")],
        rows,
        caption="Each with the evidence that triggered it (docs/history.md, \u201cRecommendations\u201d): "
        "score is the kind's strength (bottleneck: ratio to the next-fastest tool; hot path: share of the "
        "tool's time; config: growth exponent or share).",
    )  # fmt: skip


def _errors(report: Findings) -> str:
    clusters = report.error_clusters
    if not clusters:
        return "<h3>Error clusters</h3><p>No failed samples in this run.</p>"
    rows = [
        "<tr>"
        + td(badge(c.kind, "failed"), c.kind)
        + td(e(c.tool))
        + td(e(c.operation))
        + td(str(c.exit_code), c.exit_code, "num")
        + td(str(c.count), c.count, "num")
        + td(e(", ".join(c.fixtures)))
        + td(f"<code>{e(c.signature)}</code>")
        + td(f'<div class="reason">{e(c.example)}</div>' if c.example else "–")
        + "</tr>"
        for c in clusters
    ]
    return f"<h3>Error clusters ({len(clusters)})</h3>" + table(
        "errors-table",
        [("kind", ""), ("tool", ""), ("operation", ""), ("exit", "num"), ("count", "num"), ("fixtures", ""),
         ("signature", ""), ("example", "")],
        rows,
        caption="Failed samples grouped by tool, operation, exit code and normalised stderr (paths, ids and "
        "numbers replaced); timeouts and OOM kills apart.",
    )  # fmt: skip


def _similar(report: Findings, run_link: Callable[[str], str] | None) -> str:
    if not report.similar_runs:
        return (
            "<h3>Most similar earlier runs</h3><p>No earlier run shares enough cells with this one "
            "to compare (similar runs need 3).</p>"
        )
    items = "".join(
        (
            f'<li><a href="{e(run_link(s.run_id))}"><code>{e(s.run_id)}</code></a>'
            if run_link
            else f"<li><code>{e(s.run_id)}</code>"
        )
        + f" ({e(s.started_at[:10])}"
        + (f", tag <code>{e(s.git_tag)}</code>" if s.git_tag else "")
        + f"): {e(s.why)}.</li>"
        for s in report.similar_runs
    )
    return f'<h3>Most similar earlier runs</h3><ol class="similar">{items}</ol>'


def findings(report: Findings, run_link: Callable[[str], str] | None = None) -> str:
    """The section; ``run_link`` makes the similar runs links (the dashboard's run pages)."""
    return (
        '<section id="findings"><h2>Findings</h2>'
        + _quality(report)
        + _recommendations(report)
        + _errors(report)
        + _similar(report, run_link)
        + "</section>"
    )
