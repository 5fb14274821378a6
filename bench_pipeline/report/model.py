"""The report model: everything a report shows, read from the store (``runs``, ``run_cells``,
``cell_stats_all``), so every number in any format is traceable to a table."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from bench_pipeline.store import Store

SCHEMA_VERSION = "1.0"


class MetricSummary(BaseModel):
    n: int
    median: float | None = None
    mean: float | None = None
    std: float | None = None
    cv: float | None = None
    min: float | None = None
    max: float | None = None
    p5: float | None = None
    p95: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None


class ToolCell(BaseModel):
    status: str  # measured | failed | na | unavailable
    reason: str = ""
    n_ok: int = 0
    n_failed: int = 0
    stop: str = ""
    metrics: dict[str, MetricSummary] = Field(default_factory=dict)  # wall, cpu, rss
    warnings: list[str] = Field(default_factory=list)


class OperationRow(BaseModel):
    operation: str
    category: str
    fixture: str
    tools: dict[str, ToolCell]


class RunInfo(BaseModel):
    run_id: str
    suite: str
    status: str
    started_at: str
    finished_at: str | None
    trigger: str
    backend: str | None
    git_tag: str | None
    git_commit: str | None
    quick: bool
    tools: list[str]
    sizes: list[str]
    tool_versions: dict[str, str]
    host: dict[str, Any]
    settings: dict[str, Any]
    seconds: float | None


class Report(BaseModel):
    schema_version: str = SCHEMA_VERSION
    generated_at: str
    suite: str
    run: RunInfo
    cell_counts: dict[str, int]
    samples: int
    operations: list[OperationRow]
    not_measured: list[str]
    warnings: list[str]


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def build_report(store: Store, suite: str, run_id: str) -> Report:
    run = store.run(run_id)
    cells = store.query("SELECT * FROM run_cells WHERE run_id = ? ORDER BY operation, fixture, tool", [run_id])
    stats = store.query("SELECT * FROM cell_stats_all WHERE run_id = ?", [run_id])
    n_samples = store.query("SELECT count(*) AS n FROM samples_all WHERE run_id = ?", [run_id]).item(0, 0)
    by_cell: dict[tuple[str, str, str], dict[str, MetricSummary]] = {}
    for row in stats.iter_rows(named=True):
        fields = {k: row.get(k) for k in MetricSummary.model_fields}
        fields["n"] = int(row["n"] or 0)
        by_cell.setdefault((row["tool"], row["operation"], row["fixture"]), {})[row["metric"]] = MetricSummary(**fields)
    warn_by_cell = {
        (r["tool"], r["operation"], r["fixture"]): list(r["warnings"] or [])
        for r in stats.filter(stats["metric"] == "wall").iter_rows(named=True)
    } if "warnings" in stats.columns and not stats.is_empty() else {}
    rows: dict[tuple[str, str], OperationRow] = {}
    for c in cells.iter_rows(named=True):
        key = (c["operation"], c["fixture"])
        row = rows.setdefault(key, OperationRow(operation=c["operation"], category=c["category"] or "",
                                                fixture=c["fixture"], tools={}))
        cell_key = (c["tool"], c["operation"], c["fixture"])
        row.tools[c["tool"]] = ToolCell(
            status=c["status"], reason=c["reason"] or "", n_ok=c["n_ok"] or 0, n_failed=c["n_failed"] or 0,
            stop=c["stop"] or "", metrics=by_cell.get(cell_key, {}), warnings=warn_by_cell.get(cell_key, []),
        )
    counts: dict[str, int] = {}
    for status in cells["status"].to_list():
        counts[status] = counts.get(status, 0) + 1
    info = RunInfo(
        run_id=run["run_id"], suite=run["suite"], status=run["status"], started_at=str(run["started_at"]),
        finished_at=str(run["finished_at"]) if run["finished_at"] else None, trigger=run["trigger"],
        backend=run["backend"], git_tag=run["git_tag"], git_commit=run["git_commit"], quick=bool(run["quick"]),
        tools=_json(run["tools"]) or [], sizes=_json(run["sizes"]) or [],
        tool_versions=_json(run["tool_versions"]) or {}, host=_json(run["host"]) or {},
        settings=_json(run["settings"]) or {}, seconds=run["seconds"],
    )
    return Report(
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"), suite=suite, run=info, cell_counts=counts,
        samples=int(n_samples), operations=list(rows.values()),
        not_measured=_not_measured(info, rows, cells), warnings=_warnings(info, rows),
    )


def _not_measured(info: RunInfo, rows: dict, cells) -> list[str]:
    notes = []
    missing_sizes = [s for s in ("small", "medium", "large") if s not in info.sizes]
    if missing_sizes:
        notes.append(f"Fixture sizes not run: {', '.join(missing_sizes)}.")
    if info.quick:
        notes.append("Quick mode: few runs per cell, so confidence intervals are wide; use a full run for verdicts.")
    for status, label in (("na", "not applicable"), ("unavailable", "unavailable"), ("failed", "failed")):
        items = sorted({f"{c['tool']}/{c['operation']} ({c['fixture']})" for c in cells.iter_rows(named=True)
                        if c["status"] == status})
        if items:
            notes.append(f"{label.capitalize()} cells ({len(items)}): {', '.join(items[:20])}"
                         + (f" and {len(items) - 20} more" if len(items) > 20 else "") + ".")
    notes.append("Comparisons between tools with confidence intervals and significance are not part of this report yet.")
    return notes


def _warnings(info: RunInfo, rows: dict) -> list[str]:
    out = []
    noisy = [f"{t}/{r.operation} ({r.fixture})" for r in rows.values() for t, c in r.tools.items()
             if "wall" in c.metrics and (c.metrics["wall"].cv or 0) >= 0.10]
    if noisy:
        out.append(f"{len(noisy)} cell(s) have CV ≥ 10%: {', '.join(noisy[:10])}{' …' if len(noisy) > 10 else ''}")
    return out
