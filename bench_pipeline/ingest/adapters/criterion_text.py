"""criterion.rs's text output (what ``cargo bench`` prints to stdout), for when the
``target/criterion`` directory (the ``criterion`` format, raw samples) is not kept.

Format (criterion ``src/report.rs``): per benchmark ``NAME  time: [LOW TYPICAL HIGH]``, each a
value and a unit from ``ps`` to ``s``; a name longer than the column is printed on a line of its
own with ``time:`` on the next. TYPICAL is criterion's point estimate (the slope of the linear
regression with linear sampling, else the mean), LOW/HIGH its 95 % confidence bounds: one
**summary** row per benchmark (``statistic`` typical), the bounds in the cell's source summary,
``thrpt:`` lines as metric ``throughput`` (its unit, e.g. ``MiB/s`` or ``Kelem/s``). ``change:`` lines
(criterion's comparison with its own baseline) and outlier counts are not kept. Names are kept
verbatim, spaces and ``/`` included (``group/function/value`` → base operation and ``params.value``
like the ``criterion`` format). When the output ends in a panic (stdout and stderr captured
together), the results printed before it are kept and the benchmark that was running
(``Benchmarking NAME`` without a result) is a failed sample. Detection: a ``time: [... ... ...]`` line.
"""

from __future__ import annotations

import re

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest.adapters import _text
from bench_pipeline.ingest.model import CellInfo, Parsed, RunData, Sample, check_label
from bench_pipeline.ingest.source import Source

NAME = "criterion-text"
FIX = "pass the text `cargo bench` prints for criterion benchmarks (or ingest target/criterion instead)"
_VALUE = rf"({_text.NUMBER})\s*({_text.TIME_UNIT})"
TIME = re.compile(rf"^(?P<name>.*?)\s*time:\s+\[{_VALUE}\s+{_VALUE}\s+{_VALUE}\]\s*$")
THRPT = re.compile(
    rf"^\s*thrpt:\s+\[({_text.NUMBER})\s*(\S+)\s+({_text.NUMBER})\s*(\S+)\s+({_text.NUMBER})\s*(\S+)\]"
)
PROGRESS = re.compile(r"^Benchmarking (?P<name>.+?)(?:: (?:Warming up|Collecting|Analyzing|Complete).*)?$")
NOT_A_NAME = re.compile(
    r"^\s|^(Benchmarking |Found \d+ outliers|Gnuplot not found|WARNING|Warning|thread '|note:|error:"
    r"|Running |Finished |Compiling )"
)


def detect(src: Source) -> bool:
    lines = _text.lines(src)
    return lines is not None and any(TIME.match(line) for line in lines)


def parse(src: Source) -> Parsed:
    lines = _text.lines(src)
    if lines is None:
        raise IngestError("not a text file", where=src.where, fix=FIX)
    run = RunData()
    warnings: list[str] = []
    cells: dict[str, CellInfo] = {}
    last: Sample | None = None
    previous = ""  # the last line that may be a benchmark name printed on its own
    running: str | None = None  # from "Benchmarking NAME" progress lines (stderr)
    panicked = False
    for number, line in enumerate(lines, 1):
        where = f"{src.where}:{number}"
        if m := TIME.match(line):
            name = m["name"].strip() or previous.strip()
            if not name:
                raise IngestError("a time: line without a benchmark name", where=where, fix=FIX)
            check_label(name, where)
            low, typical, high = (
                _text.time_ns(_text.number(m[i], where, FIX), m[i + 1], where, FIX) for i in (2, 4, 6)
            )
            last = Sample(operation=name, wall_ns=typical[0])
            last.add_exact(typical[1])
            run.samples.append(last)
            if name in cells:
                warnings.append(f"{src.name}: {name!r} appears twice; both results are kept")
            else:
                cells[name] = _cell(name)
            cells[name].summary = {
                "typical_ns": float(typical[1]),
                "ci_ns": [float(low[1]), float(high[1])],
            }
            running = None if running == name else running
            previous = ""
        elif (m := THRPT.match(line)) and last is not None:
            last.add("throughput", _text.number(m[3], where, FIX), m[4])
        elif m := PROGRESS.match(line):
            running = m["name"] if m["name"] not in cells else None
        elif "panicked at" in line:
            panicked = True
        elif line.strip() and not NOT_A_NAME.match(line):
            previous = line
    if not run.samples:
        raise IngestError("no criterion results (NAME  time: [low typical high])", where=src.where, fix=FIX)
    if panicked:
        if running is not None:
            check_label(running, src.where)
            run.samples.append(Sample(operation=running, wall_ns=0, exit_code=101, ok=False))
            cells[running] = _cell(running)
        warnings.append(
            f"{src.name}: the benchmark run panicked"
            + (f" in {running!r}" if running else "")
            + f"; the {len(cells) - (running is not None)} result(s) printed before it are kept"
        )
    run.cells.extend(cells.values())
    return Parsed(NAME, src.name, src.sha256, [run], warnings)


def _cell(name: str) -> CellInfo:
    parts = name.split("/")
    return CellInfo(
        operation=name,
        source_name=name,
        kind="summary",
        statistic="typical",
        base_operation="/".join(parts[:-1]) if len(parts) > 1 else None,
        params={"value": parts[-1]} if len(parts) > 1 else None,
    )
