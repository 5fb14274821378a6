"""Rust libtest benchmarks: the text ``cargo bench`` prints for ``#[bench]`` functions.

Format (rust-lang/rust ``library/test/src/formatters/pretty.rs``): one line per benchmark,
``test NAME ... bench:   1,234.56 ns/iter (+/- 12.34)``. libtest times batches of iterations for
~1 s, takes the median of 50 batch means (after winsorising at 5 %) and prints it with the spread
max − min; only that line survives, so every benchmark is a **summary** row (``statistic`` median,
unit ns, thousands separators allowed; older toolchains print whole nanoseconds). A benchmark that
panicked prints ``test NAME ... FAILED`` and the run goes on: it becomes a failed sample, and the
results printed before and after it are kept. ``... ok`` / ``... ignored`` lines (tests run by
``cargo bench``) are not benchmarks. Detection: at least one ``... bench:`` line.
"""

from __future__ import annotations

import re

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest.adapters import _text
from bench_pipeline.ingest.model import CellInfo, Parsed, RunData, Sample, check_label
from bench_pipeline.ingest.source import Source

NAME = "libtest"
FIX = "pass the output of `cargo bench` for #[bench] benchmarks (libtest's text)"
RESULT = re.compile(
    rf"^test (?P<name>.+?)\s+\.\.\. bench:\s+(?P<value>{_text.NUMBER}) ns/iter"
    rf"\s+\(\+/- (?P<spread>{_text.NUMBER})\)"
)
FAILED = re.compile(r"^test (?P<name>.+?)\s+\.\.\. FAILED\s*$")


def detect(src: Source) -> bool:
    lines = _text.lines(src)
    return lines is not None and any(RESULT.match(line) for line in lines)


def parse(src: Source) -> Parsed:
    lines = _text.lines(src)
    if lines is None:
        raise IngestError("not a text file", where=src.where, fix=FIX)
    run = RunData()
    warnings: list[str] = []
    failed: list[str] = []
    for number, line in enumerate(lines, 1):
        where = f"{src.where}:{number}"
        if m := RESULT.match(line):
            name = check_label(m["name"], where)
            value = _text.number(m["value"], where, FIX)
            spread = _text.number(m["spread"], where, FIX)
            wall, exact = _text.time_ns(value, "ns", where, FIX)
            sample = Sample(operation=name, wall_ns=wall)
            sample.add_exact(exact)
            run.samples.append(sample)
            summary = {"median_ns": float(exact), "spread_ns": float(spread)}
            run.cells.append(_cell(name, summary))
        elif (m := FAILED.match(line)) and m["name"] not in failed:
            name = check_label(m["name"], where)
            failed.append(name)
            run.samples.append(Sample(operation=name, wall_ns=0, exit_code=1, ok=False))
            run.cells.append(_cell(name, {}))
    if not run.samples:
        raise IngestError("no benchmark lines (test NAME ... bench: N ns/iter)", where=src.where, fix=FIX)
    if failed:
        warnings.append(f"{src.name}: {len(failed)} benchmark(s) failed: {', '.join(failed)}")
    return Parsed(NAME, src.name, src.sha256, [run], warnings)


def _cell(name: str, summary: dict) -> CellInfo:
    return CellInfo(operation=name, source_name=name, kind="summary", statistic="median", summary=summary)
