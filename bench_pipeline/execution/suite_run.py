"""A suite run from its first record to its landing files: the library behind ``measurements``.

Records the run as ``running`` (with this process's pid, so a later invocation can tell an
interrupted run), prepares tool fixtures, measures through the chosen backend, writes samples
and cell states to the landing area, then records ``succeeded`` (or ``failed`` with the reason).
Loading the landing files into DuckDB is the ingestion step's job.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from bench_pipeline import paths
from bench_pipeline.builds import ToolStatus, describe, obtain_tool, record_builds
from bench_pipeline.errors import BenchError
from bench_pipeline.execution.backends import DEFAULT_BACKEND, BackendChoice, choose_backend
from bench_pipeline.execution.cleanup import clean_dead_runs
from bench_pipeline.execution.environment import host_info
from bench_pipeline.execution.rounds import EffectiveSettings, execute_run
from bench_pipeline.fixtures.tool import ToolFixture, ensure_tool_fixture
from bench_pipeline.store import Store
from bench_pipeline.store.landing import DECISIONS_TOOL, write_landing
from bench_pipeline.suite import Suite

Progress = Callable[[str], None]


@dataclass
class RunRequest:
    suite: Suite
    tools: list[str] = field(default_factory=list)  # empty: all tools of the suite
    sizes: list[str] = field(default_factory=list)  # empty: the suite's (or quick) default sizes
    quick: bool = False
    backend: str = DEFAULT_BACKEND  # auto | local | docker
    trigger: str = "manual"
    git_tag: str | None = None
    git_commit: str | None = None
    run_id: str | None = None
    seed: int | None = None
    allow_build: bool | None = None  # None: unless BENCH_PIPELINE_NO_BUILD is set
    # the metric pairs are sampled to a verdict on (wall | cpu); None: the suite's
    decide_on: str | None = None

    def resolved_tools(self) -> list[str]:
        return self.suite.select_tools(self.tools)

    def resolved_sizes(self) -> list[str]:
        if self.sizes:
            return list(dict.fromkeys(self.sizes))
        return list(self.suite.quick.sizes if self.quick else self.suite.settings.sizes)


@dataclass
class RunOutcome:
    run_id: str
    status: str
    samples: int
    cells: dict[str, int]
    backend: BackendChoice
    tools: list[str]
    seconds: float
    landing: list[Path]
    tool_versions: dict[str, str]
    unavailable: dict[str, dict[str, str]]  # tool -> action, reason, fix


def new_run_id(suite: str) -> str:
    return f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{suite}-{uuid.uuid4().hex[:6]}"


@dataclass
class PreparedTools:
    """Each tool's status (found, built or unavailable, ``bench_pipeline.builds``) and its fixtures."""

    statuses: dict[str, ToolStatus]
    fixtures: dict[tuple[str, str], ToolFixture]

    @property
    def unavailable(self) -> dict[str, ToolStatus]:
        return {t: s for t, s in self.statuses.items() if not s.available}

    def bin_dirs(self) -> dict[str, list[str]]:
        """Directories to put first on each tool's PATH (a tool built into the tool cache)."""
        return {t: [str(s.bin_dir)] for t, s in self.statuses.items() if s.available and s.bin_dir}

    def unavailable_record(self) -> dict[str, dict[str, str]]:
        return {
            t: {"action": s.action, "reason": s.reason, "fix": s.fix} for t, s in self.unavailable.items()
        }


def prepare_fixtures(
    suite: Suite,
    tools: list[str],
    sizes: list[str],
    progress: Progress | None = None,
    cache_dir: Path | None = None,
    allow_build: bool | None = None,
) -> PreparedTools:
    """Obtain every tool (found, cached, built now, or unavailable), then its (tool, size) fixtures.

    A tool that cannot be had, or whose setup fails, is reported with the reason and the fix,
    never fatal: the run goes on with the other tools.
    """
    say = progress or (lambda _m: None)
    cache_dir = cache_dir or paths.fixtures_dir()
    suite = suite.with_revisions(tools)  # a revision (jj@0.44.0) is a tool of its own, built at rev
    statuses = {tool: obtain_tool(suite, tool, allow_build=allow_build, progress=say) for tool in tools}
    prepared: dict[tuple[str, str], ToolFixture] = {}
    for size in sizes:
        for tool in tools:
            status = statuses[tool]
            if not status.available:
                continue
            path = os.pathsep.join(
                [*([str(status.bin_dir)] if status.bin_dir else []), os.environ.get("PATH", "")]
            )
            try:
                tf = ensure_tool_fixture(suite, tool, size, cache_dir, progress=say, path=path)
            except BenchError as exc:
                statuses[tool] = ToolStatus(
                    tool,
                    False,
                    "failed",
                    reason=f"preparing its {size} fixture failed: {exc.message}",
                    fix=exc.fix or "run the tool's setup commands by hand in a copy of the fixture",
                )
                say(describe(statuses[tool]))
                continue
            prepared[(tool, size)] = tf
            say(f"fixture {size} for {tool}: {tf.commits} commits, {tf.files} files")
    return PreparedTools(statuses, prepared)


class RunLedger(Protocol):
    """Where a run's own row goes: the store (here), or the landing area (a fleet host,
    ``bench_pipeline.fleet.LandingLedger``)."""

    def create_run(self, run_id: str, suite: str, **kw: Any) -> None: ...

    def finish_run(self, run_id: str, status: str, **kw: Any) -> None: ...


def run_suite(
    request: RunRequest,
    *,
    store: Store | None = None,
    progress: Progress | None = None,
    ledger: RunLedger | None = None,
    landing_dir: Path | None = None,
) -> RunOutcome:
    """Measure ``request`` and write its landing files. With a ``ledger`` (a fleet host) the store is
    never opened: the run's row goes to the ledger, the files to ``landing_dir``."""
    say = progress or (lambda _m: None)
    tools = request.resolved_tools()
    suite = request.suite.with_revisions(tools)
    sizes = request.resolved_sizes()
    run_id = request.run_id or new_run_id(suite.name)
    landing_dir = landing_dir or paths.landing_dir()
    if ledger is None:
        store = store or Store()
        clean_dead_runs(
            store, docker=request.backend != "local"
        )  # what killed runs left: work dirs, containers
    backend, choice = choose_backend(request.backend, bin_dir=paths.home() / "bin")
    say(f"backend {choice.kind}: {choice.reason}")
    work = paths.work_dir() / run_id
    host = host_info(paths.home())
    settings = EffectiveSettings.for_suite(suite, request.quick).__dict__
    record: Any = ledger if ledger is not None else store  # a Store, or a RunLedger
    record.create_run(
        run_id,
        suite.name,
        trigger=request.trigger,
        backend=backend.name,
        host=host,
        settings=settings,
        tools=tools,
        sizes=sizes,
        quick=request.quick,
        suite_sha256=suite.sha256,
        git_tag=request.git_tag,
        git_commit=request.git_commit,
    )
    say(f"run {run_id}: suite {suite.name}, tools {', '.join(tools)}, sizes {', '.join(sizes)}")
    try:
        prepared = prepare_fixtures(suite, tools, sizes, say, allow_build=request.allow_build)
        if store is not None:
            record_builds(store, list(prepared.statuses.values()), suite=suite.name, run_id=run_id)
        adaptive = None
        if store is not None and suite.settings.adaptive_runs and not request.quick:
            from bench_pipeline.execution.adaptive import suggested_min_runs

            adaptive = suggested_min_runs(store, suite.name)
            if adaptive:
                say(f"adaptive run counts from history for {len(adaptive)} cell(s)")
        result = execute_run(
            suite,
            run_id,
            tools,
            sizes,
            quick=request.quick,
            backend=backend,
            tool_fixtures=prepared.fixtures,
            fixture_cache=paths.fixtures_dir(),
            work_dir=work,
            seed=request.seed,
            progress=say,
            min_runs=adaptive,
            unavailable={t: s.reason for t, s in prepared.unavailable.items()},
            bin_dirs=prepared.bin_dirs(),
            decide_on=request.decide_on,
        )
        cells = result.cells
        landed = []
        for tool in tools:
            tool_samples = result.samples.filter(result.samples["tool"] == tool)
            tool_cells = cells.filter(cells["tool"] == tool)
            landed.append(
                write_landing(
                    tool_samples,
                    landing_dir,
                    run_id=run_id,
                    kind="samples",
                    suite=suite.name,
                    tool=tool,
                )
            )
            landed.append(
                write_landing(
                    tool_cells, landing_dir, run_id=run_id, kind="cells", suite=suite.name, tool=tool
                )
            )
        if result.decisions.height:  # the tool pairs' verdicts, for the comparisons of the report stage
            landed.append(
                write_landing(
                    result.decisions,
                    landing_dir,
                    run_id=run_id,
                    kind="decisions",
                    suite=suite.name,
                    tool=DECISIONS_TOOL,
                )
            )
        all_unavailable = prepared.unavailable_record()
        for tool in tools:  # a tool found, but not runnable in its worker (e.g. missing in an image)
            if tool not in result.tool_versions and tool not in all_unavailable:
                why = next(
                    iter(
                        cells.filter((pl.col("tool") == tool) & (pl.col("status") == "unavailable"))["reason"]
                    ),
                    "",
                )
                all_unavailable[tool] = {
                    "action": "unavailable",
                    "reason": why or "not runnable",
                    "fix": "bench-pipeline doctor",
                }
        record.finish_run(  # succeeded once its samples, statistics and reports are committed (resume.py)
            run_id,
            "succeeded",
            pending=True,
            tool_versions=result.tool_versions,
            seconds=result.seconds,
            host={**host, "backend": result.backend_info},
            unavailable=all_unavailable,
            measuring=result.measuring,
        )
    except BaseException as exc:
        message = exc.message if isinstance(exc, BenchError) else f"{type(exc).__name__}: {exc}"
        # an exception is a failed run; Ctrl-C or SystemExit an interrupted one
        record.finish_run(
            run_id, "failed" if isinstance(exc, Exception) else "interrupted", message=message[:2000]
        )
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    counts = {status: int(n) for status, n in cells.group_by("status").len().iter_rows()}
    timed = int((~result.samples["warmup"]).sum())
    warmups = result.samples.height - timed
    say(
        f"run {run_id}: {timed} samples"
        + (f" (and {warmups} warmup runs)" if warmups else "")
        + f" in {result.seconds:.1f}s; cells: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    )
    return RunOutcome(
        run_id=run_id,
        status="succeeded",
        samples=timed,
        cells=counts,
        backend=choice,
        tools=tools,
        seconds=result.seconds,
        landing=landed,
        tool_versions=result.tool_versions,
        unavailable=all_unavailable,
    )
