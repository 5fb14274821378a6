"""``go test -bench`` output, plain text or ``-json`` (test2json), in the Go benchmark format.

Format (golang.org/design/14313-benchmark-format): configuration lines ``key: value`` (goos, goarch,
pkg, cpu, …) and result lines ``BenchmarkName-P  N  value unit  value unit …``. Each result line is
one run of ``N`` iterations → one sample of its ``ns/op`` (metrics ``iterations``,
``wall_ns_exact``); ``-count K`` gives K samples per benchmark. ``B/op`` → ``bytes_per_op``,
``allocs/op`` → ``allocs_per_op``, ``MB/s`` → ``mb_per_s``, any ``b.ReportMetric`` unit under its
own name. The ``-P`` GOMAXPROCS suffix is dropped from the operation name (kept as the metric
``procs``) unless one benchmark ran with several ``-cpu`` values. Configuration lines go to the run's
host; with ``-json`` the first event's time is the run's start. Log lines and PASS/FAIL are not kept.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest.model import (
    TIME_UNITS,
    CellInfo,
    Parsed,
    RunData,
    Sample,
    check_label,
    decimal_text,
    exact_ns,
    ns_at,
)
from bench_pipeline.ingest.source import Source
from bench_pipeline.timestamps import TimestampError, parse_time

NAME = "gotest"
FIX = "pass the output of `go test -run '^$' -bench . [-benchmem] [-count N] [-json]`"
RESULT = re.compile(r"^(Benchmark\S*)\s+(\d+)\s+(.+)$")
CONFIG = re.compile(r"^([a-z][^\s:]*):\s*(.*)$")
PROCS = re.compile(r"^(.*)-(\d+)$")
UNITS = {
    "B/op": ("bytes_per_op", "bytes"),
    "allocs/op": ("allocs_per_op", "count"),
    "MB/s": ("mb_per_s", "MB/s"),
}


def detect(src: Source) -> bool:
    if src.is_dir:
        return False
    if src.looks_like_json():  # go test -json: test2json events, one per line
        return _is_event(src.first_json_line()) and src.json_doc() is None
    try:
        return bool(_results(src.text))
    except IngestError:
        return False


def _is_event(event: Any) -> bool:
    return isinstance(event, dict) and "Action" in event and ("Package" in event or "Output" in event)


def _text(src: Source) -> str:
    """Plain text of a test2json stream: the Output fields, per package, in order."""
    by_package: dict[str, list[str]] = {}
    for event in src.json_lines:
        if _is_event(event) and event.get("Action") == "output" and isinstance(event.get("Output"), str):
            by_package.setdefault(str(event.get("Package", "")), []).append(event["Output"])
    return "".join("".join(parts) for parts in by_package.values())


def _results(text: str) -> list[re.Match[str]]:
    return [m for line in text.splitlines() if (m := RESULT.match(line.strip()))]


def parse(src: Source) -> Parsed:
    started: datetime | None = None
    if src.looks_like_json():
        text = _text(src)
        for event in src.json_lines:
            if _is_event(event) and isinstance(event.get("Time"), str):
                try:
                    started = parse_time(event["Time"])
                except TimestampError as exc:
                    raise IngestError(str(exc), where=f"{src.where}: Time", fix=FIX) from None
                break
    else:
        text = src.text
    host: dict[str, str] = {}
    lines: list[tuple[int, str, int, list[tuple[Decimal, str]]]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if m := RESULT.match(line):
            lines.append((number, m.group(1), int(m.group(2)), _pairs(m.group(3), f"{src.where}:{number}")))
        elif (m := CONFIG.match(line)) and not lines:
            host[m.group(1)] = m.group(2).strip()
    if not lines:
        raise IngestError(
            "no benchmark result lines (BenchmarkName  N  value ns/op)", where=src.where, fix=FIX
        )
    procs_per_name: dict[str, set[str]] = {}
    for _, name, _, _ in lines:
        base, procs = _split_procs(name)
        procs_per_name.setdefault(base, set()).add(procs or "")
    run = RunData(started_at=started, host={"go": host} if host else {})
    cells: dict[str, CellInfo] = {}
    counts: Counter[str] = Counter()
    for number, name, iterations, pairs in lines:
        where = f"{src.where}:{number}"
        base, procs = _split_procs(name)
        operation = base if len(procs_per_name[base]) == 1 else name
        check_label(operation, where)
        timed = [(v, u) for v, u in pairs if u.endswith("/op") and u[:-3] in TIME_UNITS | {"sec": 1}]
        if timed:
            value, unit = timed[0]
            unit = "s" if unit == "sec/op" else unit[:-3]
            sample = Sample(operation=operation, wall_ns=ns_at(value, unit, where, FIX))
            sample.add_exact(exact_ns(value, unit))
        else:
            sample = Sample(operation=operation, wall_ns=None)
        sample.add("iterations", iterations, "count")
        if procs:
            sample.add("procs", int(procs), "count")
        for value, unit in pairs:
            if timed and (value, unit) == timed[0]:
                continue
            key, norm = UNITS.get(unit, (unit, None))
            sample.add(key, value, norm)
        run.samples.append(sample)
        counts[operation] += 1
        if operation not in cells:
            family, _, sub = base.partition("/")
            cells[operation] = CellInfo(
                operation=operation,
                source_name=name,
                base_operation=family if sub else None,
                params={"sub": sub} if sub else None,
                summary={"package": host["pkg"]} if "pkg" in host else {},
            )
    for operation, cell in cells.items():
        cell.n_source = counts[operation]
        run.cells.append(cell)
    return Parsed(NAME, src.name, src.sha256, [run])


def _split_procs(name: str) -> tuple[str, str | None]:
    m = PROCS.match(name)
    return (m.group(1), m.group(2)) if m else (name, None)


def _pairs(rest: str, where: str) -> list[tuple[Decimal, str]]:
    tokens = rest.split()
    if len(tokens) % 2:
        raise IngestError(f"expected value/unit pairs, got {rest!r}", where=where, fix=FIX)
    out = []
    for value, unit in zip(tokens[::2], tokens[1::2], strict=True):
        try:
            number = decimal_text(value)
        except ValueError as exc:
            raise IngestError(str(exc), where=where, fix=FIX) from None
        out.append((number, unit))
    return out
