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
        + (f" · tag `{r.git_tag}`" if r.git_tag else "") + f" · backend {r.backend}"
        + (" · quick mode" if r.quick else ""),
        "",
        "Tools: " + ", ".join(f"{t} ({r.tool_versions.get(t, 'unavailable')})" for t in tools)
        + f". Sizes: {', '.join(r.sizes)}. Samples: {report.samples}. Cells: "
        + ", ".join(f"{v} {k}" for k, v in sorted(report.cell_counts.items())) + ".",
        "",
        "Medians of wall time, with the distribution-free 95% confidence interval of the median in brackets "
        "where enough runs exist.",
        "",
    ]
    if report.warnings:
        lines += ["## Warnings", ""] + [f"- {w}" for w in report.warnings] + [""]
    lines += ["## Operations", "", "| operation | fixture | " + " | ".join(tools) + " | peak RSS |",
              "|---|---|" + "---|" * len(tools) + "---|"]
    for row in report.operations:
        rss = " / ".join(fmt_bytes(row.tools[t].metrics["rss"].median) if t in row.tools and "rss" in row.tools[t].metrics
                         else "–" for t in tools)
        lines.append(f"| {row.operation} | {row.fixture} | " + " | ".join(_cell(row.tools.get(t)) for t in tools)
                     + f" | {rss} |")
    lines += ["", "## Not measured", ""] + [f"- {n}" for n in report.not_measured]
    host = r.host
    lines += ["", "## Environment", "",
              f"{host.get('cpu_model', '?')}, {host.get('cores', '?')} cores, "
              f"{(host.get('memory_bytes') or 0) / (1 << 30):.0f} GiB, kernel {host.get('kernel', '?')}, "
              f"work filesystem {host.get('work_fs', '?')}, cgroup {host.get('cgroup', '?')}; "
              f"bench-pipeline {host.get('bench_pipeline_version', '?')} ({(host.get('bench_pipeline_commit') or '?')[:10]}).",
              ""]
    text = "\n".join(lines)
    if len(text) > MAX_CHARS:
        cut = text[: MAX_CHARS - 300].rsplit("\n", 1)[0]
        pointer = f"the HTML report ({html_name})" if html_name else "the JSON report"
        text = cut + f"\n\n… truncated to fit a pull-request comment; the full tables are in {pointer}.\n"
    return text
