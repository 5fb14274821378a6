"""Executing a suite run: randomised interleaved rounds with adaptive run counts (SPEC §4.1).

One worker per tool (local process or container). Rounds: every still-active cell
(tool × operation × fixture) gets one run per round, in a fresh random order each round, so
machine drift spreads over all tools instead of masquerading as a difference between them.
The first ``warmup`` rounds are recorded as warmups (kept, flagged, excluded from statistics).
After ``min_runs`` timed rounds a cell stops once the 95% CI of its median is within
``target_ci`` of the median; all cells stop at ``max_runs`` or when the time budget is spent.
Mutating operations get a pristine copy of the fixture before every run (untimed).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import polars as pl

from bench_pipeline.errors import RunnerError
from bench_pipeline.execution.backends import Backend, Worker, WorkerSpec
from bench_pipeline.execution.measure import result_row
from bench_pipeline.fixtures.tool import ToolFixture, tool_fixture_dir
from bench_pipeline.store.schema import CELL_SCHEMA, SAMPLE_SCHEMA
from bench_pipeline.suite import Operation, Suite, ToolCommand, expand, expand_argv
from bench_pipeline.suite.determinism import command_env

Progress = Callable[[str], None]

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

    @classmethod
    def for_suite(cls, suite: Suite, quick: bool) -> EffectiveSettings:
        s = suite.settings
        if not quick:
            return cls(s.warmup, s.min_runs, s.max_runs, s.target_ci, s.time_budget_s, s.timeout_s, s.parallel)
        q = suite.quick
        return cls(
            q.warmup, q.min_runs, max(q.min_runs, q.max_runs), s.target_ci, q.time_budget_s, s.timeout_s,
            s.parallel,
        )


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


@dataclass
class RunResult:
    samples: pl.DataFrame
    cells: pl.DataFrame
    tool_versions: dict[str, str]
    backend_info: dict
    seconds: float
    rounds: int


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


class _ToolSession:
    """A tool's worker plus the paths and template values of its fixtures, in the worker's view."""

    def __init__(self, suite: Suite, tool: str, worker: Worker, fixtures: dict[str, ToolFixture]) -> None:
        self.suite = suite
        self.tool = tool
        self.worker = worker
        self.fixtures = fixtures
        self.seed = 0
        w = PurePosixPath(worker.work_root)
        self.home = str(w / "home")
        self.pristine = {
            size: str(PurePosixPath(worker.fixture_root) / f.dir_name / "root")
            for size, f in fixtures.items()
        }
        self.shared = {size: str(w / size / "shared") for size in fixtures}
        self.scratch = {size: str(w / size / "mutable") for size in fixtures}

    def restore(self, size: str, root: str) -> str:
        """A fresh copy of the pristine fixture at ``root``, fixed up by the tool's after_restore steps."""
        self.worker.restore(self.pristine[size], root)
        values = self.values(size, root, "restore")
        where = f"{self.suite.source}: tools.{self.tool}.after_restore"
        return _run_steps(self, self.suite.tools[self.tool].after_restore, root, values, where, 120)

    def env(self, values: dict[str, str]) -> dict[str, str]:
        self.seed += 1
        return command_env(
            self.suite,
            self.tool,
            home=self.home,
            path=self.worker.path,
            seed=self.seed,
            values=values,
            backend_env=self.worker.env,
        )

    def values(self, size: str, root: str, op: str, params: dict | None = None) -> dict[str, str]:
        tool = self.suite.tools[self.tool]
        return {
            **self.fixtures[size].vars,
            "root": root,
            "repo": str(PurePosixPath(root) / tool.workdir),
            "work": self.worker.work_root,
            "src": str(PurePosixPath(self.pristine[size]) / tool.source),
            "tool": self.tool,
            "operation": op,
            "fixture": size,
            **{k: str(v) for k, v in (params or {}).items()},
        }


def _probe(session: _ToolSession, cell: Cell, cwd: str, values: dict[str, str], where: str) -> dict[str, str]:
    """Run the operation's state probes (untimed) right after a successful timed run."""
    assert cell.command is not None
    out = {}
    for name in cell.operation.equivalence:
        spec = cell.command.probes.get(name) or session.suite.tools[cell.tool].probes[name]
        argv = ["sh", "-c", spec] if isinstance(spec, str) else list(spec)
        argv = expand_argv(argv, values, where=f"{where}.probes.{name}")
        res = session.worker.capture(argv, cwd, session.env(values), 60)
        out[name] = (
            res["stdout"]
            if res["exit_code"] == 0
            else f"!probe exited {res['exit_code']}: {res['stderr_tail'][-200:]}"
        )
    return out


def similarity(a: str, b: str) -> float:
    """0–1 similarity of two probe outputs: difflib's ratio over their lines (1.0 iff equal)."""
    if a == b:
        return 1.0
    return difflib.SequenceMatcher(None, a.splitlines(), b.splitlines(), autojunk=False).ratio()


def evaluate_equivalence(cells: list[Cell], reference: str) -> None:
    """Compare each tool's probe outputs with the reference tool's, per operation × fixture.

    A cell whose resulting state differs is marked invalid: a tool that "wins" by doing less
    work must not be reported as faster.
    """
    by_key: dict[tuple[str, str], dict[str, Cell]] = {}
    for c in cells:
        if c.operation.equivalence and c.status in ("measured", "pending"):
            by_key.setdefault((c.operation.name, c.fixture), {})[c.tool] = c
    for group in by_key.values():
        ref = group.get(reference)
        for tool, c in group.items():
            if not c.probes:
                c.equivalence = "not probed"
                continue
            failed = [n for n, v in c.probes.items() if v.startswith("!probe")]
            if failed:
                c.equivalence, c.similarity = "probe failed", 0.0
                c.reason = (c.reason + "; " if c.reason else "") + c.probes[failed[0]][1:]
                continue
            if tool == reference:
                c.equivalence, c.similarity = "reference", 1.0
                continue
            if ref is None or not ref.probes or any(v.startswith("!probe") for v in ref.probes.values()):
                c.equivalence = "no reference"
                continue
            scores = {n: similarity(c.probes[n], ref.probes.get(n, "")) for n in c.operation.equivalence}
            c.similarity = min(scores.values())
            if c.similarity == 1.0:
                c.equivalence = "equal"
            else:
                c.equivalence = "differs"
                worst = min(scores, key=scores.__getitem__)
                c.reason = (
                    f"resulting state differs from {reference}'s ({worst}: similarity {scores[worst]:.2f})"
                    + (f"; {c.reason}" if c.reason else "")
                )


def _check_tool(session: _ToolSession) -> tuple[str | None, str]:
    """(version, "") when the tool runs in its worker, else (None, reason)."""
    tool = session.suite.tools[session.tool]
    # tool env may use template names (e.g. JJ_CONFIG under ${root}): resolve them as for a command
    size = next(iter(session.fixtures), None)
    env = session.env(session.values(size, session.shared[size], "version") if size else {})
    for exe in tool.requires:
        probe = session.worker.capture(["sh", "-c", f'command -v "{exe}"'], session.worker.work_root, env, 10)
        if probe["exit_code"] != 0:
            return None, f"{exe!r} not found on PATH in the {session.worker.description} worker"
    res = session.worker.capture(tool.version, session.worker.work_root, env, 30)
    if res["exit_code"] != 0:
        return (
            None,
            f"`{' '.join(tool.version)}` failed (exit {res['exit_code']}): {res['stderr_tail'].strip()[:200]}",
        )
    return res["stdout"].strip().splitlines()[0] if res["stdout"].strip() else "unknown", ""


def _run_steps(
    session: _ToolSession,
    steps: list[list[str]],
    cwd: str,
    values: dict[str, str],
    where: str,
    timeout: float,
) -> str:
    """Run untimed prepare/conclude steps; return an error text or ''."""
    for i, argv in enumerate(steps):
        cmd = expand_argv(argv, values, where=f"{where}[{i}]")
        res = session.worker.capture(cmd, cwd, session.env(values), timeout)
        if res["exit_code"] != 0:
            return f"{where}[{i}] `{' '.join(cmd)}` exited {res['exit_code']}: {res['stderr_tail'].strip()[-300:]}"
    return ""


def _measure_once(session: _ToolSession, cell: Cell, settings: EffectiveSettings) -> dict:
    """One untimed preparation plus one timed run of a cell; returns the runner's result."""
    op, cmd, size = cell.operation, cell.command, cell.fixture
    assert cmd is not None
    root = session.scratch[size] if op.mutating else session.shared[size]
    if op.mutating:
        error = session.restore(size, root)
        if error:
            return {"prepare_error": error}
    values = session.values(size, root, op.name, op.param_values)
    where = f"{session.suite.source}: operations.{op.base or op.name}.commands.{cell.tool}"
    cwd = expand(cmd.cwd, values, where=f"{where}.cwd") if cmd.cwd else values["repo"]
    if not str(cwd).startswith("/"):
        cwd = str(PurePosixPath(root) / cwd)
    error = _run_steps(
        session,
        cmd.prepare if cmd.prepare is not None else op.prepare,
        cwd,
        values,
        f"{where}.prepare",
        settings.timeout_s,
    )
    if error:
        return {"prepare_error": error}
    argv = expand_argv(cmd.argv(), values, where=f"{where}.run")
    result = session.worker.exec(argv, cwd, session.env(values), settings.timeout_s)
    result["ok"] = (not result["timed_out"]) and result["exit_code"] in cmd.expect_exit
    if op.equivalence and result["ok"] and not cell.probes:
        cell.probes = _probe(session, cell, cwd, values, where)
    conclude_error = _run_steps(
        session,
        cmd.conclude if cmd.conclude is not None else op.conclude,
        cwd,
        values,
        f"{where}.conclude",
        settings.timeout_s,
    )
    if conclude_error:
        result["ok"] = False
        result["stderr_tail"] = conclude_error
    return result


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
) -> RunResult:
    """Measure every cell of ``suite`` for ``tools`` × ``sizes``; nothing is written here.

    ``unavailable``: tools known to be missing (tool → why): their cells say so, no worker starts.
    ``bin_dirs``: directories put first on a tool's PATH (tools built into the tool cache).
    """
    say = progress or (lambda _msg: None)
    settings = EffectiveSettings.for_suite(suite, quick)
    cells = plan_cells(suite, tools, sizes, quick)
    for cell in cells:
        cell.suggested_min_runs = (min_runs or {}).get((cell.tool, cell.operation.name, cell.fixture))
    rng = random.Random(seed if seed is not None else time.time_ns())
    sessions: dict[str, _ToolSession] = {}
    versions: dict[str, str] = {}
    rows: list[dict] = []
    rows_lock = threading.Lock()
    started = time.monotonic()
    rounds = 0
    try:
        for tool in tools:
            if tool in (unavailable or {}):
                for cell in cells:
                    if cell.tool == tool and cell.status == "pending":
                        cell.status, cell.reason = "unavailable", (unavailable or {})[tool]
                continue
            spec = WorkerSpec(
                suite=suite.name,
                tool=tool,
                run_id=run_id,
                path_prepend=tuple((bin_dirs or {}).get(tool, ())),
                work_dir=work_dir / tool,
                fixture_dir=tool_fixture_dir(fixture_cache, suite.name, tool),
                profile=suite.settings.profile,
            )
            worker = backend.start_worker(spec)
            session = _ToolSession(
                suite,
                tool,
                worker,
                {s: tool_fixtures[(tool, s)] for s in sizes if (tool, s) in tool_fixtures},
            )
            sessions[tool] = session
            version, why = _check_tool(session)
            if version is None:
                say(f"{tool}: unavailable — {why}")
                for cell in cells:
                    if cell.tool == tool and cell.status == "pending":
                        cell.status, cell.reason = "unavailable", why
                continue
            versions[tool] = version
            for size in sizes:
                if size not in session.fixtures:
                    for cell in cells:
                        if cell.tool == tool and cell.fixture == size and cell.status == "pending":
                            cell.status, cell.reason = "unavailable", f"no {size} fixture prepared for {tool}"
                    continue
                error = session.restore(size, session.shared[size])
                if error:
                    raise RunnerError(f"{tool}: preparing the working copy failed: {error}")
        active = [c for c in cells if c.status == "pending"]
        say(
            f"{len(active)} cells to measure ({len(cells) - len(active)} n/a or unavailable); "
            f"warmup {settings.warmup}, runs {settings.min_runs}–{settings.max_runs}, budget {settings.time_budget_s:.0f}s"
        )
        total_rounds = settings.warmup + settings.max_runs
        while active and rounds < total_rounds:
            order = active[:]
            rng.shuffle(order)
            warm = rounds < settings.warmup

            def measure(cells_in_order: list[Cell], round_idx: int = rounds, warm: bool = warm) -> None:
                for cell in cells_in_order:
                    result = _measure_once(sessions[cell.tool], cell, settings)
                    if "prepare_error" in result:
                        cell.status, cell.reason, cell.stop = "failed", result["prepare_error"], "prepare failed"
                        continue
                    if not warm:
                        cell.iterations += 1
                    with rows_lock:
                        rows.append(_row(run_id, suite.name, backend.name, cell, round_idx, warm, result))
                    if warm:
                        continue
                    if result["ok"]:
                        cell.walls.append(result["wall_ns"])
                        cell.consecutive_failures = 0
                    else:
                        cell.n_failed += 1
                        cell.consecutive_failures += 1

            if settings.parallel <= 1:
                measure(order)
            else:  # the suite allows N tools at once: each tool's worker in its own thread
                by_tool: dict[str, list[Cell]] = {}
                for cell in order:
                    by_tool.setdefault(cell.tool, []).append(cell)
                with ThreadPoolExecutor(max_workers=settings.parallel) as pool:
                    for future in [pool.submit(measure, group) for group in by_tool.values()]:
                        future.result()
            rounds += 1
            timed = rounds - settings.warmup
            elapsed = time.monotonic() - started
            for cell in active:
                if cell.status != "pending":
                    continue
                if cell.consecutive_failures >= 2 and not cell.walls:
                    cell.status, cell.stop = "failed", "failing"
                    cell.reason = _failure_reason(rows, cell)
                elif timed >= cell.min_runs(settings) and median_ci_halfwidth(cell.walls) <= settings.target_ci:
                    cell.status, cell.stop = "measured", "converged"
            active = [c for c in active if c.status == "pending"]
            say(
                f"round {rounds}/{total_rounds}{' (warmup)' if warm else ''}: "
                f"{len(active)} cells still measuring, {elapsed:.0f}s elapsed"
            )
            if timed >= 1 and elapsed > settings.time_budget_s:
                for cell in active:
                    cell.stop = "time budget"
                say(f"time budget of {settings.time_budget_s:.0f}s spent after {timed} timed rounds")
                break
        evaluate_equivalence(cells, suite.reference)
        for cell in cells:
            if cell.status == "pending":
                cell.stop = cell.stop or "max_runs"
                cell.status = "measured" if cell.walls else "failed"
                if not cell.walls:
                    cell.reason = _failure_reason(rows, cell)
    finally:
        for session in sessions.values():
            with contextlib.suppress(RunnerError):
                session.worker.close()
    samples = pl.DataFrame(rows, schema=SAMPLE_SCHEMA) if rows else pl.DataFrame(schema=SAMPLE_SCHEMA)
    cell_rows = [
        {
            "run_id": run_id,
            "suite": suite.name,
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
        for c in cells
    ]
    return RunResult(
        samples=samples,
        cells=pl.DataFrame(cell_rows, schema=CELL_SCHEMA),
        tool_versions=versions,
        backend_info=backend.describe(),
        seconds=time.monotonic() - started,
        rounds=rounds,
    )


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
