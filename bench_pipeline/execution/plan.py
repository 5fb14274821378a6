"""The plan of a run: its cells (tool × operation × fixture), their settings, and the tool pairs
whose verdicts decide when a cell may stop measuring (``bench_pipeline.stats.sequential``)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import polars as pl

from bench_pipeline.errors import SuiteError
from bench_pipeline.stats import StatsInputError
from bench_pipeline.stats.sequential import DEFAULT_FDR_SHARE, SequentialDesign
from bench_pipeline.suite import Operation, Suite, ToolCommand

MIN_CI_RUNS = 6


@dataclass(frozen=True)
class EffectiveSettings:
    warmup: int
    min_runs: int
    max_runs: int
    target_ci: float
    time_budget_s: float
    timeout_s: float
    parallel: int = 1  # tools measured at the same time (1: never overlap)

    def design(self, delta: float, fdr_share: float = DEFAULT_FDR_SHARE) -> SequentialDesign | None:
        """The sequential design of the run's tool pairs: looks from ``min_runs`` to ``max_runs``;
        None when ``max_runs`` is too small for any verdict (the smallest p-value of n paired rounds
        is 2^(1−n)): the pairs are then measured like single cells and compared at a fixed n."""
        try:
            return SequentialDesign(
                min_n=max(2, self.min_runs), max_n=max(self.max_runs, 2), delta=delta, fdr_share=fdr_share
            )
        except StatsInputError:
            return None

    @classmethod
    def for_suite(cls, suite: Suite, quick: bool) -> EffectiveSettings:
        s = suite.settings
        cap = budget_cap()
        if not quick:
            return cls(
                s.warmup,
                s.min_runs,
                s.max_runs,
                s.target_ci,
                min(s.time_budget_s, cap),
                s.timeout_s,
                s.parallel,
            )
        q = suite.quick
        return cls(
            q.warmup,
            q.min_runs,
            max(q.min_runs, q.max_runs),
            s.target_ci,
            min(q.time_budget_s, cap),
            s.timeout_s,
            s.parallel,
        )


BUDGET_CAP_ENV = "BENCH_PIPELINE_TIME_BUDGET_S"


def budget_cap() -> float:
    """``$BENCH_PIPELINE_TIME_BUDGET_S``: an operator's cap on every run's measuring budget, in seconds
    (smoke runs that check the pipeline rather than the verdicts); unset: no cap."""
    text = os.environ.get(BUDGET_CAP_ENV, "").strip()
    if not text:
        return math.inf
    try:
        cap = float(text)
    except ValueError:
        cap = math.nan
    if not cap > 0:
        raise SuiteError(
            f"{BUDGET_CAP_ENV}={text!r} is not a positive number of seconds",
            where=BUDGET_CAP_ENV,
            fix="set it to seconds (e.g. 30), or unset it to use each suite's time_budget_s",
        )
    return cap


@dataclass
class Cell:
    tool: str
    operation: Operation
    fixture: str
    command: ToolCommand | None
    status: str = "pending"  # pending → measured | failed | na | unavailable
    reason: str = ""
    stop: str = ""
    walls: list[int] = field(default_factory=list)
    probes: dict[str, str] = field(default_factory=dict)  # probe name -> output (or "!error ...")
    equivalence: str = ""  # "", equal, differs, probe failed, no reference
    similarity: float | None = None
    n_failed: int = 0
    consecutive_failures: int = 0
    iterations: int = 0
    suggested_min_runs: int | None = None  # from the cell's history (learning.suggested_min_runs)

    def min_runs(self, settings: EffectiveSettings) -> int:
        """The suite's min_runs, or — with history — what the cell's historical CV says it needs.

        Never fewer than 6: the distribution-free 95% CI of the median needs six values.
        """
        if self.suggested_min_runs is None:
            return settings.min_runs
        return min(settings.max_runs, max(MIN_CI_RUNS, self.suggested_min_runs))


def median_ci_halfwidth(values: list[int]) -> float:
    """Relative half-width of the distribution-free 95% CI of the median (inf when n < 6).

    Order statistics x(j) and x(n−j+1) with j the largest index such that
    P(Binomial(n, ½) < j) ≤ 2.5% (normal approximation of the binomial, adequate for the
    stopping rule; the reported CIs use the exact binomial, see ``bench_pipeline.stats``).
    """
    n = len(values)
    if n < 6:
        return math.inf
    xs = sorted(values)
    j = max(1, math.floor(n / 2 - 0.98 * math.sqrt(n)))
    lo, hi = xs[j - 1], xs[n - j]
    med = xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
    return math.inf if med <= 0 else (hi - lo) / 2 / med


def plan_cells(suite: Suite, tools: list[str], sizes: list[str], quick: bool) -> list[Cell]:
    cells = []
    for op in suite.expanded_operations():
        if quick and not op.quick:
            continue
        for size in sizes:
            for tool in tools:
                cmd = op.commands.get(tool)
                cell = Cell(tool, op, size, cmd)
                if cmd is None:
                    cell.status, cell.reason = "na", op.na.get(tool, "not defined for this tool")
                cells.append(cell)
    return cells


def tool_pairs(cells: list[Cell]) -> pl.DataFrame:
    """Every pair of tools measuring the same operation × fixture (cells still pending), in the
    order the tools were asked for: ``cell_a``, ``cell_b`` (indices into ``cells``; ratio = B/A) and
    the labels ``operation``, ``fixture``, ``tool_a``, ``tool_b``."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, c in enumerate(cells):
        if c.status == "pending":
            groups.setdefault((c.operation.name, c.fixture), []).append(i)
    rows = [
        {
            "cell_a": a,
            "cell_b": b,
            "operation": op,
            "fixture": fx,
            "tool_a": cells[a].tool,
            "tool_b": cells[b].tool,
        }
        for (op, fx), members in groups.items()
        for k, a in enumerate(members)
        for b in members[k + 1 :]
    ]
    schema = {"cell_a": pl.Int64, "cell_b": pl.Int64, "operation": pl.Utf8, "fixture": pl.Utf8,
              "tool_a": pl.Utf8, "tool_b": pl.Utf8}  # fmt: skip
    return pl.DataFrame(rows, schema=schema)
