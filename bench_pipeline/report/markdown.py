"""Markdown exporter: short enough for a pull-request comment, verdicts first, then tables."""

from __future__ import annotations

import statistics

from bench_pipeline.report.markdown_findings import findings_markdown
from bench_pipeline.report.model import METRIC_WORDS, Report, ToolCell, decided_metric
from bench_pipeline.suite.build import release_key

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
        return "not planned"
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


def render_markdown(report: Report, html_name: str | None = None, json_name: str = "report.json") -> str:
    """The report as Markdown of at most :data:`MAX_CHARS` characters (a GitHub comment's limit).

    When the full text is longer, the long tables keep their first rows and the text ends by naming
    the file that has them all: ``html_name`` when given, else ``json_name``.
    """
    text = _render(report, None)
    if len(text) <= MAX_CHARS:
        return text
    pointer = f"the HTML report `{html_name}`" if html_name else f"the JSON report `{json_name}`"
    limit = max(len(report.operations), len(report.comparisons), len(report.history), len(report.scaling))
    while limit > 0 and len(text) > MAX_CHARS - 400:  # tables shrink in proportion until the text fits
        limit = min(limit - 1, int(limit * (MAX_CHARS - 2_000) / len(text)))
        text = _render(report, max(limit, 0))
    if len(text) > MAX_CHARS - 400:  # even the untabled parts are too long
        text = text[: MAX_CHARS - 400].rsplit("\n", 1)[0]
    return (
        text.rstrip("\n")
        + f"\n\n… truncated to fit a pull-request comment; the full tables are in {pointer}.\n"
    )


def _capped(rows: list[str], limit: int | None, what: str) -> list[str]:
    if limit is None or len(rows) <= limit:
        return rows
    return [*rows[:limit], f"| … {len(rows) - limit} more {what} not shown here |"]


def _render(report: Report, limit: int | None) -> str:
    r = report.run
    tools = r.tools
    lines = [
        f"# bench-pipeline: {report.suite} — run `{r.run_id}`",
        "",
        f"{r.status} · {r.started_at[:19]} UTC · trigger {r.trigger}"
        + (f" · tag `{r.git_tag}`" if r.git_tag else "")
        + f" · backend {r.backend}"
        + (" · quick mode" if r.quick else "")
        + (
            f" · **{r.settings['parallel']} tools measured in parallel**"
            if r.settings.get("parallel", 1) > 1
            else ""
        ),
        "",
        "Tools: "
        + ", ".join(f"{t} ({r.tool_versions.get(t, 'unavailable')})" for t in tools)
        + f". Sizes: {', '.join(r.sizes)}. Samples: {report.samples}. Cells: "
        + ", ".join(f"{v} {k}" for k, v in sorted(report.cell_counts.items()))
        + ".",
        "",
    ]
    for u in report.unavailable_tools:  # before the verdicts: what the reader should not look for
        lines += [f"> **{u.tool} was not measured** ({u.action}): {u.reason}. Fix: `{u.fix}`", ""]
    lines += _summary(report)
    lines += _revisions(report, limit) + _builds(report)
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
    op_rows = []
    for row in report.operations:
        rss = " / ".join(
            fmt_bytes(row.tools[t].metrics["rss"].median)
            if t in row.tools and "rss" in row.tools[t].metrics
            else "–"
            for t in tools
        )
        op_rows.append(
            f"| {row.operation} | {row.fixture} | "
            + " | ".join(_cell(row.tools.get(t)) for t in tools)
            + f" | {rss} |"
        )
    lines += _capped(op_rows, limit, "operation rows")
    lines += _comparison_tables(report, limit)
    targets = [(t, row, x) for row in report.operations for t, c in row.tools.items() for x in c.targets]
    if targets:
        lines += [
            "",
            "## Targets",
            "",
            "| operation | fixture | tool | target | value | result |",
            "|---|---|---|---|---|---|",
        ]
        target_rows = []
        for t, row, x in targets:
            value = fmt_bytes(x.value) if x.metric == "rss" else fmt_ns(x.value)
            result = "no value" if x.passed is None else ("pass" if x.passed else "**FAIL**")
            target_rows.append(f"| {row.operation} | {row.fixture} | {t} | {x.target} | {value} | {result} |")
        lines += _capped(target_rows, limit, "targets")
    lines += _history(report, limit) + _scaling(report, limit) + findings_markdown(report, limit)
    lines += ["", "## Not measured", ""] + [f"- {n}" for n in report.not_measured]
    host = r.host
    lines += [
        "",
        "## Environment",
        "",
        f"Measured on host **{host.get('host') or host.get('hostname', '?')}** (host class "
        f"`{host.get('host_class') or 'local'}`, {host.get('cpus_usable') or host.get('cores', '?')} usable CPUs): "
        "every tool of this run on that host; history and baselines compare it with runs of its class only.",
        "",
        f"{host.get('cpu_model', '?')}, {host.get('cores', '?')} cores, "
        f"{(host.get('memory_bytes') or 0) / (1 << 30):.0f} GiB, kernel {host.get('kernel', '?')}, "
        f"work filesystem {host.get('work_fs', '?')}, cgroup {host.get('cgroup', '?')}; "
        f"bench-pipeline {host.get('bench_pipeline_version', '?')} ({(host.get('bench_pipeline_commit') or '?')[:10]}).",
        "",
    ]
    return "\n".join(lines)


def _verdict(word: str) -> str:
    return f"**{word}**" if word in ("faster", "slower") else word


def _revisions(report: Report, limit: int | None) -> list[str]:
    """What each newer revision changed, one table per pair: time and CPU time, ratios, CIs, verdicts."""
    changes = [c for c in report.revisions if c.metric == "wall"]
    if not changes:
        return []
    cpu = {(c.old, c.new, c.operation, c.fixture): c for c in report.revisions if c.metric == "cpu"}
    stopped, other = ("CPU time", "time") if decided_metric(report) == "cpu" else ("time", "CPU time")
    lines = [
        "## What changed between revisions",
        "",
        f"Ratio = newer / older revision, with the interval and verdict of the run's comparisons ({stopped}: "
        f"the paired ratio the run was sampled to a verdict on; {other}: ratio of medians, BCa 95% CI), "
        "measured interleaved on the same fixtures. CPU time is user + sys: what a busy machine disturbs least.",
        "",
    ]
    for old, new in dict.fromkeys((c.old, c.new) for c in changes):
        rows = [c for c in changes if (c.old, c.new) == (old, new)]
        by_verdict: dict[str, list[str]] = {}
        for c in rows:
            by_verdict.setdefault(c.verdict, []).append(
                f"`{c.operation}` ({c.fixture}, {c.ratio:.2f}×)"
                if c.ratio
                else f"`{c.operation}` ({c.fixture})"
            )
        summary = "; ".join(
            f"{verdict} at {', '.join(ops)}" if len(ops) <= 8 else f"{verdict} at {len(ops)} cells"
            for verdict, ops in sorted(by_verdict.items())
        )
        lines += [f"**{new} vs {old}** (time): {summary}.", ""]
        lines += [
            f"| operation | fixture | {old} | {new} | ratio | CI | verdict | CPU ratio | CPU CI | CPU verdict |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        table = []
        for c in rows:
            k = cpu.get((old, new, c.operation, c.fixture))
            table.append(
                f"| {c.operation} | {c.fixture} | {fmt_ns(c.median_old)} | {fmt_ns(c.median_new)} | "
                f"{_ratio(c.ratio)} | {_ci(c.ci_low, c.ci_high)} | {_verdict(c.verdict)} | "
                + (
                    f"{_ratio(k.ratio)} | {_ci(k.ci_low, k.ci_high)} | {_verdict(k.verdict)} |"
                    if k
                    else "– | – | – |"
                )
            )
        lines += _capped(table, limit, "cells") + [""]
    return lines + _releases(report, limit)


def _releases(report: Report, limit: int | None) -> list[str]:
    """Every revision measured so far, side by side in release order (when there are more than this run's)."""
    lines: list[str] = []
    for tool in dict.fromkeys(p.tool for p in report.releases):
        points = [p for p in report.releases if p.tool == tool]
        revisions = sorted({p.revision for p in points}, key=lambda r: release_key(r.partition("@")[2]))[-10:]
        if len(revisions) <= len([t for t in report.run.tools if t.startswith(f"{tool}@")]):
            continue  # nothing beyond this run's own revisions
        by_cell: dict[tuple[str, str], dict[str, str]] = {}
        for p in points:
            by_cell.setdefault((p.operation, p.fixture), {})[p.revision] = fmt_ns(p.median)
        lines += [
            f"**Releases of {tool} measured so far** (newest median of each revision in full runs of the "
            "suite, time; a trend across runs — the interleaved comparisons above are the fair ones)",
            "",
            "| operation | fixture | " + " | ".join(revisions) + " |",
            "|---|---|" + "---|" * len(revisions),
        ]
        rows = [
            f"| {op} | {fx} | " + " | ".join(cells.get(r, "–") for r in revisions) + " |"
            for (op, fx), cells in by_cell.items()
        ]
        lines += _capped(rows, limit, "cells") + [""]
    return lines


def _ratio(value: float | None) -> str:
    return f"{value:.3f}" if value else "–"


def _ci(low: float | None, high: float | None) -> str:
    return f"{low:.3f}–{high:.3f}" if low and high else "–"


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


def _builds(report: Report) -> list[str]:
    """The tools obtained from their build recipe: which revision, which commit, cached or built, how long."""
    if not report.builds:
        return []
    lines = [
        "## Builds",
        "",
        "| tool | revision | commit | status | build time in this run | the build took |",
        "|---|---|---|---|---|---|",
    ]
    for b in report.builds:
        took = _seconds(b.build_seconds) if b.build_seconds is not None else "–"
        status = f"**{b.status}**" if b.status == "failed" else b.status
        lines.append(
            f"| {b.tool} | {b.rev} | `{b.commit[:12]}` | {status} | {_seconds(b.seconds)} | {took} |"
        )
    lines.append("")
    for b in report.builds:
        if b.status in ("failed", "skip", "unavailable"):
            lines += [f"- {b.tool}: {b.reason}"]
    return [*lines, ""] if lines[-1].startswith("- ") else lines


def conclusions(report: Report) -> list[str]:
    """The decided verdicts first, per tool pair (on the metric the run was sampled to a verdict on),
    then what stayed undecided and why."""
    metric = decided_metric(report)
    on = " in CPU time" if metric == "cpu" else ""
    decided = [c for c in report.comparisons if c.metric == metric and c.verdict != "invalid"]
    by_pair: dict[tuple[str, str], list] = {}
    for c in decided:
        by_pair.setdefault((c.tool_a, c.tool_b), []).append(c)
    lines = []
    for (a, b), rows in by_pair.items():
        n = len(rows)
        parts = []
        for verdict, word in (("slower", "slower than"), ("faster", "faster than")):
            hits = [c.ratio for c in rows if c.verdict == verdict and c.ratio]
            if hits:
                med = statistics.median(hits)
                parts.append(f"{word} **{a}**{on} on {len(hits)} of {n} operations (median ratio {med:.2f}×)")
        same = sum(c.verdict == "equivalent" for c in rows)
        if same:
            parts.append(f"equivalent to **{a}** on {same} of {n} (within ±{report.delta:.0%})")
        open_ = n - sum(c.verdict in ("slower", "faster", "equivalent") for c in rows)
        text = f"- **{b}** is " + "; ".join(parts) if parts else f"- **{b}** vs **{a}**: no verdict yet"
        lines.append(text + (f"; undecided on {open_}." if open_ else "."))
    return lines


def _undecided(report: Report, limit: int = 5) -> list[str]:
    """Why pairs stayed undecided: the stop reason of their cells (budget or max_runs, n, CI)."""
    metric = decided_metric(report)
    open_ = [c for c in report.comparisons if c.metric == metric and c.verdict in ("inconclusive",)]
    if not open_:
        return []
    stops = {}
    for row in report.operations:
        for tool, cell in row.tools.items():
            stops[(row.operation, row.fixture, tool)] = cell.stop
    shown = []
    for c in open_[:limit]:
        why = (
            stops.get((c.operation, c.fixture, c.tool_b))
            or stops.get((c.operation, c.fixture, c.tool_a))
            or ""
        )
        ci = f", CI {c.ci_low:.3f}–{c.ci_high:.3f}" if c.ci_low and c.ci_high else ""
        shown.append(
            f"  - {c.tool_b} vs {c.tool_a}, {c.operation} ({c.fixture}): {why or 'not decided'}{ci if not why else ''}"
        )
    more = f" (first {limit} shown)" if len(open_) > limit else ""
    return [
        f"- **Undecided: {len(open_)}** of {len([c for c in report.comparisons if c.metric == metric])} "
        f"{'CPU-time' if metric == 'cpu' else 'wall-time'} comparisons{more}:",
        *shown,
    ]


def _summary(report: Report) -> list[str]:
    """Conclusions first: what is decided (with ratios), what is equivalent, what is not and why;
    then the geometric means with their CIs and the largest significant effects."""
    if not report.pairs and not report.findings and not report.comparisons:
        return []
    lines = ["## Summary", ""]
    lines += conclusions(report)
    lines += _undecided(report)
    m = report.run.measuring
    metric = decided_metric(report)
    if m.get("design") == "sequential":
        lines += [
            "",
            f"Measured until decided{' on CPU time (user + sys)' if metric == 'cpu' else ''} "
            f"(sequential design, looks at {', '.join(map(str, m.get('looks', [])))} "
            f"rounds; {m.get('rounds', '?')} rounds; duty cycle {m.get('duty_cycle', 0):.0%}"
            + (
                f"; fresh state by {', '.join(sorted(m.get('restore_methods', {})))}"
                if m.get("restore_methods")
                else ""
            )
            + "). Verdicts: the paired ratio's interval wholly outside (slower/faster) or inside (equivalent) "
            f"±{report.delta:.0%}, Benjamini–Hochberg across the run (docs/methods.md).",
        ]
    geo = []
    for p in report.pairs:
        if p.metric != metric or p.geomean_ratio is None:
            continue
        ci = f" (95% CI {p.ci_low:.2f}–{p.ci_high:.2f})" if p.ci_low and p.ci_high else ""
        geo.append(
            f"- {p.tool_b} / {p.tool_a}: geometric mean of {METRIC_WORDS[metric]} ratios {p.geomean_ratio:.2f}{ci} "
            f"over {p.cells} cells"
        )
    if geo:
        lines += ["", *geo]
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


def _fmt_metric(metric: str, value: float | None) -> str:
    return fmt_bytes(value) if metric == "rss" else fmt_ns(value)


def _history(report: Report, limit: int | None) -> list[str]:
    """Change points of the cells' series of run medians (only when the report holds history)."""
    if not report.history:
        return []
    found = [(s, cp) for s in report.history for cp in s.change_points]
    lines = ["", "## Change points", ""]
    if not found:
        return [*lines, f"No change point in the history of {len(report.history)} cells."]
    lines += [
        "| operation | fixture | tool | metric | from run | before | after | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [
        f"| {s.operation} | {s.fixture} | {s.tool} | {s.metric} | `{cp.run_id}` ({cp.started_at[:10]}) | "
        f"{_fmt_metric(s.metric, cp.before_median)} | {_fmt_metric(s.metric, cp.after_median)} | "
        + (f"{cp.ratio:.2f}" if cp.ratio is not None else "–")
        + " |"
        for s, cp in found
    ]
    return lines + _capped(rows, limit, "change points")


def _scaling(report: Report, limit: int | None) -> list[str]:
    """Growth classes of cost against fixture size (only when the report holds scaling fits)."""
    if not report.scaling:
        return []
    lines = [
        "",
        "## Scaling",
        "",
        "| tool | operation | metric | n counts | growth | exponent | R² | sizes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [
        f"| {f.tool} | {f.operation}{f' ({f.fixture})' if f.fixture else ''} | {f.metric} | {f.basis} | "
        f"{f.growth}{' (clear)' if f.clear else ''} | "
        + (f"{f.exponent:.2f}" if f.exponent is not None else "–")
        + " | "
        + (f"{f.r_squared:.2f}" if f.r_squared is not None else "–")
        + " | "
        + ", ".join(f"{p.label or p.fixture} {_fmt_metric(f.metric, p.median)}" for p in f.sizes)
        + " |"
        for f in report.scaling
    ]
    return lines + _capped(rows, limit, "fits")


def _comparison_tables(report: Report, limit: int | None = None) -> list[str]:
    wall = [c for c in report.comparisons if c.metric == "wall"]
    if not wall:
        return []
    sequential = any(c.n_rounds for c in wall)
    lines = [
        "",
        "## Comparisons (time)",
        "",
        (
            "Ratio = the paired Hodges–Lehmann estimate of B / A over the rounds both were measured in (below 1: "
            "B is faster), with the exact signed-rank interval at the level of the look that decided it (≥ 95%; "
            "sequential design, docs/methods.md), p valid under optional stopping, adjusted by "
            "Benjamini–Hochberg; n = paired rounds."
            if sequential
            else "Ratio = median of B / median of A (below 1: B is faster), BCa bootstrap 95% CI, Brunner–Munzel "
            "p adjusted by Benjamini–Hochberg."
        ),
        "",
        f"| operation | fixture | B vs A | ratio | {'CI' if sequential else '95% CI'} | p_adj | verdict |"
        + (" n |" if sequential else ""),
        "|---|---|---|---|---|---|---|" + ("---|" if sequential else ""),
    ]
    rows = []
    for c in wall:
        ratio = f"{c.ratio:.3f}" if c.ratio else "–"
        ci = f"{c.ci_low:.3f}–{c.ci_high:.3f}" if c.ci_low and c.ci_high else "–"
        p = f"{c.p_adjusted:.2g}" if c.p_adjusted is not None else "–"
        verdict = f"**{c.verdict}**" if c.verdict in ("faster", "slower", "invalid") else c.verdict
        rows.append(
            f"| {c.operation} | {c.fixture} | {c.tool_b} vs {c.tool_a} | {ratio} | {ci} | {p} | {verdict} |"
            + (f" {c.n_rounds or '–'} |" if sequential else "")
        )
    return lines + _capped(rows, limit, "comparisons")
