"""CI-native output for GitHub Actions: the job's step summary and a pull-request comment body.

Both are the same Markdown, regressions first: a heading, the cells that regressed (or a sentence
that none did), then the body (the run's Markdown report, or the comparison table). GitHub refuses
a comment over 65,536 characters, so the text is cut to :data:`COMMENT_LIMIT` at a section (or
line) boundary and ends by naming the file that has everything. ``$GITHUB_STEP_SUMMARY`` (when set)
gets it appended — GitHub shows up to 1 MiB per step there.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

COMMENT_LIMIT = 65_000
SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
MAX_REGRESSION_LINES = 100


def _fit(text: str, budget: int, pointer: str) -> str:
    """``text`` cut to ``budget`` characters at the last section heading (else line) that fits,
    ending with a note naming ``pointer``."""
    if len(text) <= budget:
        return text
    note = f"\n\n… cut to fit a pull-request comment; everything is in {pointer}.\n"
    room = max(budget - len(note), 0)
    head = text[:room]
    cut = head.rfind("\n## ")
    if cut < room // 2:  # no heading in the second half: cut at a line
        cut = head.rfind("\n")
    return head[: max(cut, 0)].rstrip() + note


def comment_body(
    title: str,
    regressions: Sequence[str],
    body: str,
    *,
    pointer: str,
    lead: str = "",
    heading: str = "Regressions",
    none_text: str = "No regression.",
    limit: int = COMMENT_LIMIT,
) -> str:
    """Markdown of at most ``limit`` characters: ``title``, ``lead``, the regressions (bullets under
    ``heading``), then ``body``."""
    lines = [f"## {title}", ""] + ([lead, ""] if lead else [])
    if regressions:
        shown = list(regressions[:MAX_REGRESSION_LINES])
        lines += [f"### {heading} ({len(regressions)})", ""] + [f"- {r}" for r in shown]
        if len(regressions) > len(shown):
            lines.append(f"- … {len(regressions) - len(shown)} more in {pointer}")
    else:
        lines.append(none_text)
    head = _fit("\n".join(lines) + "\n\n", limit // 2, pointer)  # the regressions keep at least half
    return head + _fit(body, limit - len(head), pointer)


def append_step_summary(markdown: str, env: Mapping[str, str] | None = None) -> Path | None:
    """Append ``markdown`` to ``$GITHUB_STEP_SUMMARY``; None when it is not set (not in Actions)."""
    target = (os.environ if env is None else env).get(SUMMARY_ENV)
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as summary:
        summary.write(markdown if markdown.endswith("\n") else markdown + "\n")
    return path


def _num(value: float | None, spec: str) -> str:
    return (
        "–"
        if value is None or (isinstance(value, float) and not math.isfinite(value))
        else format(value, spec)
    )


def comparison_row(r: Mapping) -> str:
    """One comparison (``compare``'s rows, run vs baseline or tool vs tool) as a Markdown table row."""
    who = r.get("tool") or f"{r.get('tool_b')} vs {r.get('tool_a')}"
    ci = (
        f"{_num(r.get('ci_low'), '.3f')}–{_num(r.get('ci_high'), '.3f')}"
        if r.get("ci_low") is not None
        else "–"
    )
    verdict = f"**{r['verdict']}**" if r["verdict"] in ("regression", "slower") else r["verdict"]
    if r.get("history_confirmed") is False:
        verdict += f" (not confirmed: ×{_num(r.get('history_ratio'), '.3f')} vs its last {r.get('history_runs')} runs)"
    cells = [
        r["operation"],
        r["fixture"],
        who,
        _num(r.get("ratio"), ".3f"),
        ci,
        _num(r.get("p_adjusted"), ".2g"),
        verdict,
    ]
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def regression_line(r: Mapping) -> str:
    """A regression (or B slower than A) for the comment's list: the cell, the ratio and its CI."""
    ratio = (
        f"×{_num(r.get('ratio'), '.3f')} [{_num(r.get('ci_low'), '.3f')}, {_num(r.get('ci_high'), '.3f')}]"
    )
    if r.get("tool"):
        text = f"**{r['tool']}/{r['operation']} ({r['fixture']})** {ratio} vs baseline, p_adj {_num(r.get('p_adjusted'), '.2g')}"
        if r.get("history_confirmed") is False:
            text += " — not confirmed by its history"
        return text
    return f"**{r['tool_b']}** slower than {r['tool_a']} at **{r['operation']} ({r['fixture']})** {ratio}"


TABLE_HEAD = [
    "| operation | fixture | tool | ratio | 95% CI | p_adj | verdict |",
    "|---|---|---|---|---|---|---|",
]
ORDER = {"regression": 0, "slower": 0, "improvement": 1, "faster": 1, "inconclusive": 2, "equivalent": 3}


def worst_first(r: Mapping) -> tuple:
    """Regressions first, largest ratio first; then improvements, largest gain first; then by name."""
    order = ORDER.get(r["verdict"], 9)
    ratio = r.get("ratio") or 1.0
    return (order, -ratio if order == 0 else ratio if order == 1 else 0.0, r["operation"], r["fixture"])


def comparison_markdown(rows: Sequence[Mapping], header: str, notes: Sequence[str]) -> str:
    """Every comparison as a table, regressions (or B slower) first, then improvements, inconclusive,
    equivalent (:func:`worst_first`)."""
    ordered = sorted(rows, key=worst_first)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    lines = [header, ""] + [f"> note: {n}" for n in notes] + ([""] if notes else [])
    lines.append(
        ", ".join(f"{n} {v}" for v, n in sorted(counts.items(), key=lambda kv: ORDER.get(kv[0], 9))) + "."
    )
    return "\n".join([*lines, "", *TABLE_HEAD, *(comparison_row(r) for r in ordered)]) + "\n"
