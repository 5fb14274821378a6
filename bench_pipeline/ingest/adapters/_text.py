"""What the adapters of plain-text tool output share: reading the text (for detection without
errors), colour codes removed, numbers with thousands separators, times with a unit."""

from __future__ import annotations

import re
from decimal import Decimal

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest.model import TIME_UNITS, decimal_text, exact_ns, ns_at
from bench_pipeline.ingest.source import MAX_INT_DIGITS, Source

#: ANSI escape sequences (colours) that tools print when they think they write to a terminal
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: a decimal number as tools print it: 1,234.5 / 12_345 / 1.5e+06
NUMBER = r"[0-9][0-9,_]*(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?"
TIME_UNIT = r"ps|ns|us|µs|μs|ms|s"


def lines(src: Source) -> list[str] | None:
    """The source's lines without colour codes, or None when it is not a text file (a directory,
    JSON, binary, not UTF-8): what ``detect`` functions use, so that they never raise."""
    if src.is_dir or src.looks_like_json():
        return None
    try:
        text = src.text
    except IngestError:
        return None
    if "\x00" in text:
        return None
    return ANSI.sub("", text).splitlines()


def number(text: str, where: str, fix: str) -> Decimal:
    """``text`` (thousands separators allowed) as an exact Decimal, or an IngestError at ``where``;
    more than MAX_INT_DIGITS digits before the point is refused, as in JSON files."""
    plain = text.replace(",", "").replace("_", "")
    if len(plain.split(".", 1)[0].lstrip("-+")) > MAX_INT_DIGITS:
        raise IngestError(f"a number of {len(plain):,} digits is too large", where=where, fix=fix)
    try:
        return decimal_text(plain)
    except ValueError as exc:
        raise IngestError(str(exc), where=where, fix=fix) from None


def time_ns(value: Decimal, unit: str, where: str, fix: str) -> tuple[int, Decimal]:
    """(integer ns, exact ns) of ``value`` ``unit``."""
    if unit not in TIME_UNITS:
        raise IngestError(f"unknown time unit {unit!r}", where=where, fix=fix)
    return ns_at(value, unit, where, fix), exact_ns(value, unit)
