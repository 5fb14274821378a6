"""The results bundle: one JSON schema for ``POST /api/results`` (a run), ``POST /api/results/batch``
(a batch of runs) and bundle files given to ``bench-pipeline ingest`` (either of the two).

Modelled on agent-evaluation harnesses (runs grouped in batches, evaluator scores, telemetry) and
general enough for any harness: a run holds samples; a sample is one timed execution of one
operation by one tool and may carry evaluator scores (0–1), telemetry (tokens, cost, tool calls,
duration) and free metrics. An agent run in the harness's sense (one agent on one scenario) is
one sample: ``tool`` = agent, ``operation`` = scenario, ``fixture`` = tier. The run-level
``operation`` + ``evaluations``/``telemetry`` shorthand posts exactly that as a one-sample run.
Documented with examples in docs/api.md; versioned by ``schema``/``version``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    create_model,
    model_validator,
)

from bench_pipeline.ingest.model import (
    COUNTER_NAMES,
    DEFAULT_FIXTURE,
    CellInfo,
    ExitCode,
    Fraction,
    Label,
    Name,
    NonNegInt,
    NonNegNumber,
    Number,
    Round,
    RunData,
    RunId,
    Sample,
    counter_fields,
    normalise_unit,
    to_ns,
)
from bench_pipeline.timestamps import UtcTime

SCHEMA = "bench-pipeline/results-bundle"
VERSION = 1
MAX_TEXT = 256


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Evaluation(_Strict):
    """One evaluator's verdict on a sample: a score from 0 (worst) to 1 (best)."""

    evaluator: Label = Field(
        validation_alias=AliasChoices("evaluator", "name"), description="evaluator name, e.g. expected-diff"
    )
    score: Fraction = Field(description="normalised score, 0 to 1")
    passed: bool | None = Field(None, description="the evaluator's pass/fail verdict, when it has one")
    details: dict[str, Any] | str | None = Field(None, description="free text / JSON; not stored")


class Telemetry(_Strict):
    """What an agent run cost: tokens, money, tool calls, time."""

    tokens_in: NonNegInt | None = None
    tokens_out: NonNegInt | None = None
    tool_calls: NonNegInt | None = None
    cost_usd: NonNegNumber | None = None
    duration_ns: NonNegInt | None = None
    duration_ms: NonNegNumber | None = None

    @model_validator(mode="after")
    def _one_duration(self) -> Telemetry:
        if self.duration_ns is not None and self.duration_ms is not None:
            raise ValueError("give duration_ns or duration_ms, not both")
        return self

    def duration(self) -> int | None:
        if self.duration_ns is not None:
            return self.duration_ns
        return to_ns(self.duration_ms, "ms") if self.duration_ms is not None else None


class MetricValue(_Strict):
    value: Number
    unit: str | None = Field(None, max_length=32, description="s/ms/us/ns → ns, B/KiB/MiB/… → bytes")


if TYPE_CHECKING:  # the counters are read by name (COUNTER_NAMES); type checkers need not see them
    _StrictWithCounters = _Strict
else:
    _StrictWithCounters = create_model("_StrictWithCounters", __base__=_Strict, **counter_fields())


class SampleIn(_StrictWithCounters):
    """One timed execution of one operation by one tool; the optional counters of the sample declaration
    (``user_ns``, ``peak_rss_bytes``, …) come from ``counter_fields``."""

    operation: Label
    tool: Name | None = Field(None, description="defaults to the run's tool")
    fixture: Label | None = Field(
        None, description=f"defaults to the run's fixture, else {DEFAULT_FIXTURE!r}"
    )
    wall_ns: NonNegInt | None = Field(None, description="wall time in ns; defaults to telemetry's duration")
    exit_code: ExitCode = 0
    ok: bool | None = Field(None, description="success; defaults to exit_code == 0 and not timed out")
    timed_out: bool = False
    round: Round | None = Field(None, description="interleaving round, if the harness interleaved tools")
    score: Fraction | None = Field(None, description="overall score 0-1; defaults to the mean of evaluations")
    evaluations: list[Evaluation] = Field(default_factory=list)
    telemetry: Telemetry | None = None
    metrics: dict[Label, Number | MetricValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _has_time(self) -> SampleIn:
        if self.wall_ns is None and (self.telemetry is None or self.telemetry.duration() is None):
            raise ValueError("wall_ns (or telemetry.duration_ns / duration_ms) is required")
        return self


class RunIn(_Strict):
    """One run: samples of one suite, by one or more tools."""

    schema_: Literal["bench-pipeline/results-bundle"] | None = Field(None, alias="schema")
    version: Literal[1] | None = None
    run_id: RunId | None = Field(None, description="required by the API; idempotency key")
    suite: Name | None = None
    tool: Name | None = Field(
        None,
        description="default tool of the samples (the agent)",
        validation_alias=AliasChoices("tool", "agent"),
    )
    model: str | None = Field(
        None, max_length=MAX_TEXT, description="agent model; stored as the tool's version"
    )
    operation: Label | None = Field(
        None,
        validation_alias=AliasChoices("operation", "scenario"),
        description="with run-level evaluations/telemetry: the operation (scenario) they measured",
    )
    fixture: Label | None = Field(None, validation_alias=AliasChoices("fixture", "tier"))
    started_at: UtcTime | None = None
    finished_at: UtcTime | None = None
    status: Literal["succeeded", "failed"] = "succeeded"
    git_tag: str | None = Field(None, max_length=MAX_TEXT)
    git_commit: str | None = Field(None, max_length=MAX_TEXT)
    host: dict[str, Any] = Field(default_factory=dict)
    tool_versions: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    batch_id: Name | None = None
    samples: list[SampleIn] = Field(default_factory=list)
    wall_ns: NonNegInt | None = Field(
        None, description="with run-level evaluations/telemetry: the run's time"
    )
    exit_code: ExitCode = 0
    score: Fraction | None = None
    evaluations: list[Evaluation] = Field(default_factory=list)
    telemetry: Telemetry | None = None
    metrics: dict[Label, Number | MetricValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _shape(self) -> RunIn:
        run_level = self.has_run_level()
        if run_level and not self.operation:
            raise ValueError("run-level evaluations/telemetry/score/metrics need `operation` (the scenario)")
        if not self.samples and not run_level:
            raise ValueError("a run needs samples (or run-level telemetry/evaluations with an operation)")
        if run_level:
            # the run-level shorthand must make a valid sample
            SampleIn.model_validate(
                {"operation": self.operation, "wall_ns": self.wall_ns, "telemetry": self.telemetry}
            )
        return self

    def has_run_level(self) -> bool:
        return bool(
            self.evaluations
            or self.telemetry
            or self.score is not None
            or self.metrics
            or self.wall_ns is not None
        )

    def as_samples(self) -> list[SampleIn]:
        """The samples, with the run-level shorthand turned into one more sample."""
        out = list(self.samples)
        if self.operation and self.has_run_level():
            out.append(
                SampleIn.model_validate(
                    {
                        "operation": self.operation,
                        "wall_ns": self.wall_ns,
                        "exit_code": self.exit_code,
                        "score": self.score,
                        "evaluations": self.evaluations,
                        "telemetry": self.telemetry,
                        "metrics": self.metrics,
                    }
                )
            )
        return out


EXAMPLE_RUN: dict[str, Any] = {
    "run_id": "ci-4711-linux",
    "suite": "cli-latency",
    "tool": "mytool",
    "started_at": "2024-05-01T12:00:00Z",
    "git_commit": "4f2a9c1",
    "samples": [
        {"operation": "startup", "wall_ns": 12000001, "user_ns": 9000000, "peak_rss_bytes": 10485760},
        {"operation": "startup", "wall_ns": 11999999, "metrics": {"instructions": 48000123}},
    ],
}
EXAMPLE_AGENT_RUN: dict[str, Any] = {
    "run_id": "eval-2024-05-01-claude-update-deps",
    "suite": "agent-evals",
    "tool": "claude-code",
    "model": "claude-sonnet-4",
    "operation": "update-deps",
    "fixture": "L1",
    "evaluations": [
        {"evaluator": "expected-diff", "score": 0.83},
        {"evaluator": "build", "score": 1, "passed": True},
    ],
    "telemetry": {
        "tokens_in": 120345,
        "tokens_out": 8123,
        "cost_usd": 0.42,
        "tool_calls": 37,
        "duration_ms": 61234,
    },
}


class RunSubmission(RunIn):
    """``POST /api/results``: a run with the id that makes the submission idempotent."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={"examples": [EXAMPLE_RUN, EXAMPLE_AGENT_RUN]},
    )

    run_id: RunId = Field(description="idempotency key: the same run posted twice is stored once")
    suite: Name

    @model_validator(mode="after")
    def _tools(self) -> RunSubmission:
        if self.tool is None and (self.has_run_level() or any(s.tool is None for s in self.samples)):
            raise ValueError("`tool` is required on the run or on every sample")
        return self


class BatchSubmission(_Strict):
    """``POST /api/results/batch``: several runs, linked to one batch, stored all or nothing."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "batch_id": "nightly-2024-05-01",
                    "metadata": {"harness": "agent-eval"},
                    "runs": [EXAMPLE_AGENT_RUN],
                }
            ]
        },
    )

    batch_id: Name
    metadata: dict[str, Any] = Field(default_factory=dict)
    runs: list[RunSubmission] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> BatchSubmission:
        ids = [r.run_id for r in self.runs]
        if len(set(ids)) != len(ids):
            raise ValueError("run ids in a batch must be distinct")
        return self


class BatchIn(_Strict):
    """A batch: runs submitted together (e.g. every agent × scenario of one evaluation)."""

    schema_: Literal["bench-pipeline/results-bundle"] | None = Field(None, alias="schema")
    version: Literal[1] | None = None
    batch_id: Name
    metadata: dict[str, Any] = Field(default_factory=dict)
    runs: list[RunIn] = Field(min_length=1)


def to_run_data(run: RunIn, *, batch_id: str | None = None, batch_metadata: dict | None = None) -> RunData:
    """The normalised form of one submitted run (tool/suite may still be None: the caller decides)."""
    data = RunData(
        run_id=run.run_id,
        suite=run.suite,
        tool=run.tool,
        started_at=run.started_at,
        finished_at=run.finished_at,
        status=run.status,
        git_tag=run.git_tag,
        git_commit=run.git_commit,
        host=run.host,
        tool_versions=dict(run.tool_versions),
        metadata=dict(run.metadata),
        batch_id=batch_id or run.batch_id,
        batch_metadata=batch_metadata or {},
        keep_rounds=any(s.round is not None for s in run.samples),
    )
    if run.model:
        data.metadata["model"] = run.model
        if run.tool:
            data.tool_versions.setdefault(run.tool, run.model)
    cells: dict[tuple[str | None, str, str], CellInfo] = {}
    for s in run.as_samples():
        fixture = s.fixture or run.fixture or DEFAULT_FIXTURE
        duration = s.telemetry.duration() if s.telemetry else None
        sample = Sample(
            operation=s.operation,
            fixture=fixture,
            tool=s.tool,
            wall_ns=s.wall_ns if s.wall_ns is not None else duration,
            exit_code=s.exit_code,
            ok=s.ok,
            timed_out=s.timed_out,
            round=s.round,
            **{name: getattr(s, name) for name in COUNTER_NAMES},
        )
        _add_agent_metrics(sample, s, duration)
        data.samples.append(sample)
        key = (s.tool, s.operation, fixture)
        if key not in cells:
            cells[key] = CellInfo(
                operation=s.operation,
                fixture=fixture,
                tool=s.tool,
                source_name=s.operation,
                category="agent" if (s.evaluations or s.telemetry) else None,
            )
    data.cells = list(cells.values())
    return data


def _add_agent_metrics(sample: Sample, s: SampleIn, duration: int | None) -> None:
    scores = [e.score for e in s.evaluations]
    for evaluation in s.evaluations:
        sample.add(f"score.{evaluation.evaluator}", evaluation.score, "ratio")
        if evaluation.passed is not None:
            sample.add(f"passed.{evaluation.evaluator}", int(evaluation.passed), "bool")
    overall = s.score if s.score is not None else (sum(scores, Decimal(0)) / len(scores) if scores else None)
    sample.add("score", overall, "ratio")
    if s.telemetry is not None:
        t = s.telemetry
        sample.add("tokens_in", t.tokens_in, "tokens")
        sample.add("tokens_out", t.tokens_out, "tokens")
        sample.add("tool_calls", t.tool_calls, "count")
        sample.add("cost_usd", t.cost_usd, "USD")
        if duration is not None and s.wall_ns is not None and duration != s.wall_ns:
            sample.add("duration_ns", duration, "ns")
    for key, value in s.metrics.items():
        if isinstance(value, MetricValue):
            number, unit = normalise_unit(value.value, value.unit)
            sample.add(key, number, unit)
        else:
            sample.add(key, value, None)
