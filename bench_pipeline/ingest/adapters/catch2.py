"""Catch2 benchmarks (``BENCHMARK`` / ``BENCHMARK_ADVANCED``): the console reporter's text or the
XML reporter's file (``-r xml``), Catch2 v2 and v3.

Catch2 runs each benchmark ``samples`` times (``--benchmark-samples``, default 100), each sample
timing ``iterations`` calls, and reports only its bootstrap analysis: the mean and the standard
deviation with their confidence bounds, and outlier counts. So one **summary** row per benchmark
(``statistic`` mean, per call), with ``n_source`` = samples, metric ``iterations``, and the bounds,
standard deviation and outliers in the cell's source summary.

- Text (``catch_reporter_console.cpp``): after the caption ``benchmark name  samples  iterations
  estimated`` (two more caption lines: mean…, std dev…), three lines per benchmark: ``NAME  SAMPLES
  ITERATIONS ESTIMATED``, ``MEAN LOW HIGH`` and ``STDDEV LOW HIGH``, values with units ns, us, ms, s.
  A long name is wrapped over several lines: they are joined with one space.
- XML (``catch_reporter_xml.cpp``): ``<BenchmarkResults name samples iterations …>`` holding
  ``<mean value lowerBound upperBound ci/>``, ``<standardDeviation …/>``, ``<outliers …/>``, values in
  ns; a benchmark that failed has no ``<mean>`` and becomes a failed sample. The test case
  (``<TestCase name>``) is the cell's category.

Detection: the text caption line, or an XML document whose root is ``Catch``/``Catch2TestRun`` with a
``BenchmarkResults`` element.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest.adapters import _text
from bench_pipeline.ingest.model import CellInfo, Parsed, RunData, Sample, check_label
from bench_pipeline.ingest.source import Source

NAME = "catch2"
FIX = "pass the output of a Catch2 test binary run with benchmarks (console reporter, or -r xml)"
CAPTION = re.compile(r"^benchmark name\s+samples\s+iterations\s+est")
_V = rf"({_text.NUMBER})\s*(ns|us|µs|ms|s)"
ROW = re.compile(rf"^(?P<name>.*?)\s+(?P<samples>\d+)\s+(?P<iterations>\d+)\s+{_V}\s*$")
TRIPLE = re.compile(rf"^\s+{_V}\s+{_V}\s+{_V}\s*$")
XML_ROOTS = ("Catch", "Catch2TestRun")


def detect(src: Source) -> bool:
    if src.is_dir:
        return False
    head = src.head(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return bool(re.search(rb"<(Catch|Catch2TestRun)[\s>]", head)) and b"<BenchmarkResults" in src.data
    lines = _text.lines(src)
    return lines is not None and any(CAPTION.match(line) for line in lines)


def parse(src: Source) -> Parsed:
    if src.head(4096).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return _parse_xml(src)
    return _parse_text(src)


# ------------------------------------------------------------------------------------------ text
def _parse_text(src: Source) -> Parsed:
    lines = _text.lines(src)
    if lines is None:
        raise IngestError("not a text file", where=src.where, fix=FIX)
    run = RunData()
    in_table = False
    name_lines: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        where = f"{src.where}:{i + 1}"
        if CAPTION.match(line):
            in_table, name_lines = True, []
            i += 3  # the caption is three lines; the fourth is a rule
            continue
        if not in_table or not line.strip() or set(line.strip()) <= set("-.=~"):
            if line.strip() and set(line.strip()) <= set("-.=~") and not line.startswith("-" * 20):
                in_table = False  # the end of a test case's table
            name_lines = []
            i += 1
            continue
        m = ROW.match(line)
        if m is None:
            if TRIPLE.match(line):
                raise IngestError("a value line without a benchmark line before it", where=where, fix=FIX)
            name_lines.append(line.strip())
            i += 1
            continue
        if (
            i + 2 >= len(lines)
            or not (mean := TRIPLE.match(lines[i + 1]))
            or not (sd := TRIPLE.match(lines[i + 2]))
        ):
            raise IngestError(
                "a benchmark line must be followed by its mean and std dev lines", where=where, fix=FIX
            )
        name = check_label(" ".join([*name_lines, m["name"].strip()]), where)
        name_lines = []
        values = [
            _text.time_ns(_text.number(mean[k], where, FIX), mean[k + 1], where, FIX) for k in (1, 3, 5)
        ]
        sds = [_text.time_ns(_text.number(sd[k], where, FIX), sd[k + 1], where, FIX) for k in (1, 3, 5)]
        summary = {
            "mean_ns": float(values[0][1]),
            "mean_ci_ns": [float(values[1][1]), float(values[2][1])],
            "std_dev_ns": float(sds[0][1]),
            "std_dev_ci_ns": [float(sds[1][1]), float(sds[2][1])],
        }
        _add(run, name, values[0], int(m["samples"]), int(m["iterations"]), summary, None)
        i += 3
    if not run.samples:
        raise IngestError("no Catch2 benchmark results", where=src.where, fix=FIX)
    return Parsed(NAME, src.name, src.sha256, [run])


# ------------------------------------------------------------------------------------------ XML
def _parse_xml(src: Source) -> Parsed:
    try:
        root = ET.fromstring(src.data)
    except ET.ParseError as exc:
        raise IngestError(f"not valid XML: {exc}", where=src.where, fix=FIX) from None
    if root.tag not in XML_ROOTS:
        raise IngestError(f"root element <{root.tag}> is not Catch2's", where=src.where, fix=FIX)
    run = RunData()
    warnings: list[str] = []
    for case in root.iter("TestCase"):
        for result in case.iter("BenchmarkResults"):
            where = f"{src.where}: BenchmarkResults {result.get('name')!r}"
            name = check_label(result.get("name") or "", where)
            samples = _int(result.get("samples"), f"{where}.samples")
            iterations = _int(result.get("iterations"), f"{where}.iterations")
            mean = result.find("mean")
            if mean is None:
                run.samples.append(Sample(operation=name, wall_ns=0, exit_code=1, ok=False))
                run.cells.append(CellInfo(operation=name, source_name=name, category=case.get("name")))
                failed = result.find("failed")
                warnings.append(
                    f"{src.name}: benchmark {name!r} failed"
                    + (f": {failed.get('message')}" if failed is not None and failed.get("message") else "")
                )
                continue
            value = _text.time_ns(_attr(mean, "value", where), "ns", f"{where}.mean", FIX)
            summary: dict[str, Any] = {
                "mean_ns": float(value[1]),
                "mean_ci_ns": [
                    float(_attr(mean, "lowerBound", where)),
                    float(_attr(mean, "upperBound", where)),
                ],
            }
            sd = result.find("standardDeviation")
            if sd is not None:
                summary["std_dev_ns"] = float(_attr(sd, "value", where))
                summary["std_dev_ci_ns"] = [
                    float(_attr(sd, "lowerBound", where)),
                    float(_attr(sd, "upperBound", where)),
                ]
            outliers = result.find("outliers")
            if outliers is not None:
                summary["outliers"] = dict(outliers.attrib)
            for key in ("resamples", "clockResolution", "estimatedDuration"):
                if result.get(key) is not None:
                    summary[key] = result.get(key)
            _add(run, name, value, samples, iterations, summary, case.get("name"))
    if not run.samples:
        raise IngestError("no <BenchmarkResults> in the XML report", where=src.where, fix=FIX)
    return Parsed(NAME, src.name, src.sha256, [run], warnings)


def _int(text: str | None, where: str) -> int:
    if text is None or not text.isdigit():
        raise IngestError(f"expected a whole number, got {text!r}", where=where, fix=FIX)
    return int(text)


def _attr(element: ET.Element, key: str, where: str) -> Decimal:
    text = element.get(key)
    if text is None:
        raise IngestError(f"<{element.tag}> has no {key}", where=where, fix=FIX)
    return _text.number(text, f"{where}.{element.tag}.{key}", FIX)


def _add(
    run: RunData,
    name: str,
    value: tuple[int, Decimal],
    samples: int,
    iterations: int,
    summary: dict[str, Any],
    category: str | None,
) -> None:
    sample = Sample(operation=name, wall_ns=value[0])
    sample.add_exact(value[1])
    sample.add("iterations", iterations, "count")
    run.samples.append(sample)
    run.cells.append(
        CellInfo(
            operation=name,
            source_name=name,
            kind="summary",
            statistic="mean",
            n_source=samples,
            category=category,
            summary=summary,
        )
    )
