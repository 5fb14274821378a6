"""Bisecting a performance regression (SPEC §16; asv's ``find``, ``git bisect``): the first commit
between a good and a bad revision whose verdict against the good build is a regression.

The model is git bisect's: the candidates are the commits after ``good`` up to and including
``bad`` (``git rev-list --ancestry-path --reverse good..bad``), the regression enters at one of them
and stays. A binary search over that order measures the middle candidate and keeps the half that
holds the first bad one. A step builds the candidate (``bench_pipeline.builds``) and measures it
interleaved against the good build in a suite run of its own — the one operation, one fixture,
tools ``T@good`` and ``T@candidate`` — and decides with that run's stored comparison (candidate
relative to good, the chosen metric, the suite's margin δ; the measuring loop samples until the
verdict on that metric — wall or CPU time — is decided, or ``max_runs``): ``slower`` is bad; equivalent, faster or inconclusive is good
(an inconclusive step is flagged in the evidence). ``bad`` itself is measured first: when it is no
regression there is nothing to find. A candidate that does not build is skipped, and the buildable
commit nearest the middle is measured instead (``git bisect skip``). Cost: one run for ``bad`` plus
⌈log₂ n⌉ runs for n candidates (+1 per skip). Every step is a row of ``bisect_steps``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from bench_pipeline.analysis import stored_comparisons
from bench_pipeline.builds.source import commit_subject, commits_between, resolve
from bench_pipeline.errors import BenchError, BisectError
from bench_pipeline.execution.backends import DEFAULT_BACKEND
from bench_pipeline.execution.rounds import DECIDABLE
from bench_pipeline.execution.suite_run import RunRequest, run_suite
from bench_pipeline.resume import complete_runs
from bench_pipeline.store import Store
from bench_pipeline.suite import Suite
from bench_pipeline.suite.build import tool_at, valid_tool_rev

Progress = Callable[[str], None]
BAD, GOOD, SKIP = "bad", "good", "skip"


@dataclass
class Step:
    """One candidate measured (or skipped) against the good build."""

    step: int
    commit: str
    position: int  # among the candidates, oldest first; bad is the last
    subject: str
    decision: str  # bad | good | skip
    build_status: str  # cached | built | failed | …
    run_id: str | None = None
    verdict: str | None = None  # candidate relative to good
    ratio: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_adjusted: float | None = None
    n_good: int | None = None
    n_candidate: int | None = None
    reason: str = ""


@dataclass
class Bisection:
    bisect_id: str
    suite: str
    tool: str
    operation: str
    fixture: str
    metric: str
    good: str
    bad: str
    good_commit: str = ""
    bad_commit: str = ""
    candidates: list[str] = field(default_factory=list)
    status: str = "running"  # found | not_regressed | undecided | failed
    first_bad: str | None = None
    message: str = ""
    steps: list[Step] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        first = next((s for s in self.steps if s.commit == self.first_bad and s.decision == BAD), None)
        return {
            "bisect_id": self.bisect_id,
            "suite": self.suite,
            "tool": self.tool,
            "operation": self.operation,
            "fixture": self.fixture,
            "metric": self.metric,
            "good": self.good,
            "bad": self.bad,
            "good_commit": self.good_commit,
            "bad_commit": self.bad_commit,
            "candidates": len(self.candidates),
            "status": self.status,
            "first_bad": None
            if self.first_bad is None
            else {
                "commit": self.first_bad,
                "subject": first.subject if first else "",
                "evidence": asdict(first) if first else None,
            },
            "message": self.message,
            "steps": [asdict(s) for s in self.steps],
        }


# what one step measures: (candidate commit) -> the step's outcome, without step number and position
Measure = Callable[[str], Step]


def search(
    candidates: list[str],
    measure: Measure,
    progress: Progress | None = None,
    record: Callable[[Step], None] | None = None,
) -> tuple[str, str | None, list[Step], str]:
    """Binary search for the first bad candidate (``candidates`` oldest first, the last one is ``bad``).

    ``record`` is called with every step as soon as it is decided. Returns (status, first bad commit,
    steps, message); ``status`` ∈ found | not_regressed | undecided | failed.
    """
    say = progress or (lambda _m: None)
    steps: list[Step] = []

    def measured(position: int) -> Step:
        outcome = measure(candidates[position])
        outcome.step, outcome.position = len(steps) + 1, position
        steps.append(outcome)
        if record:
            record(outcome)
        say(_line(outcome, len(candidates)))
        return outcome

    last = len(candidates) - 1
    first = measured(last)
    if first.decision == SKIP:
        return "failed", None, steps, f"the bad revision cannot be measured: {first.reason}"
    if first.decision == GOOD:
        return (
            "not_regressed",
            None,
            steps,
            f"the bad revision is no regression against good ({first.verdict}, ratio {_fmt(first.ratio)}): nothing to find",
        )
    lo, hi, skipped = -1, last, set()  # lo: last known good (-1: good itself); hi: first known bad
    while True:
        inside = [i for i in range(lo + 1, hi) if i not in skipped]
        if not inside:
            break
        middle = (lo + hi) / 2
        pick = min(inside, key=lambda i: (abs(i - middle), i))
        outcome = measured(pick)
        if outcome.decision == BAD:
            hi = pick
        elif outcome.decision == GOOD:
            lo = pick
        else:
            skipped.add(pick)
    unknown = sorted(i for i in skipped if lo < i < hi)
    if unknown:
        names = ", ".join(candidates[i][:12] for i in [*unknown, hi])
        return "undecided", None, steps, f"the first bad commit is one of {names} (the others did not build)"
    return "found", candidates[hi], steps, ""


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _line(s: Step, n: int) -> str:
    what = (
        f"{s.verdict}, ratio {_fmt(s.ratio)} [{_fmt(s.ci_low)}–{_fmt(s.ci_high)}]" if s.verdict else s.reason
    )
    return f"step {s.step}: {s.commit[:12]} ({s.position + 1}/{n}) {s.subject[:50]!r}: {what} → {s.decision}"


def bisect(
    suite: Suite,
    tool: str,
    good: str,
    bad: str,
    operation: str,
    *,
    fixture: str | None = None,
    metric: str = "wall",
    backend: str = DEFAULT_BACKEND,
    store: Store | None = None,
    progress: Progress | None = None,
    allow_build: bool | None = None,
) -> Bisection:
    """Find the first commit between ``good`` and ``bad`` whose ``operation`` regresses against ``good``."""
    say = progress or (lambda _m: None)
    store = store or Store()
    definition = suite.tools.get(tool)
    if definition is None:
        raise BisectError(
            f"suite {suite.name!r} has no tool {tool!r}", fix=f"choose among: {', '.join(suite.tools)}"
        )
    build = definition.build
    if build is None or build.git is None:
        raise BisectError(
            f"tool {tool!r} is not built from a git repository, so there are no commits to bisect",
            where=f"{suite.source}: tools.{tool}.build",
            fix="give the tool a `build: git:` source (docs/suite-format.md)",
        )
    op = suite.operation(operation)  # a SuiteError names an unknown operation
    if tool in op.na or tool not in op.commands:
        raise BisectError(
            f"operation {operation!r} has no command for {tool}", fix="choose another --operation"
        )
    size = fixture or suite.settings.sizes[0]
    try:
        candidates = commits_between(tool, build.git, good, bad)
        good_commit = resolve(tool, build.git, good, fetch=False).commit
    except BenchError as exc:
        raise BisectError(exc.message, where=exc.where, fix=exc.fix) from None
    if not candidates:
        raise BisectError(
            f"no commits after {good} up to {bad}", fix="--bad must be a later revision than --good"
        )
    run = Bisection(
        uuid.uuid4().hex[:12],
        suite.name,
        tool,
        operation,
        size,
        metric,
        good,
        bad,
        good_commit,
        candidates[-1],
        candidates,
    )
    store.append_rows(
        "bisects",
        [
            {
                "bisect_id": run.bisect_id,
                "suite": suite.name,
                "tool": tool,
                "operation": operation,
                "fixture": size,
                "metric": metric,
                "good": good,
                "bad": bad,
                "good_commit": good_commit,
                "bad_commit": candidates[-1],
                "candidates": len(candidates),
                "status": "running",
                "started_at": datetime.now(UTC),
            }
        ],
    )
    say(
        f"bisect {run.bisect_id}: {len(candidates)} commits after {good} ({good_commit[:12]}) up to {bad} "
        f"({candidates[-1][:12]}); {operation} on {size}, {metric}; at most "
        f"{1 + max(0, len(candidates) - 1).bit_length()} runs"
    )
    # the good build keeps the name people gave it when that is a stable one (a tag, a version)
    measure = _StepRun(
        suite.only_operations([operation]),
        tool,
        tool_at(tool, _revision_name(good, good_commit)),
        operation,
        size,
        metric,
        backend,
        allow_build,
        store,
        lambda m: say(f"  {m}"),
    )

    def record(step: Step) -> None:
        store.append_rows(
            "bisect_steps", [{**asdict(step), "bisect_id": run.bisect_id, "recorded_at": datetime.now(UTC)}]
        )

    try:
        status, first_bad, steps, message = search(candidates, measure, say, record)
    except BaseException as exc:
        store.update_bisect(
            run.bisect_id,
            status="failed",
            message=(exc.message if isinstance(exc, BenchError) else f"{type(exc).__name__}: {exc}")[:2000],
            finished_at=datetime.now(UTC),
        )
        raise
    run.status, run.first_bad, run.steps, run.message = status, first_bad, steps, message
    store.update_bisect(
        run.bisect_id, status=status, first_bad=first_bad, message=message, finished_at=datetime.now(UTC)
    )
    return run


@dataclass
class _StepRun:
    """One step: a run of ``operation`` on ``size`` with the good build (``reference``) and the
    candidate interleaved, loaded and analysed; its stored comparison decides."""

    suite: Suite  # restricted to the operation
    tool: str
    reference: str  # tool@good
    operation: str
    size: str
    metric: str
    backend: str
    allow_build: bool | None
    store: Store
    progress: Progress

    def __call__(self, commit: str) -> Step:
        candidate = tool_at(self.tool, commit[:12])
        request = RunRequest(
            suite=self.suite,
            tools=[self.reference, candidate],
            sizes=[self.size],
            backend=self.backend,
            trigger="bisect",
            git_commit=commit,
            allow_build=self.allow_build,
            # sample until the verdict on the bisected metric is known (CPU time decides a CPU
            # regression; peak memory, a near-deterministic metric, at a fixed n as before)
            decide_on=self.metric if self.metric in DECIDABLE else "wall",
        )
        outcome = run_suite(request, store=self.store, progress=self.progress)
        built = self.store.query(
            "SELECT status FROM builds WHERE run_id = ? AND tool = ? ORDER BY recorded_at DESC LIMIT 1",
            [outcome.run_id, candidate],
        )
        step = Step(
            0,
            commit,
            0,
            commit_subject(self.tool, commit),
            SKIP,
            built["status"][0] if not built.is_empty() else "installed",
            outcome.run_id,
        )
        if self.reference in outcome.unavailable:
            why = outcome.unavailable[self.reference]
            raise BisectError(f"the good revision cannot be measured: {why['reason']}", fix=why["fix"])
        if candidate in outcome.unavailable:
            return replace(step, reason=outcome.unavailable[candidate]["reason"])
        # loaded, analysed and reported: the step's run is `succeeded` before its comparison is read
        complete_runs(self.store, [outcome.run_id])
        wanted = (self.operation, self.size, self.metric)
        rows = [
            r
            for r in stored_comparisons(self.store, outcome.run_id, self.reference, candidate)
            if (r["operation"], r["fixture"], r["metric"]) == wanted
        ]
        if not rows:
            return replace(step, reason="no comparison (no successful samples)")
        r = rows[0]
        return replace(
            step,
            decision=BAD if r["verdict"] == "slower" else GOOD,
            verdict=r["verdict"],
            ratio=r["ratio"],
            ci_low=r["ci_low"],
            ci_high=r["ci_high"],
            p_adjusted=r["p_adjusted"],
            n_good=r["n_a"],
            n_candidate=r["n_b"],
        )


def _revision_name(rev: str, commit: str) -> str:
    """``rev`` when it can be a ``tool@rev`` name and is not the commit itself, else the short commit."""
    try:
        return valid_tool_rev(rev)
    except ValueError:
        return commit[:12]
