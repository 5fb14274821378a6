"""HTML exporter: one self-contained file with interactive charts and sortable, filterable tables.

Everything is inline: plotly.js from the installed ``plotly`` package, the CSS, the script and the data;
a Content-Security-Policy forbids every network load, so the file works offline and from a mail
attachment. Tables are rendered in Python with every string escaped (they read without script); charts are
drawn in the browser from the report's own JSON, embedded as an inert ``application/json`` block, so
every plotted number is also in the JSON report.

The page's style and scripts are package data (``static/report.css``, ``tables.js``, ``report.js``), read once
and inlined; the sections are ``html_sections``, their building blocks ``html_parts``.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from bench_pipeline.report import html_findings, html_sections
from bench_pipeline.report.html_parts import STATUS_WORDS, badge, e, inert_json
from bench_pipeline.report.model import Report

CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'"
)


@cache
def plotly_js() -> str:
    """The minified plotly.js bundled with the ``plotly`` Python package (no CDN)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


@cache
def static_text(name: str) -> str:
    """A file of ``bench_pipeline/report/static`` (the page's CSS and script), as text."""
    return resources.files("bench_pipeline.report").joinpath("static", name).read_text(encoding="utf-8")


def _data_block(report: Report) -> str:
    """The report JSON for the charts, inert and unable to close its script element."""
    return inert_json(report.model_dump_json(), "report-data")


# ------------------------------------------------------------------------------------------ page
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
        f"Samples: {report.samples}. Cells: {counts}</p>"
        + "".join(
            f'<p class="note"><b>{e(u.tool)} was not measured</b> ({e(u.action)}): {e(u.reason)}. '
            f"Fix: <code>{e(u.fix)}</code></p>"
            for u in report.unavailable_tools
        )
        + "</header>"
    )


def _nav(sections: list[tuple[str, str]]) -> str:
    links = "".join(f'<a href="#{e(anchor)}">{e(title)}</a>' for anchor, title in sections)
    return f"<nav>{links}</nav>"


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page (several MB: plotly.js is inline)."""
    sections = [("summary", "Summary", html_sections.summary(report))]
    if report.revisions:
        sections.append(("revisions", "Revisions", html_sections.revisions(report)))
    if any(c.status == "measured" for row in report.operations for c in row.tools.values()):
        sections.append(("distributions", "Distributions", html_sections.distributions(report)))
    sections.append(("comparisons", "Comparisons", html_sections.comparisons(report)))
    sections.append(("operations", "Operations", html_sections.operations(report)))
    for anchor, title, body in (
        ("targets", "Targets", html_sections.targets(report)),
        ("unmeasured", "Failures & gaps", html_sections.unmeasured(report)),
        ("builds", "Builds", html_sections.builds(report)),
        ("history", "History", html_sections.history(report)),
        ("scaling", "Scaling", html_sections.scaling(report)),
        ("findings", "Findings", html_findings.findings(report)),
    ):
        if body:
            sections.append((anchor, title, body))
    sections.append(("not-measured", "Not measured", html_sections.not_measured(report)))
    sections.append(("environment", "Environment", html_sections.environment(report)))
    title = f"bench-pipeline · {report.suite} · {report.run.run_id}"
    return "".join(
        [
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{e(title)}</title><style>{static_text('report.css')}</style></head><body>",
            _header(report),
            _nav([(a, t) for a, t, _ in sections]),
            '<main><noscript><p class="note">The charts need JavaScript; the tables read without it.</p></noscript>',
            *(body for _, _, body in sections),
            "</main>",
            _data_block(report),
            f"<script>{plotly_js()}</script>",
            f"<script>{static_text('tables.js')}\n{static_text('report.js')}</script>",
            "</body></html>\n",
        ]
    )
