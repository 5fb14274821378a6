"""Ruby's standard ``Benchmark`` module: the text of ``Benchmark.bm`` / ``Benchmark.bmbm``.

Format (ruby ``lib/benchmark.rb``, ``Benchmark::CAPTION`` and ``FORMAT``): a caption line
``user  system  total  real``, then one line per ``report``: ``LABEL  USER  SYSTEM  TOTAL ( REAL)``,
all in seconds. Each line is one execution of the block → one **raw** sample: real → ``wall_ns``,
user → ``user_ns``, system → ``sys_ns`` (children's times are in total only and not kept). The same
label reported several times gives several samples. ``bmbm`` first prints a rehearsal (between
``Rehearsal ---`` and ``--- total: …sec``): a warm-up, not kept. Labels are kept verbatim, less a
trailing ``:`` and spaces. Detection: the caption line followed by a result line.
"""

from __future__ import annotations

import re

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest.adapters import _text
from bench_pipeline.ingest.model import CellInfo, Parsed, RunData, Sample, check_label
from bench_pipeline.ingest.source import Source

NAME = "ruby-benchmark"
FIX = "pass the output of a Ruby script using Benchmark.bm or Benchmark.bmbm"
CAPTION = re.compile(r"^\s*user\s+system\s+total\s+real\s*$")
_N = r"(-?[0-9]+\.[0-9]+)"
ROW = re.compile(rf"^(?P<label>.*?)\s*{_N}\s+{_N}\s+{_N}\s+\(\s*{_N}\)\s*$")
REHEARSAL_START = re.compile(r"^Rehearsal -+")
REHEARSAL_END = re.compile(r"^-+\s*total: [0-9.]+sec\s*$")


def detect(src: Source) -> bool:
    lines = _text.lines(src)
    if lines is None:
        return False
    return any(
        CAPTION.match(line) and i + 1 < len(lines) and ROW.match(lines[i + 1]) for i, line in enumerate(lines)
    )


def parse(src: Source) -> Parsed:
    lines = _text.lines(src)
    if lines is None:
        raise IngestError("not a text file", where=src.where, fix=FIX)
    run = RunData()
    cells: dict[str, CellInfo] = {}
    in_rehearsal = False
    rehearsed = 0
    for number, line in enumerate(lines, 1):
        where = f"{src.where}:{number}"
        if REHEARSAL_START.match(line):
            in_rehearsal = True
            continue
        if REHEARSAL_END.match(line):
            in_rehearsal = False
            continue
        m = ROW.match(line)
        if not m:
            continue
        if in_rehearsal:
            rehearsed += 1
            continue
        label = m["label"].strip().removesuffix(":").strip() or "(no label)"
        check_label(label, where)
        user, system, _total, real = (_text.number(m[i], where, FIX) for i in range(2, 6))
        sample = Sample(
            operation=label,
            wall_ns=_text.time_ns(real, "s", f"{where}: real", FIX)[0],
            user_ns=_text.time_ns(user, "s", f"{where}: user", FIX)[0],
            sys_ns=_text.time_ns(system, "s", f"{where}: system", FIX)[0],
        )
        run.samples.append(sample)
        cells.setdefault(label, CellInfo(operation=label, source_name=m["label"].strip()))
    if not run.samples:
        raise IngestError(
            "no Benchmark result lines (LABEL user system total ( real))", where=src.where, fix=FIX
        )
    for label, cell in cells.items():
        cell.n_source = sum(1 for s in run.samples if s.operation == label)
        run.cells.append(cell)
    warnings = (
        [f"{src.name}: {rehearsed} rehearsal line(s) of bmbm are a warm-up: not kept"] if rehearsed else []
    )
    return Parsed(NAME, src.name, src.sha256, [run], warnings)
