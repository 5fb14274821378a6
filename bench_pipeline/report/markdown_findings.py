"""The report's findings in Markdown: the run's quality with its components, recommendations with their
evidence, error clusters and the most similar earlier runs (``patterns.findings``). The sentences
and the evidence text are shared with the HTML report (``html_findings``)."""

from __future__ import annotations

import math
from typing import Any

from bench_pipeline.patterns.findings import RunFindings
from bench_pipeline.patterns.quality import RunQuality
from bench_pipeline.report.model import Report

MAX_RECOMMENDATIONS = 20
EVIDENCE_CHARS = 400


def _value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "–"
    if isinstance(value, float):
        return "–" if not math.isfinite(value) else f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + "; ".join(_value(v) for v in value) + "]"
    return str(value)


def evidence_text(evidence: dict[str, Any], limit: int = EVIDENCE_CHARS) -> str:
    """A recommendation's evidence as one line: ``key value`` pairs, numbers to 4 significant digits."""
    text = ", ".join(f"{k}: {_value(v)}" for k, v in evidence.items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quality_sentence(q: RunQuality | None) -> str:
    """The score and what each component counted (``patterns.quality``)."""
    if q is None or q.quality is None:
        return "Run quality: not computed (no cell statistics for this run)."
    d = q.detail
    parts = []
    if q.noise is not None:
        parts.append(
            f"noise {q.noise:.2f} (mean over {d.get('cells', '?')} cells of 1 − CV / {d.get('cv_max', 0.1):.0%})"
        )
    if q.completeness is not None:
        parts.append(
            f"completeness {q.completeness:.2f} ({d.get('measured', '?')} of {d.get('planned', '?')} planned cells measured)"
        )
    if q.significance is not None:
        if d.get("compared"):
            parts.append(
                f"significance {q.significance:.2f} ({d.get('conclusive')} of {d['compared']} tool comparisons reached a verdict)"
            )
        else:
            parts.append(
                f"significance {q.significance:.2f} (share of cells whose median CI met ±{d.get('target_ci', 0.02):.0%})"
            )
    return f"Run quality **{q.quality:.2f}** of 1: " + "; ".join(parts) + "."


def _cell(*parts: str | None) -> str:
    return " ".join(p for p in parts if p).replace("|", "\\|").replace("\n", " ")


def findings_markdown(report: Report | RunFindings, limit: int | None = None) -> list[str]:
    """The ``## Findings`` section of a report (or of the ``findings`` command); ``limit`` caps the
    lists when the report must shrink to a comment."""
    cap = MAX_RECOMMENDATIONS if limit is None else min(limit, MAX_RECOMMENDATIONS)
    lines = ["", "## Findings", "", quality_sentence(report.quality), ""]
    recs = report.recommendations
    if recs:
        lines += [f"### Recommendations ({len(recs)})", ""]
        for r in recs[:cap]:
            lines.append(f"- **{r.kind}**: {r.title}. {r.detail}")
            if r.evidence:
                lines.append(f"  Evidence: {evidence_text(r.evidence)}")
        if len(recs) > cap:
            lines.append(f"- … {len(recs) - cap} more in the JSON report (`recommendations`).")
    else:
        lines.append("No recommendations for this run.")
    lines.append("")
    clusters = report.error_clusters
    if clusters:
        lines += [
            f"### Error clusters ({len(clusters)})",
            "",
            "| kind | tool | operation | exit | count | fixtures | signature |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in clusters[:cap]:
            signature = _cell(c.signature[:120]).replace("`", "'")
            lines.append(
                f"| {c.kind} | {_cell(c.tool)} | {_cell(c.operation)} | {c.exit_code} | {c.count} | "
                f"{_cell(', '.join(c.fixtures))} | `{signature}` |"
            )
        if len(clusters) > cap:
            lines.append(f"| … {len(clusters) - cap} more clusters not shown here |")
    else:
        lines.append("No failed samples in this run.")
    lines.append("")
    if report.similar_runs:
        lines += ["### Most similar earlier runs", ""]
        lines += [
            f"{i}. `{s.run_id}` ({s.started_at[:10]}{f', tag `{s.git_tag}`' if s.git_tag else ''}): {s.why}."
            for i, s in enumerate(report.similar_runs, 1)
        ]
    else:
        lines.append("No earlier run shares enough cells with this one to compare (similar runs need 3).")
    return lines
