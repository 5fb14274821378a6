"""The report's revision sections (SPEC §16): which builds the run used — cached, built now,
failed — and, when a run measures revisions of one tool (``jj@0.44.0``, ``jj@0.45.1``, a tag
against the previous tag), what each newer revision changed, operation by operation.

A revision pair is read in the run's tool order: the tool listed first is the older revision
(the tag sensor lists the previous tag, then the new one). The numbers are the run's stored
comparisons (``analysis.oriented``), so they carry the same verdicts and CIs as tool-vs-tool.
"""

from __future__ import annotations

import polars as pl
from pydantic import BaseModel, Field

from bench_pipeline.analysis import oriented
from bench_pipeline.store import Store
from bench_pipeline.suite.build import release_key, split_tool

BUILDS_SQL = "SELECT * FROM builds WHERE run_id = ? ORDER BY recorded_at"
# every revision of the given tools measured so far in full runs of the suite: its newest wall median
RELEASES_SQL = """
SELECT c.tool, c.operation, c.fixture, c.median, c.ci_low, c.ci_high, c.run_id, r.started_at
FROM cell_stats_all c JOIN runs r ON r.run_id = c.run_id
WHERE c.suite = ? AND c.metric = 'wall' AND r.status = 'succeeded' AND NOT coalesce(r.quick, FALSE)
  AND strpos(c.tool, '@') > 0 AND list_contains(?, split_part(c.tool, '@', 1))
QUALIFY row_number() OVER (PARTITION BY c.tool, c.operation, c.fixture ORDER BY r.started_at DESC, r.run_id DESC) = 1
"""
# when a run obtained a tool twice (the fixtures stage, then the measuring step), the row that says most
STATUS_WEIGHT = {"failed": 5, "unavailable": 4, "skip": 3, "built": 2, "cached": 1}


class ToolBuild(BaseModel):
    """A tool the run obtained from its build recipe: cached, built now, failed or refused."""

    tool: str = Field(description="as the run names it: jj, jj@0.44.0")
    rev: str = Field(description="the revision asked for (version, tag, branch or commit)")
    commit: str = Field(description="what it resolved to (git: the commit; crates: the version)")
    kind: str = Field(description="crate | git")
    status: str = Field(description="cached | built | failed | skip | unavailable")
    seconds: float = Field(description="build time this run spent (0: the build was cached)")
    build_seconds: float | None = Field(default=None, description="how long the build took when it was made")
    reason: str = ""
    log: str | None = Field(default=None, description="the build log (kept for failed builds)")


class RevisionChange(BaseModel):
    """A newer revision relative to an older one of the same tool on one cell (ratio = new / old)."""

    tool: str = Field(description="the suite's tool")
    old: str = Field(description="the older revision, as the run names it (listed first)")
    new: str
    operation: str
    fixture: str
    metric: str
    median_old: float | None
    median_new: float | None
    ratio: float | None
    ci_low: float | None
    ci_high: float | None
    p_adjusted: float | None
    verdict: str = Field(
        description="faster | slower | equivalent | inconclusive (new relative to old) | invalid"
    )


class ReleasePoint(BaseModel):
    """A revision's newest median of one cell (wall time) in any full run of the suite: the releases
    of a tool side by side, in release order — a trend across runs, not an interleaved comparison."""

    tool: str
    revision: str = Field(description="as runs name it: jj@0.44.0")
    operation: str
    fixture: str
    median: float | None
    ci_low: float | None
    ci_high: float | None
    run_id: str
    started_at: str


def release_history(store: Store, suite: str, tools: list[str]) -> list[ReleasePoint]:
    """Every revision measured so far of the tools of which ``tools`` holds revisions, release order."""
    bases = sorted({split_tool(t)[0] for t in tools if split_tool(t)[1]})
    if not bases:
        return []
    points = [
        ReleasePoint(
            tool=split_tool(r["tool"])[0],
            revision=r["tool"],
            operation=r["operation"],
            fixture=r["fixture"],
            median=r["median"],
            ci_low=r["ci_low"],
            ci_high=r["ci_high"],
            run_id=r["run_id"],
            started_at=str(r["started_at"]),
        )
        for r in store.query(RELEASES_SQL, [suite, bases]).iter_rows(named=True)
    ]
    return sorted(
        points, key=lambda p: (p.tool, p.operation, p.fixture, release_key(split_tool(p.revision)[1] or ""))
    )


def builds_of_run(store: Store, run_id: str) -> list[ToolBuild]:
    """One entry per tool the run obtained from a build, in the order first obtained."""
    if "builds" not in set(store.query("SELECT table_name FROM information_schema.tables")["table_name"]):
        return []
    chosen: dict[str, dict] = {}
    spent: dict[str, float] = {}
    for row in store.query(BUILDS_SQL, [run_id]).iter_rows(named=True):
        tool = row["tool"]
        spent[tool] = spent.get(tool, 0.0) + float(row["seconds"] or 0)
        if tool not in chosen or STATUS_WEIGHT.get(row["status"], 0) > STATUS_WEIGHT.get(
            chosen[tool]["status"], 0
        ):
            chosen[tool] = row
    return [
        ToolBuild(
            tool=tool,
            rev=row["rev"],
            commit=row["commit"],
            kind=row["kind"],
            status=row["status"],
            seconds=round(spent[tool], 1),
            build_seconds=row["build_seconds"],
            reason=row["reason"] or "",
            log=row["log"],
        )
        for tool, row in chosen.items()
    ]


def revision_pairs(tools: list[str]) -> list[tuple[str, str]]:
    """(older, newer) for every two revisions of one tool in the run, in the run's tool order."""
    pairs = []
    for i, old in enumerate(tools):
        for new in tools[i + 1 :]:
            if split_tool(old)[0] == split_tool(new)[0] and (split_tool(old)[1] or split_tool(new)[1]):
                pairs.append((old, new))
    return pairs


def revision_changes(
    compared: pl.DataFrame, tools: list[str], invalid: set[tuple[str, str, str]]
) -> list[RevisionChange]:
    """The run's comparisons of each newer revision against each older one, oriented old → new.

    ``invalid``: (tool, operation, fixture) whose resulting state differs from the reference tool's.
    """
    if compared.is_empty():
        return []
    out = []
    for old, new in revision_pairs(tools):
        rows = compared.filter(
            ((pl.col("tool_a") == old) & (pl.col("tool_b") == new))
            | ((pl.col("tool_a") == new) & (pl.col("tool_b") == old))
        )
        for raw in rows.iter_rows(named=True):
            r = oriented(raw, old)
            broken = (old, r["operation"], r["fixture"]) in invalid or (
                new,
                r["operation"],
                r["fixture"],
            ) in invalid
            out.append(
                RevisionChange(
                    tool=split_tool(old)[0],
                    old=old,
                    new=new,
                    operation=r["operation"],
                    fixture=r["fixture"],
                    metric=r["metric"],
                    median_old=r["median_a"],
                    median_new=r["median_b"],
                    ratio=r["ratio"],
                    ci_low=r["ci_low"],
                    ci_high=r["ci_high"],
                    p_adjusted=r["p_adjusted"],
                    verdict="invalid" if broken else r["verdict"],
                )
            )
    return out
