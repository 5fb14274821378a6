"""What the history dashboard shows (``bench-pipeline serve``, pages in ``dashboard_pages``), read from
the store: plain data, no HTML.

* :func:`suites` — every suite with runs: counts, newest run, tools.
* :func:`suite_overview` — per operation × fixture and tool: the medians of the last runs (sparkline),
  the newest one judged against its history by the same-run gate (``history.gate``: regression,
  improvement, steady, or new when fewer than 3 earlier runs), and the tool comparisons of the
  newest run (``comparisons``).
* :func:`operation_history` — one operation's run medians with CIs per tool × fixture, per host and
  over all hosts, with the change points of each series (``history.analyse_cell``: E-divisive
  confirmed by PELT, persistent, beyond δ), the release tags and the hosts and fixture sizes to
  filter by.
* :func:`run_detail` — a run, its cells, its findings, its archived reports.
* :func:`compare` — two runs, or two revisions (``tag:NAME``, ``commit:SHA``), cell by cell.

The series are the history's (``history.series``): succeeded runs, quick runs only when a suite has
no other. Every value comes from a table; nothing is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from bench_pipeline import paths
from bench_pipeline.analysis import compare_run_to_baseline
from bench_pipeline.errors import BenchError, RunNotFound
from bench_pipeline.fixtures import fixture_for
from bench_pipeline.history import analyse_cell, load_series, suite_delta
from bench_pipeline.history.gate import MIN_REFERENCE, same_run_gate
from bench_pipeline.history.series import host_key_sql
from bench_pipeline.jsonable import decode_json_text, finite_float
from bench_pipeline.patterns.findings import RunFindings, run_findings
from bench_pipeline.report.archive import FORMATS
from bench_pipeline.store import Store

SPARK_RUNS = 30
ALL_HOSTS = "all"
METRIC_UNITS = {"wall": "ns", "cpu": "ns", "rss": "bytes"}

SUITES_SQL = """
SELECT suite, count(*) AS runs, count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
       max(started_at) AS newest, count(DISTINCT git_tag) AS tags
FROM runs WHERE status IN ('succeeded', 'failed') GROUP BY suite ORDER BY suite
"""
RUNS_SQL = f"""
SELECT run_id, started_at, status, trigger, git_tag, git_commit, quick, tools,
       {host_key_sql()} AS host, json_extract_string(host, '$.hostname') AS hostname
FROM runs WHERE suite = ? AND status IN ('succeeded', 'failed') ORDER BY started_at DESC, run_id DESC
"""
LATEST_COMPARISONS_SQL = """
SELECT operation, fixture, tool_a, tool_b, ratio, ci_low, ci_high, p_adjusted, verdict
FROM comparisons WHERE run_id = ? AND metric = 'wall' ORDER BY operation, fixture, tool_a, tool_b
"""
RUN_CELLS_SQL = """
SELECT c.operation, c.fixture, c.tool, c.status, c.reason, c.n_ok, c.n_failed,
       s.median, s.ci_low, s.ci_high, s.cv
FROM run_cells c LEFT JOIN cell_stats_all s
  ON s.run_id = c.run_id AND s.tool = c.tool AND s.operation = c.operation AND s.fixture = c.fixture AND s.metric = 'wall'
WHERE c.run_id = ? ORDER BY c.operation, c.fixture, c.tool
"""
COMMIT_SQL = """
SELECT run_id FROM runs WHERE suite = ? AND status IN ('succeeded', 'failed') AND starts_with(git_commit, ?)
ORDER BY started_at DESC LIMIT 1
"""


# ------------------------------------------------------------------------------------------ suites
def suites(store: Store) -> list[dict[str, Any]]:
    """Suites with finished runs: runs, succeeded, newest start, tags."""
    return store.query(SUITES_SQL).to_dicts()


def runs_of(store: Store, suite: str) -> list[dict[str, Any]]:
    """Finished runs of a suite, newest first, with host fingerprint and hostname."""
    return store.query(RUNS_SQL, [suite]).to_dicts()


def host_label(run: dict[str, Any]) -> str:
    name, fingerprint = run.get("hostname"), run.get("host") or "unknown host"
    return f"{name} · {fingerprint}" if name else fingerprint


def _series(store: Store, suite: str, metric: str, host: str | None) -> pl.DataFrame:
    """The history's series; with quick runs when the suite has nothing else."""
    frame = load_series(store, suite, metric=metric, host=host)
    return (
        frame
        if not frame.is_empty()
        else load_series(store, suite, metric=metric, host=host, include_quick=True)
    )


# ------------------------------------------------------------------------------------------ overview
@dataclass
class ToolTrend:
    tool: str
    medians: list[float]
    run_ids: list[str]
    latest: float | None
    latest_run_id: str | None
    verdict: str  # regression | improvement | steady | new
    ratio: float | None = None  # newest / the level of the runs before it


@dataclass
class OverviewRow:
    operation: str
    fixture: str
    tools: dict[str, ToolTrend] = field(default_factory=dict)
    comparisons: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SuiteOverview:
    suite: str
    latest_run: dict[str, Any] | None
    tools: list[str]
    rows: list[OverviewRow]
    runs: int
    host: str | None


def _verdict(medians: list[float], delta: float) -> tuple[str, float | None]:
    judged = same_run_gate(np.log(np.asarray(medians, dtype=float)), delta=delta)
    if judged.reference_points < MIN_REFERENCE or judged.ratio is None:
        return "new", None
    if judged.alert:
        return ("regression" if judged.direction == "higher" else "improvement"), judged.ratio
    return "steady", judged.ratio


def suite_overview(store: Store, suite: str, *, spark_runs: int = SPARK_RUNS) -> SuiteOverview:
    """Each operation × fixture of the suite with a trend per tool (module docstring)."""
    runs = runs_of(store, suite)
    if not runs:
        raise RunNotFound(f"suite {suite!r} has no finished runs", fix="run it, or ingest results into it")
    latest = runs[0]
    delta = suite_delta(suite)
    series = _series(store, suite, "wall", "newest")
    rows: dict[tuple[str, str], OverviewRow] = {}
    for cell in series.partition_by(["operation", "fixture", "tool"], maintain_order=True):
        first = cell.row(0, named=True)
        medians = cell["median"].to_list()
        verdict, ratio = _verdict(medians, delta)
        row = rows.setdefault(
            (first["operation"], first["fixture"]), OverviewRow(first["operation"], first["fixture"])
        )
        row.tools[first["tool"]] = ToolTrend(
            tool=first["tool"],
            medians=medians[-spark_runs:],
            run_ids=cell["run_id"].to_list()[-spark_runs:],
            latest=medians[-1],
            latest_run_id=cell["run_id"][-1],
            verdict=verdict,
            ratio=ratio,
        )
    for c in store.query(LATEST_COMPARISONS_SQL, [latest["run_id"]]).iter_rows(named=True):
        row = rows.setdefault((c["operation"], c["fixture"]), OverviewRow(c["operation"], c["fixture"]))
        row.comparisons.append(c)
    tools = sorted({t for r in rows.values() for t in r.tools} | set(decode_json_text(latest["tools"]) or []))
    host = series["host"][0] if not series.is_empty() else None
    return SuiteOverview(
        suite=suite,
        latest_run=latest,
        tools=tools,
        rows=[rows[k] for k in sorted(rows)],
        runs=len(runs),
        host=host,
    )


# ------------------------------------------------------------------------------------------ operation
def _points(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "run_id": r["run_id"],
            "started_at": r["started_at"].isoformat(),
            "median": finite_float(r["median"]),
            "ci_low": finite_float(r["ci_low"]),
            "ci_high": finite_float(r["ci_high"]),
            "n": r["n"],
            "host": r["host"],
            "git_tag": r["git_tag"],
        }
        for r in frame.iter_rows(named=True)
    ]


def _change_points(frame: pl.DataFrame, suite: str, delta: float) -> list[dict[str, Any]]:
    if frame.height < 2:
        return []
    cell = analyse_cell(frame, suite=suite, delta=delta)
    return [
        {
            "run_id": cp.run_id,
            "started_at": cp.started_at.isoformat(),
            "before_median": cp.before_median,
            "after_median": cp.after_median,
            "ratio": cp.ratio,
            "direction": cp.direction,
            "p_value": cp.p_value,
        }
        for cp in cell.change_points
    ]


def operation_history(store: Store, suite: str, operation: str, metric: str = "wall") -> dict[str, Any]:
    """The operation page's data: series per tool × fixture × host (and over all hosts) with change
    points, tags, hosts, fixtures (smallest first); raises RunNotFound when there is nothing."""
    runs = runs_of(store, suite)
    series = _series(store, suite, metric, None).filter(pl.col("operation") == operation)
    if series.is_empty():
        raise RunNotFound(
            f"no succeeded run of {suite!r} measured {operation!r} ({metric})",
            fix="pick an operation from the suite overview",
        )
    delta = suite_delta(suite)
    out_series = []
    for cell in series.partition_by(["tool", "fixture"], maintain_order=True):
        first = cell.row(0, named=True)
        for host, part in [
            (ALL_HOSTS, cell),
            *((h, g) for (h,), g in cell.group_by(["host"], maintain_order=True)),
        ]:
            out_series.append(
                {
                    "tool": first["tool"],
                    "fixture": first["fixture"],
                    "host": host if host is not None else "unknown host",
                    "points": _points(part),
                    "change_points": _change_points(part, suite, delta),
                }
            )
    measured_runs = set(series["run_id"].to_list())
    hosts: dict[str, dict[str, Any]] = {}
    for r in runs:
        if r["run_id"] in measured_runs:
            key = r["host"] or "unknown host"
            entry = hosts.setdefault(key, {"id": key, "label": host_label(r), "runs": 0})
            entry["runs"] += 1
    fixtures = sorted({s["fixture"] for s in out_series}, key=_fixture_order)
    newest_host = next((r["host"] or "unknown host" for r in runs if r["run_id"] in measured_runs), ALL_HOSTS)
    return {
        "suite": suite,
        "operation": operation,
        "metric": metric,
        "unit": METRIC_UNITS.get(metric, ""),
        "delta": delta,
        "tools": sorted({s["tool"] for s in out_series}),
        "fixtures": [{"name": f, "commits": _commits(f)} for f in fixtures],
        "hosts": list(hosts.values()),
        "default_host": newest_host,
        "series": out_series,
        "tags": [
            {
                "tag": r["git_tag"],
                "run_id": r["run_id"],
                "started_at": r["started_at"].isoformat(),
                "host": r["host"],
            }
            for r in reversed(runs)
            if r["git_tag"]
        ],
    }


def _commits(fixture: str) -> int | None:
    try:
        return fixture_for(fixture).commits
    except BenchError:
        return None


def _fixture_order(fixture: str) -> tuple[bool, int, str]:
    commits = _commits(fixture)
    return commits is None, commits or 0, fixture


def operations_of(store: Store, suite: str) -> list[str]:
    return store.query(
        "SELECT DISTINCT operation FROM cell_stats_all WHERE suite = ? ORDER BY operation", [suite]
    )["operation"].to_list()


# ------------------------------------------------------------------------------------------ run
@dataclass
class RunDetail:
    run: dict[str, Any]
    cells: list[dict[str, Any]]
    findings: RunFindings
    reports: dict[str, bool]  # format -> the archived file exists
    runs: list[dict[str, Any]]  # the suite's runs, for the compare form


def run_of_suite(store: Store, suite: str, run_id: str) -> dict[str, Any]:
    """The ``runs`` row of ``run_id``; RunNotFound unless it is a run of ``suite``."""
    run = store.run(run_id)
    if run["suite"] != suite:
        raise RunNotFound(f"run {run_id!r} is not a run of {suite!r}", fix=f"it belongs to {run['suite']!r}")
    return run


def run_detail(store: Store, suite: str, run_id: str) -> RunDetail:
    run = run_of_suite(store, suite, run_id)
    run = {
        **run,
        **{k: decode_json_text(run.get(k)) for k in ("host", "tool_versions", "tools", "sizes", "settings")},
    }
    folder = report_dir(suite, run_id)
    return RunDetail(
        run=run,
        cells=store.query(RUN_CELLS_SQL, [run_id]).to_dicts(),
        findings=run_findings(store, suite, run_id),
        reports={fmt: (folder / f"report.{fmt}").is_file() for fmt in FORMATS},
        runs=runs_of(store, suite),
    )


def report_dir(suite: str, run_id: str):
    """Where a run's archived reports are (``report.archive``)."""
    return paths.reports_dir() / suite / run_id


# ------------------------------------------------------------------------------------------ compare
def resolve(store: Store, suite: str, ref: str) -> str:
    """A run id from a run REF (id, latest, latest~N, tag:NAME) or a revision ``commit:SHA`` (prefix):
    the newest finished run of that revision."""
    if ref.startswith("commit:"):
        sha = ref.removeprefix("commit:").strip()
        found = store.query(COMMIT_SQL, [suite, sha]) if len(sha) >= 4 else pl.DataFrame()
        if found.is_empty():
            raise RunNotFound(
                f"no finished run of {suite!r} at commit {sha!r}", fix="pick a revision from the list"
            )
        return str(found.item(0, 0))
    return store.resolve_run(suite, ref)


@dataclass
class Comparison:
    baseline: str
    candidate: str
    metric: str
    rows: list[dict[str, Any]]
    notes: list[str]


def compare(store: Store, suite: str, baseline: str, candidate: str, metric: str = "wall") -> Comparison:
    """Candidate vs baseline per cell (``analysis.compare_run_to_baseline``: ratio with its BCa CI,
    Brunner–Munzel, Benjamini–Hochberg over the cells of this comparison)."""
    base_id, cand_id = resolve(store, suite, baseline), resolve(store, suite, candidate)
    _, _, notes, frame = compare_run_to_baseline(store, suite, base_id, cand_id, None, metric)
    rows = [
        {k: (finite_float(v) if isinstance(v, float) else v) for k, v in r.items()} for r in frame.to_dicts()
    ]
    return Comparison(base_id, cand_id, metric, rows, notes)


def revisions(runs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(REF, label) of the tags and commits among ``runs``, newest first, each once."""
    seen: dict[str, str] = {}
    for r in runs:
        if r.get("git_tag") and f"tag:{r['git_tag']}" not in seen:
            seen[f"tag:{r['git_tag']}"] = f"tag {r['git_tag']}"
        if r.get("git_commit") and f"commit:{r['git_commit']}" not in seen:
            seen[f"commit:{r['git_commit']}"] = f"commit {r['git_commit'][:12]}"
    return list(seen.items())


def jsonable(value: Any) -> Any:
    """``value`` with NaN and infinities as None and times as ISO 8601 text, for a page's JSON."""
    if isinstance(value, float):
        return finite_float(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value.isoformat() if hasattr(value, "isoformat") else value


def to_json(value: Any) -> str:
    return json.dumps(jsonable(value), default=str, allow_nan=False)
