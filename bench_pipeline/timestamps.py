"""The one timestamp rule: every time bench-pipeline accepts is aware, in UTC, and in a sane range.

Times arrive through CLI flags (``ingest --started-at``, ``tier --as-of``), result files (a run's
start, a sample's time), the API's payloads and Dagster config. Each goes through this module, so a
value Python, Polars or DuckDB cannot carry (year 0 or 10000 once converted to UTC: an
``OverflowError`` on every later read) is refused where it enters, with the input named:

- a time without a zone is UTC; a time with one is converted to UTC;
- it must lie in [:data:`EARLIEST`, :data:`LATEST`) — 1970 to 2200: before the epoch nothing was
  benchmarked, and past 2200 it is a typo or an attack;
- dates (``--as-of``) obey the same range.

Reads are robust too: :func:`clip_frame` bounds the time columns of a query result, so a row stored
before this rule existed cannot make a read path fail.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import polars as pl
from pydantic import AfterValidator

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
RANGE = "the accepted range, 1970-01-01 to 2200-01-01 (UTC)"
FIX = "give an ISO 8601 time between 1970 and 2200, e.g. 2024-05-01T12:00:00Z"


class TimestampError(ValueError):
    """A time that is not one, or outside the range; the message says which."""


def check_time(value: datetime) -> datetime:
    """``value`` in UTC (naive means UTC), or TimestampError when it is outside the range."""
    if not isinstance(value, datetime):
        raise TimestampError(f"{value!r} is not a time")
    try:
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (OverflowError, ValueError):  # year 0 or 10000 once in UTC
        raise TimestampError(f"{value.isoformat()} is outside {RANGE}") from None
    if not EARLIEST <= utc < LATEST:
        raise TimestampError(f"{value.isoformat()} is outside {RANGE}")
    return utc


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (``Z`` allowed; a date alone is midnight UTC) checked by :func:`check_time`."""
    if not isinstance(text, str) or len(text) > 64:
        raise TimestampError(f"{str(text)[:64]!r} is not an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(text.strip().replace("z", "Z").replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise TimestampError(f"{text!r} is not an ISO 8601 time") from None
    return check_time(parsed)


def check_date(value: date) -> date:
    if not EARLIEST.date() <= value < LATEST.date():
        raise TimestampError(f"{value.isoformat()} is outside {RANGE}")
    return value


def parse_date(text: str) -> date:
    """A ``YYYY-MM-DD`` date in the range."""
    try:
        parsed = date.fromisoformat(text.strip()) if isinstance(text, str) and len(text) <= 32 else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise TimestampError(f"{str(text)[:64]!r} is not a date (YYYY-MM-DD)")
    return check_date(parsed)


def from_epoch(value: int | float | Decimal, unit: str = "s") -> datetime:
    """Seconds (or ``ms``) since the epoch as a UTC time in the range."""
    scale = {"s": 1, "ms": 1000, "us": 10**6, "ns": 10**9}[unit]
    try:
        seconds = Decimal(value) / scale
        if not Decimal((EARLIEST - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) <= seconds:
            raise TimestampError(f"{value} {unit} since the epoch is before 1970")
        return check_time(EARLIEST + timedelta(seconds=float(seconds)))
    except (OverflowError, ArithmeticError, ValueError) as exc:
        if isinstance(exc, TimestampError):
            raise
        raise TimestampError(f"{value} {unit} since the epoch is outside {RANGE}") from None


def _pydantic_check(value: Any) -> Any:
    return None if value is None else check_time(value)


#: a pydantic field type: an ISO 8601 time, in UTC and in range (the error names the field)
UtcTime = Annotated[datetime, AfterValidator(_pydantic_check)]


def clip_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every datetime and date column bounded to the range (what reads may return)."""
    bounded = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.Datetime):
            tz = dtype.time_zone
            low = pl.lit(EARLIEST if tz else EARLIEST.replace(tzinfo=None)).cast(dtype)
            high = pl.lit((LATEST if tz else LATEST.replace(tzinfo=None)) - timedelta(microseconds=1)).cast(
                dtype
            )
            bounded.append(pl.col(name).clip(low, high))
        elif dtype == pl.Date:
            bounded.append(pl.col(name).clip(EARLIEST.date(), LATEST.date() - timedelta(days=1)))
    return frame.with_columns(bounded) if bounded else frame
