"""Dart ``benchmark_harness``: the lines ``BenchmarkBase.report()`` / ``AsyncBenchmarkBase.report()`` print.

Format (dart-lang/tools ``pkgs/benchmark_harness``, ``ScoreEmitter``): ``NAME(RunTime): SCORE us.``,
SCORE the mean time of one ``exercise()`` in microseconds over a ~2 s measuring loop. By default
``exercise()`` calls ``run()`` **10 times**, so the score is the time of 10 runs, not of one; it is
stored as reported (the harness cannot tell whether ``exercise`` was overridden). Only the mean
exists: one **summary** row per benchmark (``statistic`` mean, µs → ns). Detection: a ``(RunTime):``
line. Other lines (a program's own prints) are ignored.
"""

from __future__ import annotations

import re

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest.adapters import _text
from bench_pipeline.ingest.model import CellInfo, Parsed, RunData, Sample, check_label
from bench_pipeline.ingest.source import Source

NAME = "dart-benchmark"
FIX = "pass the output of Dart benchmarks run with benchmark_harness (NAME(RunTime): N us.)"
RESULT = re.compile(rf"^(?P<name>.+?)\(RunTime\): (?P<value>{_text.NUMBER}) (?P<unit>us|µs)\.?\s*$")


def detect(src: Source) -> bool:
    lines = _text.lines(src)
    return lines is not None and any(RESULT.match(line) for line in lines)


def parse(src: Source) -> Parsed:
    lines = _text.lines(src)
    if lines is None:
        raise IngestError("not a text file", where=src.where, fix=FIX)
    run = RunData()
    for number, line in enumerate(lines, 1):
        if not (m := RESULT.match(line)):
            continue
        where = f"{src.where}:{number}"
        name = check_label(m["name"], where)
        wall, exact = _text.time_ns(_text.number(m["value"], where, FIX), "us", where, FIX)
        sample = Sample(operation=name, wall_ns=wall)
        sample.add_exact(exact)
        run.samples.append(sample)
        run.cells.append(
            CellInfo(
                operation=name,
                source_name=name,
                kind="summary",
                statistic="mean",
                summary={"mean_us_per_exercise": float(_text.number(m["value"], where, FIX))},
            )
        )
    if not run.samples:
        raise IngestError("no benchmark_harness lines (NAME(RunTime): N us.)", where=src.where, fix=FIX)
    return Parsed(NAME, src.name, src.sha256, [run])
