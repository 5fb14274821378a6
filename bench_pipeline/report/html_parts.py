"""The building blocks of the HTML report: escaping, value formats, badges, sortable tables with a
filter box, and chart sections with their controls. Every string from the data is escaped here."""

from __future__ import annotations

import re
from html import escape
from typing import Any

from bench_pipeline.report.markdown import fmt_bytes, fmt_ns

METRICS = {"wall": "wall time", "cpu": "CPU time (user + sys)", "rss": "peak memory (RSS)"}
STATUS_WORDS = {"na": "n/a", "unavailable": "unavailable", "failed": "failed", "invalid": "invalid"}


def e(value: Any) -> str:
    """Escape any value for HTML text and attribute values."""
    return escape("" if value is None else str(value), quote=True)


def inert_json(text: str, element_id: str) -> str:
    """JSON ``text`` as an inert ``<script type="application/json">`` block that cannot close itself."""
    for raw, safe in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, safe)
    return f'<script type="application/json" id="{e(element_id)}">{text}</script>'


def fmt(metric: str, value: float | None) -> str:
    if metric not in METRICS:  # an extra metric (tokens, cost, a score): its own unit, as stored
        return "–" if value is None else f"{value:.4g}"
    return fmt_bytes(value) if metric == "rss" else fmt_ns(value)


def fmt_bytes_small(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value / 1024:.1f} KiB" if value >= 1024 else f"{value:.0f} B"


def fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def fmt_p(value: float | None) -> str:
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


def with_code(text: str) -> str:
    """Escape a sentence and show its `backticked` parts as code."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", e(text))


def chart_section(anchor: str, title: str, intro: str, controls: str, chart_id: str, after: str = "") -> str:
    return (
        f'<section id="{anchor}"><h2>{title}</h2><p class="note">{intro}</p>'
        f'<div class="controls">{controls}</div><div class="chart" id="{chart_id}"></div>'
        f'<p class="note chart-note" id="{chart_id}-note"></p>{after}</section>'
    )


def select(select_id: str, options: list[tuple[str, str]], label: str) -> str:
    opts = "".join(f'<option value="{e(v)}">{e(text)}</option>' for v, text in options)
    return f'<label>{e(label)} <select id="{e(select_id)}">{opts}</select></label>'


def chart_filter(input_id: str) -> str:
    return (
        f'<input type="search" id="{e(input_id)}" placeholder="filter operations" '
        f'aria-label="filter operations in the chart">'
    )


def metric_select(select_id: str) -> str:
    return select(select_id, [(k, v) for k, v in METRICS.items()], "metric")
