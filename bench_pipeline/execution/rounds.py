"""Executing a suite run: randomised interleaved rounds that sample until the verdicts are known
(SPEC §4.1, §4.5).

One worker per tool (local process or container). Rounds: every still-active cell
(tool × operation × fixture) gets one run per round, in a fresh random order each round, so
machine drift spreads over all tools instead of masquerading as a difference between them. The
tools of one operation × fixture run back to back (in random order among themselves: ``blocked_order``),
so the two runs a paired comparison takes from a round are moments apart, not seconds. The
first ``warmup`` rounds are recorded as warmups (kept, flagged, excluded from statistics).

When a cell stops: every tool pair on the same operation × fixture is examined at the planned looks
of a group-sequential design (``bench_pipeline.stats.sequential``: paired per-round log ratios,
exact signed-rank intervals, alpha spent over the looks); a pair stops once its ratio CI lies wholly
outside the margin band [1/(1+δ), 1+δ] (slower, faster) or wholly inside it (equivalent), and a cell
once all its pairs have stopped. A cell with no pair (only one tool has the operation) stops when
the CI of its median is within ``target_ci`` after ``min_runs``, or at the first look.

The time budget goes to the undecided pairs nearest to a decision: when the next look cannot be
reached in time with every active cell, the pairs that the next look could decide (their interval,
shrunk by √(n/n′), would clear the band) and that cost least per round are kept, and the others take
a final look now (spending their remaining alpha). At the budget or at ``max_runs`` every undecided
pair takes a final look; those still undecided say why in their cells' ``stop`` ("time budget at
n = 23, CI 0.95–1.08").

Mutating operations get a pristine copy of the fixture before every run (untimed); the restore
method the worker used is counted. The measuring duty cycle (timed seconds ÷ seconds of the rounds)
is reported with the run.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from bench_pipeline.errors import RunnerError
from bench_pipeline.execution.backends import Backend, WorkerSpec
from bench_pipeline.execution.equivalence import evaluate_equivalence
from bench_pipeline.execution.lockstep import write_in_lockstep
from bench_pipeline.execution.measure import result_row
from bench_pipeline.execution.plan import (
    BUDGET_CAP_ENV,
    Cell,
    EffectiveSettings,
    budget_cap,
    median_ci_halfwidth,
    plan_cells,
    tool_pairs,
)
from bench_pipeline.execution.runner import cpu_ranges
from bench_pipeline.execution.session import ToolSession, check_tool, measure_once
from bench_pipeline.fixtures.tool import ToolFixture, tool_fixture_dir
from bench_pipeline.stats.sequential import SequentialDesign, SequentialTracker, blocked_order
from bench_pipeline.store.schema import CELL_SCHEMA, SAMPLE_SCHEMA
from bench_pipeline.suite import Suite

__all__ = [
    "CELL_SCHEMA",
    "SAMPLE_SCHEMA",
    "EffectiveSettings",
    "RunResult",
    "execute_run",
    "median_ci_halfwidth",
    "plan_cells",
]

Progress = Callable[[str], None]
DECISION_KEYS = ("operation", "fixture", "tool_a", "tool_b")


@dataclass
class RunResult:
    samples: pl.DataFrame
    cells: pl.DataFrame
    tool_versions: dict[str, str]
    backend_info: dict
    seconds: float
    rounds: int
    decisions: pl.DataFrame = field(default_factory=pl.DataFrame)  # one row per tool pair: the verdicts
    measuring: dict = field(default_factory=dict)  # duty cycle, restore methods, design


class _Loop:
    """The state of the rounds: samples for the sequential looks, timings, the budget."""

    def __init__(
        self, cells: list[Cell], settings: EffectiveSettings, design: SequentialDesign | None
    ) -> None:
        self.cells = cells
        self.settings = settings
        self.design = design
        pairs = tool_pairs(cells)
        self.tracker = SequentialTracker(pairs, design) if pairs.height and design else None
        paired = set(pairs["cell_a"].to_list() + pairs["cell_b"].to_list()) if self.tracker else set()
        self.solo = {i for i, c in enumerate(cells) if c.status == "pending" and i not in paired}
        self.values: list[tuple[int, int, float]] = []  # (cell, timed round, wall ns) of ok samples
        self.cell_seconds: dict[int, float] = {}  # running mean seconds per sample, for the budget
        self.timed_ns = 0
        self.timed_rounds = 0
        self.budget_stopped = False

    def frame(self) -> pl.DataFrame:
        if not self.values:
            return pl.DataFrame(schema={"cell": pl.Int64, "round": pl.Int64, "value": pl.Float64})
        cell, rnd, value = zip(*self.values, strict=True)
        return pl.DataFrame({"cell": cell, "round": rnd, "value": value}, schema={
            "cell": pl.Int64, "round": pl.Int64, "value": pl.Float64})  # fmt: skip

    def active(self) -> list[int]:
        wanted = (
            set(self.tracker.active_cells().to_list()) if self.tracker and not self.tracker.done else set()
        )
        wanted |= self.solo
        return [i for i in sorted(wanted) if self.cells[i].status == "pending"]

    def solo_done(self, i: int) -> bool:
        cell, s = self.cells[i], self.settings
        n = len(cell.walls)
        first_look = self.design.looks[0] if self.design else s.max_runs
        if n >= s.max_runs or n >= max(cell.min_runs(s), first_look):
            return True
        return n >= cell.min_runs(s) and median_ci_halfwidth(cell.walls) <= s.target_ci

    def drop_failed(self) -> None:
        """Pairs of a cell that failed can never be decided: they take their final look now."""
        if not self.tracker or self.tracker.done:
            return
        failed = [i for i, c in enumerate(self.cells) if c.status == "failed"]
        if failed:
            self.tracker.stop_cells(failed, self.frame())

    def look_if_due(self, elapsed: float, say: Progress) -> None:
        tracker = self.tracker
        if tracker is None or tracker.done:
            return
        out_of_time = elapsed >= self.settings.time_budget_s
        at_max = self.timed_rounds >= self.settings.max_runs
        if tracker.due(self.timed_rounds) or out_of_time or at_max:
            rows = tracker.update(self.frame(), final=out_of_time or at_max)
            decided = int((rows["verdict"] != "undecided").sum())
            self.budget_stopped |= out_of_time
            say(
                f"look at {self.timed_rounds} round{'s' if self.timed_rounds != 1 else ''}: {decided} of {rows.height} pairs decided"
                + (" (time budget)" if out_of_time else "")
            )
        if not tracker.done:
            self._fit_budget(elapsed, say)

    def _fit_budget(self, elapsed: float, say: Progress) -> None:
        """Keep the pairs the next look could decide, cheapest first, within the remaining budget."""
        tracker = self.tracker
        assert tracker is not None
        next_n = tracker.next_n
        if next_n is None:
            return
        remaining = self.settings.time_budget_s - elapsed
        rounds_left = max(1, next_n - self.timed_rounds)
        pending = tracker.undecided()
        cost = {c: self.cell_seconds.get(c, 0.05) for c in self.active()}

        def round_cost(pairs: pl.DataFrame) -> float:
            cells = set(pairs["cell_a"].to_list()) | set(pairs["cell_b"].to_list()) | self.solo
            return sum(cost.get(c, 0.05) for c in cells)

        if round_cost(pending) * rounds_left <= remaining:
            return
        hopeful = tracker.decidable_at(next_n)
        ranked = pending.with_columns(
            _hope=pl.col("_pair").is_in(hopeful.to_list()),
            _cost=pl.struct("cell_a", "cell_b").map_elements(
                lambda p: cost.get(p["cell_a"], 0.05) + cost.get(p["cell_b"], 0.05), return_dtype=pl.Float64
            ),
        ).sort(["_hope", "_cost"], descending=[True, False])
        kept: list[int] = []
        for row in ranked.iter_rows(named=True):
            trial = ranked.filter(pl.col("_pair").is_in([*kept, row["_pair"]]))
            if round_cost(trial) * rounds_left <= remaining:
                kept.append(row["_pair"])
        dropped = [p for p in pending["_pair"].to_list() if p not in kept]
        if dropped:
            tracker.stop_pairs(dropped, self.frame())
            self.budget_stopped = True
            say(
                f"budget: {len(dropped)} pair(s) cannot reach the next look at {next_n} rounds in the "
                f"remaining {remaining:.0f}s: they stop now; {len(kept)} continue"
            )


def execute_run(
    suite: Suite,
    run_id: str,
    tools: list[str],
    sizes: list[str],
    *,
    quick: bool,
    backend: Backend,
    tool_fixtures: dict[tuple[str, str], ToolFixture],
    fixture_cache: Path,
    work_dir: Path,
    seed: int | None = None,
    progress: Progress | None = None,
    min_runs: dict[tuple[str, str, str], int] | None = None,
    unavailable: dict[str, str] | None = None,
    bin_dirs: dict[str, list[str]] | None = None,
    decide_on: str | None = None,
) -> RunResult:
    """Measure every cell of ``suite`` for ``tools`` × ``sizes``; nothing is written here.

    ``unavailable``: tools known to be missing (tool → why): their cells say so, no worker starts.
    ``bin_dirs``: directories put first on a tool's PATH (tools built into the tool cache).
    ``decide_on``: the metric the tool pairs are sampled to a verdict on: ``wall`` or ``cpu``
    (user + sys: what ``bisect --metric cpu`` asks about); None: the suite's ``settings.decide_on``.
    """
    decide_on = decide_on or suite.settings.decide_on
    if decide_on not in DECIDABLE:
        raise RunnerError(f"cannot sample to a verdict on {decide_on!r}: only on {', '.join(DECIDABLE)}")
    say = progress or (lambda _msg: None)
    settings = EffectiveSettings.for_suite(suite, quick)
    cells = plan_cells(suite, tools, sizes, quick)
    for cell in cells:
        cell.suggested_min_runs = (min_runs or {}).get((cell.tool, cell.operation.name, cell.fixture))
    rng = np.random.default_rng(seed if seed is not None else time.time_ns())
    sessions: dict[str, ToolSession] = {}
    versions: dict[str, str] = {}
    rows: list[dict] = []
    rows_lock = threading.Lock()
    started = time.monotonic()
    rounds = 0
    loop: _Loop | None = None
    measuring_started = measuring_ended = started
    try:
        _start_sessions(suite, run_id, tools, sizes, cells, backend, tool_fixtures, fixture_cache, work_dir,
                        unavailable or {}, bin_dirs or {}, sessions, versions, say, rng)  # fmt: skip
        design = settings.design(suite.settings.delta, suite.settings.fdr_share)
        loop = _Loop(cells, settings, design)
        pending = [c for c in cells if c.status == "pending"]
        n_pairs = loop.tracker.pairs.height if loop.tracker else 0
        plan = (
            f"looks at {', '.join(map(str, design.looks))} rounds"
            if design
            else f"{settings.max_runs} runs per cell (too few for verdicts: at least 6 paired rounds are needed)"
        )
        say(
            f"{len(pending)} cells to measure ({len(cells) - len(pending)} n/a or unavailable), {n_pairs} tool "
            f"pairs to decide{' on CPU time' if decide_on == 'cpu' else ''}; warmup {settings.warmup}, {plan}, budget {settings.time_budget_s:.0f}s"
            + (f" (capped by ${BUDGET_CAP_ENV})" if budget_cap() <= settings.time_budget_s else "")
        )
        measuring_started = time.monotonic()
        while True:
            warm = rounds < settings.warmup
            active = [i for i, c in enumerate(cells) if c.status == "pending"] if warm else loop.active()
            if not active:
                break
            blocks = [f"{cells[i].operation.name}\0{cells[i].fixture}" for i in active]
            order = [active[k] for k in blocked_order(np.array(blocks), rng)]

            def measure(indices: list[int], round_idx: int = rounds, warm: bool = warm) -> None:
                assert loop is not None
                for i in indices:
                    cell = cells[i]
                    t0 = time.monotonic()
                    result = measure_once(sessions[cell.tool], cell, settings)
                    spent = time.monotonic() - t0
                    if "prepare_error" in result:
                        cell.status, cell.reason, cell.stop = (
                            "failed",
                            result["prepare_error"],
                            "prepare failed",
                        )
                        continue
                    seen = loop.cell_seconds.get(i)
                    loop.cell_seconds[i] = spent if seen is None else 0.7 * seen + 0.3 * spent
                    loop.timed_ns += int(result["wall_ns"])
                    if not warm:
                        cell.iterations += 1
                    with rows_lock:
                        rows.append(_row(run_id, suite.name, backend.name, cell, round_idx, warm, result))
                    if warm:
                        continue
                    if result["ok"]:
                        cell.walls.append(result["wall_ns"])
                        cell.consecutive_failures = 0
                        loop.values.append((i, loop.timed_rounds, _decided_value(result, decide_on)))
                    else:
                        cell.n_failed += 1
                        cell.consecutive_failures += 1

            if settings.parallel <= 1:
                measure(order)
            else:  # the suite allows N tools at once: each tool's worker in its own thread
                by_tool: dict[str, list[int]] = {}
                for i in order:
                    by_tool.setdefault(cells[i].tool, []).append(i)
                with ThreadPoolExecutor(max_workers=settings.parallel) as pool:
                    for future in [pool.submit(measure, group) for group in by_tool.values()]:
                        future.result()
            rounds += 1
            if not warm:
                loop.timed_rounds += 1
            elapsed = time.monotonic() - measuring_started
            for i in active:
                cell = cells[i]
                if cell.status != "pending":
                    continue
                if cell.consecutive_failures >= 2 and not cell.walls:
                    cell.status, cell.stop = "failed", "failing"
                    cell.reason = _failure_reason(rows, cell)
                elif i in loop.solo and not warm and loop.solo_done(i):
                    cell.status, cell.stop = "measured", f"n = {len(cell.walls)} (no other tool to compare)"
            loop.drop_failed()
            if not warm:
                loop.look_if_due(elapsed, say)
                if elapsed >= settings.time_budget_s:
                    loop.solo.clear()
            say(
                f"round {rounds}/{settings.warmup + settings.max_runs}{' (warmup)' if warm else ''}: "
                f"{len(loop.active())} cells still measuring, {elapsed:.0f}s elapsed"
            )
            if not warm and loop.timed_rounds >= settings.max_runs:
                loop.solo.clear()
        measuring_ended = time.monotonic()
        evaluate_equivalence(cells, suite.reference)
        decisions = loop.tracker.report() if loop.tracker else pl.DataFrame()
        _stop_reasons(
            cells, decisions, "by the time budget" if loop.budget_stopped else "at the round limit (max_runs)"
        )
    finally:
        for session in sessions.values():
            with contextlib.suppress(RunnerError):
                session.worker.close()
    samples = pl.DataFrame(rows, schema=SAMPLE_SCHEMA) if rows else pl.DataFrame(schema=SAMPLE_SCHEMA)
    measuring_s = max(1e-9, measuring_ended - measuring_started)
    restores: Counter[str] = Counter()
    for session in sessions.values():
        restores.update(session.restore_methods)
    timed_ns = loop.timed_ns if loop else 0
    return RunResult(
        samples=samples,
        cells=pl.DataFrame([_cell_row(run_id, suite.name, c) for c in cells], schema=CELL_SCHEMA),
        tool_versions=versions,
        backend_info=_placement(backend.describe(), sessions),
        seconds=time.monotonic() - started,
        rounds=rounds,
        decisions=_decision_rows(decisions, cells, run_id, suite.name, decide_on),
        measuring={
            "design": "sequential" if loop and loop.tracker else "fixed",
            "metric": decide_on,
            "estimator": "paired Hodges–Lehmann of per-round log ratios",
            "looks": list(loop.design.looks) if loop and loop.design else [],
            "delta": suite.settings.delta,
            "rounds": rounds,
            "timed_seconds": round(timed_ns / 1e9, 3),
            "measuring_seconds": round(measuring_s, 3),
            "duty_cycle": round(timed_ns / 1e9 / measuring_s, 4),
            "restore_methods": dict(restores),
            "budget_stopped": bool(loop and loop.budget_stopped),
        },
    )


def _placement(info: dict, sessions: dict[str, ToolSession]) -> dict:
    """The backend's description, with the CPU set measured commands were pinned to when the suite
    narrowed it (``settings.cpus``): the same for every tool; ``stdout: devnull`` when the suite sends
    the commands' output to ``/dev/null`` (``settings.stdout``)."""
    pinned = {tuple(s.worker.cpus) for s in sessions.values() if s.worker.cpus}
    if len(pinned) == 1:
        info = {**info, "cpus": cpu_ranges(list(pinned.pop()))}
    if any(s.worker.stdout == "devnull" for s in sessions.values()):  # settings.stdout: not counted
        info = {**info, "stdout": "devnull"}
    return info


def _start_sessions(
    suite: Suite,
    run_id: str,
    tools: list[str],
    sizes: list[str],
    cells: list[Cell],
    backend: Backend,
    tool_fixtures: dict[tuple[str, str], ToolFixture],
    fixture_cache: Path,
    work_dir: Path,
    unavailable: dict[str, str],
    bin_dirs: dict[str, list[str]],
    sessions: dict[str, ToolSession],
    versions: dict[str, str],
    say: Progress,
    rng: np.random.Generator,
) -> None:
    """One worker per available tool, its version checked and a working copy of each fixture ready."""
    ready: dict[str, list[ToolSession]] = {}

    def mark(tool: str, why: str, size: str | None = None) -> None:
        for cell in cells:
            if cell.tool == tool and cell.status == "pending" and size in (None, cell.fixture):
                cell.status, cell.reason = "unavailable", why

    for tool in tools:
        if tool in unavailable:
            mark(tool, unavailable[tool])
            continue
        spec = WorkerSpec(
            suite=suite.name,
            tool=tool,
            run_id=run_id,
            path_prepend=tuple(bin_dirs.get(tool, ())),
            work_dir=work_dir / tool,
            fixture_dir=tool_fixture_dir(fixture_cache, suite.name, tool),
            profile=suite.settings.profile,
        )
        session = ToolSession(
            suite,
            tool,
            backend.start_worker(spec),
            {s: tool_fixtures[(tool, s)] for s in sizes if (tool, s) in tool_fixtures},
        )
        sessions[tool] = session  # registered first: closed on every way out, a refused placement too
        session.worker.narrow(suite.settings.cpus)
        session.worker.stdout = suite.settings.stdout
        version, why = check_tool(session)
        if version is None:
            say(f"{tool}: unavailable — {why}")
            mark(tool, why)
            continue
        versions[tool] = version
        for size in sizes:
            if size not in session.fixtures:
                mark(tool, f"no {size} fixture prepared for {tool}", size)
                continue
            ready.setdefault(size, []).append(session)
    # the read-only copies: all tools' at once where their paths are ours (lockstep.py), else each
    # tool's worker writes its own
    lockstep = backend.name == "local"
    for size, group in ready.items():
        if lockstep:
            write_in_lockstep([(s.pristine[size], s.shared[size]) for s in group], rng)
        for s in group:
            if lockstep:
                s.restore_methods["copy"] += 1
                error = s.after_restore(size, s.shared[size])
            else:
                error = s.restore(size, s.shared[size])
            if error:
                raise RunnerError(f"{s.tool}: preparing the working copy failed: {error}")


def _stop_reasons(cells: list[Cell], decisions: pl.DataFrame, why: str) -> None:
    """Why each measured cell stopped: its pairs' decisions, the budget, or max_runs (with n and CI)."""
    by_cell: dict[int, list[dict]] = {}
    for row in decisions.iter_rows(named=True) if decisions.height else []:
        by_cell.setdefault(row["cell_a"], []).append(row)
        by_cell.setdefault(row["cell_b"], []).append(row)
    for i, cell in enumerate(cells):
        if cell.status == "pending":
            cell.status = "measured" if cell.walls else "failed"
            if not cell.walls:
                cell.reason = cell.reason or "no successful run"
        if cell.status != "measured" or i not in by_cell:
            continue
        open_pairs = [r for r in by_cell[i] if r["decision"] == "undecided"]
        if not open_pairs:
            cell.stop = cell.stop or f"decided at n = {len(cell.walls)}"
            continue
        worst = open_pairs[0]
        ci = (
            f"CI {worst['ci_low']:.3f}–{worst['ci_high']:.3f}"
            if worst["ci_low"] is not None and math.isfinite(worst["ci_low"] or math.nan)
            else "no interval yet"
        )
        other = worst["tool_b"] if worst["tool_a"] == cell.tool else worst["tool_a"]
        cell.stop = f"undecided vs {other}: stopped {why} at n = {len(cell.walls)}, {ci}"


DECIDABLE = ("wall", "cpu")


def _decided_value(result: dict, metric: str) -> float:
    """The value of one ok sample that the sequential design decides on (ns)."""
    if metric == "cpu":
        return float(max(1, result["user_ns"] + result["sys_ns"]))  # logs are taken: never 0
    return float(result["wall_ns"])


def _decision_rows(
    decisions: pl.DataFrame, cells: list[Cell], run_id: str, suite: str, metric: str = "wall"
) -> pl.DataFrame:
    if not decisions.height:
        return pl.DataFrame()
    return decisions.with_columns(run_id=pl.lit(run_id), suite=pl.lit(suite), metric=pl.lit(metric)).drop(
        "cell_a", "cell_b"
    )


def _cell_row(run_id: str, suite: str, c: Cell) -> dict:
    return {
        "run_id": run_id,
        "suite": suite,
        "tool": c.tool,
        "operation": c.operation.name,
        "fixture": c.fixture,
        "category": c.operation.category,
        "status": c.status,
        "reason": c.reason,
        "n_ok": len(c.walls),
        "n_failed": c.n_failed,
        "stop": c.stop,
        "base_operation": c.operation.base or c.operation.name,
        "params": json.dumps(c.operation.param_values) if c.operation.param_values else None,
        "valid": None
        if c.equivalence in ("", "not probed", "no reference")
        else c.equivalence in ("equal", "reference"),
        "equivalence": c.equivalence or None,
        "similarity": c.similarity,
    }


def _failure_reason(rows: list[dict], cell: Cell) -> str:
    for row in reversed(rows):
        if (
            row["tool"] == cell.tool
            and row["operation"] == cell.operation.name
            and row["fixture"] == cell.fixture
            and not row["ok"]
        ):
            what = (
                "killed: out of memory"
                if row.get("oom_killed")
                else "timed out"
                if row["timed_out"]
                else f"exit {row['exit_code']}"
            )
            return f"{what}: {(row['stderr_tail'] or '').strip()[-300:]}"
    return cell.reason or "no successful run"


def _row(run_id: str, suite: str, backend: str, cell: Cell, round_idx: int, warm: bool, r: dict) -> dict:
    return result_row(
        r,
        ok=r["ok"],
        run_id=run_id,
        suite=suite,
        tool=cell.tool,
        operation=cell.operation.name,
        fixture=cell.fixture,
        backend=backend,
        round=round_idx,
        iteration=-1 if warm else cell.iterations - 1,
        warmup=warm,
    )
