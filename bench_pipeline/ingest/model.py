"""The normalised form every adapter produces, plus the value types and name rules they share.

An adapter turns one source (a file, a directory, an API payload) into :class:`Parsed`: one or
more :class:`RunData`, each a list of :class:`Sample` and a description per cell
(:class:`CellInfo`). Nothing here touches the store; ``bench_pipeline.ingest.load`` writes it.

Numbers: sources write times as decimal text (seconds, µs, ns, …). They are read as
:class:`~decimal.Decimal` and converted to integer nanoseconds by exact decimal arithmetic,
rounded half-to-even, so ``0.011180449`` s is 11 180 449 ns and never 11 180 448 (what
``int(0.011180449 * 1e9)`` gives). Sources that report per-iteration times keep the exact value too,
as the metric ``wall_ns_exact`` — on every sample, whole number of nanoseconds or not, so that every
sample of a cell carries the same set of metrics.
"""

from __future__ import annotations

import math
import re
from array import array
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, WithJsonSchema

from bench_pipeline.errors import IngestError
from bench_pipeline.store.refs import RUN_ID_RE
from bench_pipeline.store.schema import COUNTERS

DEFAULT_FIXTURE = "default"
INT64_MAX = 2**63 - 1

#: names that key storage (landing file names, Dagster partition keys): run ids, suites, tools, batches
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: free-text names stored verbatim (operations, fixtures, metric keys): printable, bounded
MAX_LABEL = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

TIME_UNITS: dict[str, int | Decimal] = {
    "s": 10**9,
    "ms": 10**6,
    "us": 10**3,
    "µs": 10**3,
    "μs": 10**3,
    "ns": 1,
    "ps": Decimal("0.001"),
}
BYTE_UNITS: dict[str, int] = {
    "b": 1,
    "byte": 1,
    "bytes": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
}


# ------------------------------------------------------------------------------------------ numbers
def _number(value: Any) -> Decimal:
    """A finite JSON number as an exact Decimal (floats via their shortest repr, i.e. their JSON text)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("expected a number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("NaN and infinity are not allowed")
        return Decimal(repr(value))
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError("NaN and infinity are not allowed")
    return number


def json_number(value: Any) -> Decimal:
    """A finite JSON number (int, float or Decimal, not bool) as an exact Decimal, or ValueError."""
    return _number(value)


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _integer(value: Any) -> int:
    """A whole JSON number (``12``, ``12.0``) as int; fractions, NaN, booleans and strings are refused."""
    number = _number(value)
    if number != number.to_integral_value():
        raise ValueError("expected a whole number")
    result = int(number)
    if abs(result) > INT64_MAX:
        raise ValueError("too large (over 2^63 - 1)")
    return result


def _non_negative_int(value: int) -> int:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _fraction(value: Decimal) -> Decimal:
    if not Decimal(0) <= value <= Decimal(1):
        raise ValueError("must be between 0 and 1")
    return value


# WithJsonSchema: the OpenAPI document states what the validators accept (JSON numbers, not strings)
INT32_MAX = 2**31 - 1
MAX_ROUND = 2**30  # rounds are INTEGER columns; room is left for the offsets of joined sources

Number = Annotated[Decimal, BeforeValidator(_number), WithJsonSchema({"type": "number"})]
NonNegNumber = Annotated[
    Decimal,
    BeforeValidator(_number),
    AfterValidator(_non_negative),
    WithJsonSchema({"type": "number", "minimum": 0}),
]
Fraction = Annotated[
    Decimal,
    BeforeValidator(_number),
    AfterValidator(_fraction),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1}),
]
Int = Annotated[
    int,
    BeforeValidator(_integer),
    WithJsonSchema({"type": "integer"}),
]
NonNegInt = Annotated[
    int,
    BeforeValidator(_integer),
    AfterValidator(_non_negative_int),
    WithJsonSchema({"type": "integer", "minimum": 0}),
]


def _label(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    if not value.strip():
        raise ValueError("must not be empty")
    if len(value) > MAX_LABEL:
        raise ValueError(f"longer than {MAX_LABEL} characters")
    if _CONTROL.search(value):
        raise ValueError("contains control characters")
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ValueError(
            "must be 1-64 characters of letters, digits, '_', '.', '-', starting with a letter or digit"
        )
    return value


def _run_id(value: Any) -> str:
    if not isinstance(value, str) or not RUN_ID_RE.match(value):
        raise ValueError(
            "must be 1-128 characters of letters, digits, '_', '.', '-', starting with a letter or digit"
        )
    return value


def _exit_code(value: int) -> int:
    if not -INT32_MAX - 1 <= value <= INT32_MAX:
        raise ValueError("exit code out of range (32-bit)")
    return value


def _round(value: int) -> int:
    if value > MAX_ROUND:
        raise ValueError(f"round must be at most {MAX_ROUND}")
    return value


ExitCode = Annotated[
    int,
    BeforeValidator(_integer),
    AfterValidator(_exit_code),
    WithJsonSchema({"type": "integer", "minimum": -INT32_MAX - 1, "maximum": INT32_MAX}),
]
Round = Annotated[
    int,
    BeforeValidator(_integer),
    AfterValidator(_non_negative_int),
    AfterValidator(_round),
    WithJsonSchema({"type": "integer", "minimum": 0, "maximum": MAX_ROUND}),
]

#: stored verbatim, never used as a path: operation and fixture names, metric keys
Label = Annotated[
    str,
    BeforeValidator(_label),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_LABEL,
            "pattern": r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$",
        }
    ),
]
#: keys storage and partitions: suite, tool, batch id
Name = Annotated[str, BeforeValidator(_name), WithJsonSchema({"type": "string", "pattern": NAME_RE.pattern})]
RunId = Annotated[
    str, BeforeValidator(_run_id), WithJsonSchema({"type": "string", "pattern": RUN_ID_RE.pattern})
]


def check_name(value: str, what: str, *, fix: str, run_id: bool = False) -> str:
    """``value`` if it is a valid suite/tool/batch name (or run id), else an IngestError naming ``what``."""
    try:
        return _run_id(value) if run_id else _name(value)
    except ValueError as exc:
        raise IngestError(f"{value!r} is not a valid name: {exc}", where=what, fix=fix) from None


def check_label(value: str, what: str) -> str:
    try:
        return _label(value)
    except ValueError as exc:
        raise IngestError(
            f"{value[:80]!r} is not a valid name: {exc}",
            where=what,
            fix="use a non-empty printable name",
        ) from None


def to_ns(value: Decimal | int, unit: str = "s") -> int:
    """Exact integer nanoseconds of ``value`` ``unit`` (rounded half-to-even), or ValueError."""
    try:
        factor = TIME_UNITS[unit]
    except KeyError:
        raise ValueError(f"unknown time unit {unit!r} (known: {', '.join(TIME_UNITS)})") from None
    ns = (Decimal(value) * factor).to_integral_value(rounding=ROUND_HALF_EVEN)
    if ns < 0:
        raise ValueError("time must not be negative")
    if ns > INT64_MAX:
        raise ValueError("time too large for nanoseconds in 64 bits")
    return int(ns)


def ns_at(value: Decimal | int, unit: str, where: str, fix: str) -> int:
    """:func:`to_ns`, with an IngestError naming ``where`` instead of a ValueError."""
    try:
        return to_ns(value, unit)
    except ValueError as exc:
        raise IngestError(str(exc), where=where, fix=fix) from None


def exact_ns(value: Decimal | int, unit: str = "s") -> Decimal:
    return Decimal(value) * TIME_UNITS[unit]


def to_bytes(value: Decimal | int, unit: str = "B") -> int:
    try:
        factor = BYTE_UNITS[unit.lower()]
    except KeyError:
        raise ValueError(f"unknown size unit {unit!r}") from None
    result = (Decimal(value) * factor).to_integral_value(rounding=ROUND_HALF_EVEN)
    if result < 0 or result > INT64_MAX:
        raise ValueError("size out of range")
    return int(result)


def normalise_unit(value: Decimal, unit: str | None) -> tuple[float, str | None]:
    """(value, unit) with times in ns and sizes in bytes; other units are kept as given."""
    if unit is None:
        return float(value), None
    if unit in TIME_UNITS:
        return float(exact_ns(value, unit)), "ns"
    if unit.lower() in BYTE_UNITS:
        return float(Decimal(value) * BYTE_UNITS[unit.lower()]), "bytes"
    return float(value), unit


def decimal_text(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError("NaN and infinity are not allowed")
    return value


# ------------------------------------------------------------------------------------------ sample counters
#: the optional amounts of the sample declaration (bench_pipeline.store.schema.COUNTERS) a source
#: may give: adapters pass them to :class:`Sample`, the API and native files accept them, and they
#: are stored unchanged. A column declared there appears in all of these.
COUNTER_NAMES: tuple[str, ...] = tuple(c.name for c in COUNTERS)


def counter_fields() -> dict[str, Any]:
    """pydantic field definitions (for ``create_model``) of the counters: optional non-negative
    integers, described as declared."""
    return {
        c.name: (NonNegInt | None, Field(None, description=f"{c.description} ({c.unit})")) for c in COUNTERS
    }


# ------------------------------------------------------------------------------------------ normalised data
@dataclass
class Metric:
    """One extra measurement of a sample (``sample_metrics`` row): times in ns, sizes in bytes."""

    key: str
    value: float
    unit: str | None = None


@dataclass(init=False, slots=True)  # slots: a million of them must stay small
class Sample:
    """One timed execution (or one repetition/batch of iterations) of one operation.

    ``wall_ns`` is per iteration for sources that time batches of iterations (criterion, Google
    Benchmark, go test, pytest-benchmark); ``None`` for a source entry that has metrics but no time
    (stored in ``sample_metrics`` only). The optional counters of the sample declaration
    (``user_ns``, ``peak_rss_bytes``, …: :data:`COUNTER_NAMES`) are keyword arguments, kept in
    ``counters`` when given.
    """

    operation: str
    wall_ns: int | None
    fixture: str
    tool: str | None
    exit_code: int
    ok: bool | None  # None: exit_code == 0 and not timed out
    timed_out: bool
    round: int | None  # kept when the source interleaved (native); else assigned
    created_at: datetime | None
    metrics: list[Metric]
    counters: dict[str, int]

    def __init__(
        self,
        operation: str,
        wall_ns: int | None,
        fixture: str = DEFAULT_FIXTURE,
        tool: str | None = None,
        *,
        exit_code: int = 0,
        ok: bool | None = None,
        timed_out: bool = False,
        round: int | None = None,
        created_at: datetime | None = None,
        metrics: list[Metric] | None = None,
        **counters: int | None,
    ) -> None:
        unknown = sorted(set(counters) - set(COUNTER_NAMES))
        if unknown:
            raise TypeError(
                f"Sample got unknown counter(s) {', '.join(unknown)}; known: {', '.join(COUNTER_NAMES)}"
            )
        self.operation = operation
        self.wall_ns = wall_ns
        self.fixture = fixture
        self.tool = tool
        self.exit_code = exit_code
        self.ok = ok
        self.timed_out = timed_out
        self.round = round
        self.created_at = created_at
        self.metrics = list(metrics or [])
        self.counters = {k: v for k, v in counters.items() if v is not None}

    def add(self, key: str, value: float | Decimal | int | None, unit: str | None = None) -> None:
        if value is not None:
            self.metrics.append(Metric(key, float(value), unit))

    def add_exact(self, exact: Decimal) -> None:
        """Keep the exact per-iteration time (ns). Always, not only when it has a fractional part:
        a cell whose exact statistics used only its fractional samples would be biased (go prints
        whole numbers from 999.95 ns/op on, so 150.0 / 150.3 / 149.8 would have a median of 150.05)."""
        self.add("wall_ns_exact", exact, "ns")


@dataclass
class SampleBlock:
    """The raw samples of one cell as columns, for sources with very many of them (hyperfine's
    ``times``): 8 bytes per value in ``array('q')`` instead of a :class:`Sample` object each, and
    turned into landing rows a chunk at a time (``bench_pipeline.ingest.load``).

    ``exit_code``: one per sample, or None when all are 0. ``peak_rss_bytes``: one per sample (-1: not
    measured), or None. Samples are successful when their exit code is 0.
    """

    operation: str
    wall_ns: array = field(default_factory=lambda: array("q"))
    exit_code: array | None = None
    peak_rss_bytes: array | None = None
    fixture: str = DEFAULT_FIXTURE
    tool: str | None = None

    def __len__(self) -> int:
        return len(self.wall_ns)

    def n_ok(self) -> int:
        return len(self) if self.exit_code is None else self.exit_code.tolist().count(0)


@dataclass
class CellInfo:
    """What a source says about one (tool, operation, fixture) besides its samples."""

    operation: str
    fixture: str = DEFAULT_FIXTURE
    tool: str | None = None
    source_name: str = ""  # the benchmark's name in the source, verbatim
    kind: str = "raw"  # raw | summary
    statistic: str | None = None  # for summary cells: which statistic the stored value is
    n_source: int | None = None  # how many runs/iterations the source measured for this cell
    category: str | None = None
    base_operation: str | None = None
    params: dict[str, Any] | None = None
    summary: dict[str, Any] = field(default_factory=dict)  # the source's own summary statistics


@dataclass
class RunData:
    """The part of one source that belongs to one run."""

    samples: list[Sample] = field(default_factory=list)
    cells: list[CellInfo] = field(default_factory=list)
    #: cells with very many raw samples, as columns (stored after ``samples``)
    blocks: list[SampleBlock] = field(default_factory=list)
    run_id: str | None = None
    suite: str | None = None
    tool: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    status: str = "succeeded"
    git_tag: str | None = None
    git_commit: str | None = None
    host: dict[str, Any] = field(default_factory=dict)
    tool_versions: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    batch_id: str | None = None
    batch_metadata: dict[str, Any] = field(default_factory=dict)
    #: rounds are the source's own interleaving rounds (native data): keep them
    keep_rounds: bool = False


@dataclass
class Parsed:
    format: str
    source: str  # file name (no directories) or "api"
    sha256: str
    runs: list[RunData]
    warnings: list[str] = field(default_factory=list)


def validation_error(exc: ValidationError, where: str, *, fix: str, limit: int = 5) -> IngestError:
    """An IngestError listing the first ``limit`` problems of a pydantic error as ``field: message``."""
    lines = []
    for error in exc.errors()[:limit]:
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
        lines.append(f"{loc or '(top level)'}: {error['msg'].removeprefix('Value error, ')}")
    more = exc.error_count() - limit
    if more > 0:
        lines.append(f"… and {more} more")
    first = lines[0] if len(lines) == 1 else "invalid content:\n    " + "\n    ".join(lines)
    return IngestError(first, where=where, fix=fix)
