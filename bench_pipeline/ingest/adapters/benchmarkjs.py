"""Benchmark.js: the line ``String(benchmark)`` gives, printed on each ``cycle`` as its README shows.

Format (bestiejs/benchmark.js ``Benchmark#toString``): ``NAME x HZ ops/sec ±RME% (N runs sampled)``,
HZ with thousands separators. Benchmark.js measures N cycles and reports their mean rate, so one
**summary** row per benchmark: ``wall_ns`` = 1 / HZ (the mean time of one operation, exact decimal
division; ``statistic`` mean), metric ``ops_per_s`` = HZ, the relative margin of error (``rme``,
% at 95 %) and N in the cell's source summary. A benchmark that threw prints
``NAME: <error>`` instead and is not a result line: it is missing, not failed. Detection: a result line.
"""

from __future__ import annotations

import re
from decimal import Decimal

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest.adapters import _text
from bench_pipeline.ingest.model import CellInfo, Parsed, RunData, Sample, check_label
from bench_pipeline.ingest.source import Source

NAME = "benchmarkjs"
FIX = "pass the lines Benchmark.js prints with String(event.target) on each cycle"
RESULT = re.compile(
    rf"^(?P<name>.+?) x (?P<hz>{_text.NUMBER}) ops/sec (?:±|\+/-)\s*(?P<rme>{_text.NUMBER})% "
    r"\((?P<runs>\d+) runs? sampled\)\s*$"
)


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
        hz = _text.number(m["hz"], where, FIX)
        if hz <= 0:
            raise IngestError("ops/sec must be positive", where=where, fix=FIX)
        wall, exact = _text.time_ns(Decimal(1) / hz, "s", where, FIX)
        sample = Sample(operation=name, wall_ns=wall)
        sample.add_exact(exact)
        sample.add("ops_per_s", hz, "operations/s")
        run.samples.append(sample)
        run.cells.append(
            CellInfo(
                operation=name,
                source_name=name,
                kind="summary",
                statistic="mean",
                n_source=int(m["runs"]),
                summary={"ops_per_s": float(hz), "rme_percent": float(_text.number(m["rme"], where, FIX))},
            )
        )
    if not run.samples:
        raise IngestError(
            "no Benchmark.js result lines (NAME x N ops/sec ±R% (K runs sampled))", where=src.where, fix=FIX
        )
    return Parsed(NAME, src.name, src.sha256, [run])
