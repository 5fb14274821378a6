"""airspeed velocity (asv) result files: ``<results_dir>/<machine>/<commit>-<environment>.json``.

Format (airspeed-velocity/asv ``asv/results.py``, file version 2): ``commit_hash``, ``date`` (ms since
the epoch), ``params`` (machine, python, …), ``result_columns`` naming the positions of each entry of
``results`` {benchmark: [result, params, version, started_at, duration, stats_…, samples, …]}.
``params`` lists the values of each parameter; the results are in the order of their Cartesian
product, one operation each, named as asv prints them: ``name(v1, v2)``. The benchmark's kind and
unit come from ``benchmarks.json`` of the results directory (``../benchmarks.json``) when it is
there, else from the name's prefix (``time_``, ``mem_``, ``peakmem_``, ``track_``):

- time: with ``asv run --record-samples`` the ``samples`` (seconds per call, each the mean of
  ``stats_number`` calls) are **raw** samples (metric ``iterations`` = that number); without them the
  result (asv's median) is a **summary** row;
- mem / peakmem (bytes) and track (its own unit): no time; one sample with metric ``mem_bytes``,
  ``peakmem_bytes`` or ``track`` (stored in ``sample_metrics``, the cell says "metrics only").

A null result (the benchmark failed or was skipped) is a failed sample. ``date`` → the run's start,
``commit_hash`` → its git commit, ``params`` and the directory's ``machine.json`` → its host.
Detection: an object with ``result_columns`` and ``results``. asv's older version-1 files are not read.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest.model import (
    CellInfo,
    Parsed,
    RunData,
    Sample,
    check_label,
    exact_ns,
    json_number,
    ns_at,
)
from bench_pipeline.ingest.source import Source, parse_json
from bench_pipeline.timestamps import TimestampError, from_epoch

NAME = "asv"
FIX = "pass an asv result file (.asv/results/<machine>/<commit>-<env>.json, asv >= 0.5)"
KINDS = {"time": "time", "mem": "memory", "peakmem": "peakmemory", "track": "track"}
METRIC = {"memory": ("mem_bytes", "bytes"), "peakmemory": ("peakmem_bytes", "bytes")}


def detect(src: Source) -> bool:
    doc = src.json_doc()
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("result_columns"), list)
        and isinstance(doc.get("results"), dict)
    )


def parse(src: Source) -> Parsed:
    doc = src.json
    columns = doc.get("result_columns")
    if not isinstance(columns, list) or "result" not in columns or not isinstance(doc.get("results"), dict):
        raise IngestError("result_columns (with 'result') and results are required", where=src.where, fix=FIX)
    described = _benchmarks_json(src)
    started = None
    if isinstance(doc.get("date"), int) and not isinstance(doc.get("date"), bool):
        try:
            started = from_epoch(doc["date"], "ms")
        except TimestampError as exc:
            raise IngestError(str(exc), where=f"{src.where}: date", fix=FIX) from None
    machine = _sibling(src, "machine.json")
    run = RunData(
        started_at=started,
        git_commit=doc.get("commit_hash") if isinstance(doc.get("commit_hash"), str) else None,
        host={"asv": {"params": doc.get("params"), "env_name": doc.get("env_name"), "machine": machine}},
        tool_versions={"python": str(doc["python"])} if doc.get("python") else {},
    )
    warnings: list[str] = []
    failed: list[str] = []
    for name, entry in doc["results"].items():
        where = f"{src.where}: results[{name!r}]"
        if not isinstance(entry, list):
            raise IngestError("expected a list aligned with result_columns", where=where, fix=FIX)
        row = dict(zip(columns, entry, strict=False))
        info = described.get(name, {})
        kind = info.get("type") or KINDS.get(name.rsplit(".", 1)[-1].split("_", 1)[0])
        if kind is None:
            raise IngestError(
                f"cannot tell the kind of benchmark {name!r} (no benchmarks.json beside the machine directory)",
                where=where,
                fix="keep the results directory's benchmarks.json, or name benchmarks time_/mem_/peakmem_/track_",
            )
        combos = [", ".join(c) for c in itertools.product(*row.get("params") or [])] or [""]
        results = row.get("result")
        samples = row.get("samples")
        numbers = row.get("stats_number")
        param_names = info.get("param_names") or []
        for ci, combo in enumerate(combos):
            operation = check_label(f"{name}({combo})" if combo else name, where)
            value = results[ci] if isinstance(results, list) and ci < len(results) else None
            cell = CellInfo(
                operation=operation,
                source_name=name,
                base_operation=name if combo else None,
                params=dict(zip(param_names, combo.split(", "), strict=False))
                if combo and param_names
                else None,
                summary={"type": kind, **({"unit": info["unit"]} if info.get("unit") else {})},
            )
            run.cells.append(cell)
            if value is None:
                run.samples.append(Sample(operation=operation, wall_ns=0, exit_code=1, ok=False))
                failed.append(operation)
                continue
            number = _number(value, f"{where}.result[{ci}]")
            if kind != "time":
                key, unit = METRIC.get(kind, ("track", info.get("unit")))
                sample = Sample(operation=operation, wall_ns=None)
                sample.add(key, number, unit)
                run.samples.append(sample)
                continue
            cell.summary["median_ns"] = float(exact_ns(number, "s"))
            raw = samples[ci] if isinstance(samples, list) and ci < len(samples) else None
            calls = numbers[ci] if isinstance(numbers, list) and ci < len(numbers) else None
            if isinstance(raw, list) and raw:
                for i, seconds in enumerate(raw):
                    run.samples.append(
                        _time_sample(
                            operation,
                            _number(seconds, f"{where}.samples[{ci}][{i}]"),
                            calls,
                            f"{where}.samples[{ci}][{i}]",
                        )
                    )
                cell.n_source = len(raw)
            else:
                run.samples.append(_time_sample(operation, number, None, f"{where}.result[{ci}]"))
                cell.kind, cell.statistic = "summary", "median"
    if not run.cells:
        raise IngestError("no results", where=src.where, fix=FIX)
    if failed:
        warnings.append(
            f"{src.name}: {len(failed)} benchmark(s) without a result (failed or skipped): {', '.join(failed)}"
        )
    summaries = sum(1 for c in run.cells if c.kind == "summary")
    if summaries:
        warnings.append(
            f"{src.name}: {summaries} time benchmark(s) without samples (run asv with --record-samples to keep "
            "them); their medians are stored as summary rows"
        )
    return Parsed(NAME, src.name, src.sha256, [run], warnings)


def _time_sample(operation: str, seconds: Decimal, calls: Any, where: str) -> Sample:
    if seconds < 0:
        raise IngestError("time must not be negative", where=where, fix=FIX)
    sample = Sample(operation=operation, wall_ns=ns_at(seconds, "s", where, FIX))
    sample.add_exact(exact_ns(seconds, "s"))
    if isinstance(calls, int) and not isinstance(calls, bool):
        sample.add("iterations", calls, "count")
    return sample


def _number(value: Any, where: str) -> Decimal:
    try:
        return json_number(value)
    except ValueError as exc:
        raise IngestError(str(exc), where=where, fix=FIX) from None


def _sibling(src: Source, name: str, up: int = 0) -> Any:
    directory = src.path.parent
    for _ in range(up):
        directory = directory.parent
    path = directory / name
    if not path.is_file() or path == src.path:
        return None
    src.check_size(path)
    try:
        return parse_json(path.read_bytes(), str(path))
    except IngestError:
        return None


def _benchmarks_json(src: Source) -> dict[str, dict[str, Any]]:
    doc = _sibling(src, "benchmarks.json", up=1)
    if not isinstance(doc, dict):
        return {}
    return {k: v for k, v in doc.items() if isinstance(v, dict)}
