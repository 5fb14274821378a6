"""Instruction counts from valgrind: iai-callgrind / gungraun (callgrind, cachegrind, DHAT …) and the
original iai (cachegrind), as ``cargo bench`` prints them.

Format (iai-callgrind / gungraun ``runner/src/runner/format.rs``; iai ``src/lib.rs``): a line with
the benchmark id (``module::group::function id:args``, or iai's function name), then indented lines
``LABEL:  VALUE`` — iai-callgrind adds ``|OLD`` (``|N/A`` on a first run) and ``(CHANGE)``, gungraun
may add ``======= TOOL ===`` section lines. VALUE is the current run's; the old value and the change
(the tool's own comparison) are not kept.

Each benchmark is one **raw** sample with no wall time: every label is a metric of its own, named in
snake case (``Instructions`` → ``instructions``, ``L1 Hits`` → ``l1_hits``, ``Estimated Cycles`` →
``estimated_cycles``; unit ``count``, ``%`` for rates), those of a section other than callgrind or
cachegrind prefixed with the tool (``dhat.total_bytes``). Valgrind counts are deterministic for a given
binary and input, so the statistics treat them as exact (two constant samples: the ratio, no
bootstrap). A count of 2⁶³ or more is an unsigned underflow in the tool (iai 0.1 prints
18446744073709551615 for ``L2 Accesses`` at times): it is not kept, with a warning.
Detection: an indented ``Instructions:`` line with a number.
"""

from __future__ import annotations

import re
from decimal import Decimal

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest.adapters import _text
from bench_pipeline.ingest.model import INT64_MAX, CellInfo, Parsed, RunData, Sample, check_label
from bench_pipeline.ingest.source import Source

NAME = "iai-callgrind"
FIX = "pass the output of `cargo bench` for iai-callgrind, gungraun or iai benchmarks"
METRIC = re.compile(
    rf"^\s+(?P<label>[A-Za-z][A-Za-z0-9 +\-/.]*?):\s+(?P<value>{_text.NUMBER}|N/A)"
    r"(?:\s*\|\s*(?P<old>\S+))?(?:\s+\(.*\))?\s*$"
)
SECTION = re.compile(r"^\s+=+\s*(?P<tool>[A-Z][A-Za-z0-9 ]*?)\s*=+\s*$")
DETECT = re.compile(r"^\s+Instructions:\s+[0-9]")
NOT_A_NAME = re.compile(
    r"^(running \d+ tests?|test result:|Iai-Callgrind result:|Gungraun result:|Summary|Finished|Running|"
    r"Compiling|warning|error|\.\.\.)"
)
DEFAULT_TOOLS = ("CALLGRIND", "CACHEGRIND")


def detect(src: Source) -> bool:
    lines = _text.lines(src)
    return lines is not None and any(DETECT.match(line) for line in lines)


def parse(src: Source) -> Parsed:
    lines = _text.lines(src)
    if lines is None:
        raise IngestError("not a text file", where=src.where, fix=FIX)
    run = RunData()
    warnings: list[str] = []
    name: str | None = None  # the last line that may be a benchmark id
    current: Sample | None = None
    section = ""
    for number, line in enumerate(lines, 1):
        where = f"{src.where}:{number}"
        if m := SECTION.match(line):
            section = m["tool"].strip().upper()
            continue
        m = METRIC.match(line)
        if m is None:
            if line.strip() and not line[0].isspace() and not NOT_A_NAME.match(line):
                name, current, section = line.strip(), None, ""
            continue
        if current is None:
            if name is None:
                raise IngestError("metric lines without a benchmark name before them", where=where, fix=FIX)
            current = Sample(operation=check_label(name, where), wall_ns=None)
            run.samples.append(current)
            run.cells.append(CellInfo(operation=current.operation, source_name=name, n_source=1))
        if m["value"] == "N/A":
            continue
        value = _text.number(m["value"], where, FIX)
        key = _key(m["label"], section)
        if value > INT64_MAX:
            warnings.append(
                f"{src.name}:{number}: {current.operation!r} {m['label']} = {m['value']} is an unsigned "
                "underflow in the tool, not a count: not kept"
            )
            continue
        current.add(key, value, "%" if "Rate" in m["label"] else _unit(value))
    if not run.samples:
        raise IngestError("no benchmark with an Instructions line", where=src.where, fix=FIX)
    return Parsed(NAME, src.name, src.sha256, [run], warnings)


def _key(label: str, section: str) -> str:
    key = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
    if section and section not in DEFAULT_TOOLS:
        key = f"{section.lower().replace(' ', '_')}.{key}"
    return key


def _unit(value: Decimal) -> str | None:
    return "count" if value == value.to_integral_value() else None
