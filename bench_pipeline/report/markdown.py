"""Markdown exporter: short enough for a pull-request comment, verdicts first, then tables."""

from __future__ import annotations

from bench_pipeline.report.model import Report, ToolCell

MAX_CHARS = 65_000


def fmt_ns(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 1e9:
        return f"{value / 1e9:.2f} s"
    if value >= 1e6:
        return f"{value / 1e6:.2f} ms"
    return f"{value / 1e3:.0f} µs"


def fmt_bytes(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value / (1 << 20):.1f} MiB"


def _cell(c: ToolCell | None) -> str:
    if c is None:
        return "–"
    if c.status == "na":
        return "n/a"
    if c.status == "unavailable":
        return "unavailable"
    wall = c.metrics.get("wall")
    if c.valid is False:
        return f"**invalid** ({c.equivalence}, similarity {c.similarity or 0:.2f})"
    if c.status == "failed" or wall is None or wall.median is None:
        return f"**failed** ({c.n_failed}×)"
    text = fmt_ns(wall.median)
    if wall.ci_low is not None and wall.ci_high is not None:
        text += f" [{fmt_ns(wall.ci_low)}–{fmt_ns(wall.ci_high)}]"
    if c.n_failed:
        text += f" ⚠ {c.n_failed} failed"
    return text


def render_markdown(report: Report, html_name: str | None = None) -> str:
    r = report.run
    tools = r.tools
    lines = [
        f"# bench-pipeline: {report.suite} — run `{r.run_id}`",
        "",
        f"{r.status} · {r.started_at[:19]} UTC · trigger {r.trigger}"
        + (f" · tag `{r.git_tag}`" if r.git_tag else "")
        + f" · backend {r.backend}"
        + (" · quick mode" if r.quick else "")
        + (f" · **{r.settings['parallel']} tools measured in parallel**" if r.settings.get("parallel", 1) > 1 else ""),
        "",
        "Tools: "
        + ", ".join(f"{t} ({r.tool_versions.get(t, 'unavailable')})" for t in tools)
        + f". Sizes: {', '.join(r.sizes)}. Samples: {report.samples}. Cells: "
        + ", ".join(f"{v} {k}" for k, v in sorted(report.cell_counts.items()))
        + ".",
        "",
    ]
    lines += _summary(report)
    if report.warnings:
        lines += ["## Warnings", ""] + [f"- {w}" for w in report.warnings] + [""]
    lines += [
        "## Operations",
        "",
        "Medians of wall time, with the distribution-free 95% confidence interval of the median in brackets "
        "where enough runs exist. *invalid*: the tool's resulting state differs from the reference tool's.",
        "",
        "| operation | fixture | " + " | ".join(tools) + " | peak RSS |",
        "|---|---|" + "---|" * len(tools) + "---|",
    ]
    for row in report.operations:
        rss = " / ".join(
            fmt_bytes(row.tools[t].metrics["rss"].median)
            if t in row.tools and "rss" in row.tools[t].metrics
            else "–"
            for t in tools
        )
        lines.append(
            f"| {row.operation} | {row.fixture} | "
            + " | ".join(_cell(row.tools.get(t)) for t in tools)
            + f" | {rss} |"
        )
    lines += _comparison_tables(report)
    targets = [(t, row, x) for row in report.operations for t, c in row.tools.items() for x in c.targets]
    if targets:
        lines += [
            "",
            "## Targets",
            "",
            "| operation | fixture | tool | target | value | result |",
            "|---|---|---|---|---|---|",
        ]
        for t, row, x in targets:
            value = fmt_bytes(x.value) if x.metric == "rss" else fmt_ns(x.value)
            result = "–" if x.passed is None else ("pass" if x.passed else "**FAIL**")
            lines.append(f"| {row.operation} | {row.fixture} | {t} | {x.target} | {value} | {result} |")
    lines += ["", "## Not measured", ""] + [f"- {n}" for n in report.not_measured]
    host = r.host
    lines += [
        "",
        "## Environment",
        "",
        f"{host.get('cpu_model', '?')}, {host.get('cores', '?')} cores, "
        f"{(host.get('memory_bytes') or 0) / (1 << 30):.0f} GiB, kernel {host.get('kernel', '?')}, "
        f"work filesystem {host.get('work_fs', '?')}, cgroup {host.get('cgroup', '?')}; "
        f"bench-pipeline {host.get('bench_pipeline_version', '?')} ({(host.get('bench_pipeline_commit') or '?')[:10]}).",
        "",
    ]
    text = "\n".join(lines)
    if len(text) > MAX_CHARS:
        cut = text[: MAX_CHARS - 300].rsplit("\n", 1)[0]
        pointer = f"the HTML report ({html_name})" if html_name else "the JSON report"
        text = cut + f"\n\n… truncated to fit a pull-request comment; the full tables are in {pointer}.\n"
    return text


def _summary(report: Report) -> list[str]:
    """Verdicts first: the geometric-mean ratio per tool pair, then the largest significant effects."""
    if not report.pairs and not report.findings:
        return []
    lines = ["## Summary", ""]
    for p in report.pairs:
        if p.metric != "wall" or p.geomean_ratio is None:
            continue
        counts = ", ".join(f"{n} {v}" for v, n in sorted(p.verdicts.items()))
        ci = f" (95% CI {p.ci_low:.2f}–{p.ci_high:.2f})" if p.ci_low and p.ci_high else ""
        lines.append(
            f"- **{p.tool_b} vs {p.tool_a}**: geometric mean of time ratios {p.geomean_ratio:.2f}{ci} "
            f"over {p.cells} cells; {counts}."
        )
    shown = report.findings[:15]
    if shown:
        lines += [
            "",
            f"Significant differences (Benjamini–Hochberg across all {len(report.comparisons)} comparisons, "
            f"margin δ = {report.delta:.0%}), largest first:",
            "",
        ]
        lines += [f"- {f}" for f in shown]
        if len(report.findings) > len(shown):
            lines.append(f"- … and {len(report.findings) - len(shown)} more in the comparison table below.")
    elif report.comparisons:
        lines += [
            "",
            "No difference between tools is significant beyond the practical margin "
            f"δ = {report.delta:.0%} in this run.",
        ]
    return lines + [""]


def _comparison_tables(report: Report) -> list[str]:
    wall = [c for c in report.comparisons if c.metric == "wall"]
    if not wall:
        return []
    lines = [
        "",
        "## Comparisons (time)",
        "",
        "Ratio = median of B / median of A (below 1: B is faster), BCa bootstrap 95% CI, Brunner–Munzel p "
        "adjusted by Benjamini–Hochberg.",
        "",
        "| operation | fixture | B vs A | ratio | 95% CI | p_adj | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in wall:
        ratio = f"{c.ratio:.3f}" if c.ratio else "–"
        ci = f"{c.ci_low:.3f}–{c.ci_high:.3f}" if c.ci_low and c.ci_high else "–"
        p = f"{c.p_adjusted:.2g}" if c.p_adjusted is not None else "–"
        verdict = f"**{c.verdict}**" if c.verdict in ("faster", "slower", "invalid") else c.verdict
        lines.append(
            f"| {c.operation} | {c.fixture} | {c.tool_b} vs {c.tool_a} | {ratio} | {ci} | {p} | {verdict} |"
        )
    return lines
