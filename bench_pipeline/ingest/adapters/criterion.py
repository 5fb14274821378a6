"""criterion.rs output directories (``target/criterion``): ``new/{benchmark,sample,estimates}.json``.

One operation per benchmark (``full_id``: ``group/function/value``; ``base_operation`` is
``group/function`` and ``params`` holds the value). ``sample.json`` is raw: each of its samples ran
``iters[i]`` iterations in ``times[i]`` ns, stored as one sample of ``times[i] / iters[i]`` ns per
iteration (exact decimal division; metrics ``iterations``, ``sample_ns`` and, when fractional,
``wall_ns_exact``). Without ``sample.json`` the median point estimate of ``estimates.json`` is stored
as a summary row. Estimates (with confidence intervals) go to the cell's source summary. Only the
latest measurement (``new``) is read; ``base`` and ``change`` (criterion's own comparison) are not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bench_pipeline.errors import IngestError
from bench_pipeline.ingest.model import (
    CellInfo,
    NonNegNumber,
    Number,
    Parsed,
    RunData,
    Sample,
    ns_at,
    validation_error,
)
from bench_pipeline.ingest.source import Source, hash_files, parse_json

NAME = "criterion"
FIX = "pass criterion's output directory (target/criterion) or a benchmark's `new` directory"
FILES = ("benchmark.json", "sample.json", "estimates.json")


class Benchmark(BaseModel):
    model_config = ConfigDict(extra="allow")

    group_id: str
    function_id: str | None = None
    value_str: str | None = None
    full_id: str
    throughput: dict[str, Any] | None = None


class SampleFile(BaseModel):
    model_config = ConfigDict(extra="allow")

    sampling_mode: str | None = None
    iters: list[NonNegNumber] = Field(min_length=1)
    times: list[NonNegNumber] = Field(min_length=1)


class Interval(BaseModel):
    model_config = ConfigDict(extra="allow")

    confidence_level: Number | None = None
    lower_bound: Number
    upper_bound: Number


class Estimate(BaseModel):
    model_config = ConfigDict(extra="allow")

    point_estimate: Number
    standard_error: Number | None = None
    confidence_interval: Interval | None = None


class Estimates(BaseModel):
    model_config = ConfigDict(extra="allow")

    mean: Estimate
    median: Estimate
    std_dev: Estimate | None = None
    median_abs_dev: Estimate | None = None
    slope: Estimate | None = None


def _is_estimates(doc: Any) -> bool:
    return isinstance(doc, dict) and all(
        isinstance(doc.get(k), dict) and "point_estimate" in doc[k] for k in ("mean", "median")
    )


def _is_sample(doc: Any) -> bool:
    return isinstance(doc, dict) and "iters" in doc and "times" in doc


def benchmark_dirs(root: Path) -> list[Path]:
    """Every ``new`` directory (with a result file) under ``root``, or ``root`` itself."""
    if any((root / f).is_file() for f in FILES):
        return [root]
    found = []
    for path in sorted(root.rglob("new")):
        if path.is_dir() and path.parent.name not in ("report",) and any((path / f).is_file() for f in FILES):
            found.append(path)
    return found


def detect(src: Source) -> bool:
    if src.is_dir:
        return bool(benchmark_dirs(src.path))
    doc = src.json_doc()
    return _is_estimates(doc) or _is_sample(doc)


def parse(src: Source) -> Parsed:
    root = src.path if src.is_dir else src.path.parent
    dirs = benchmark_dirs(root)
    if not dirs:
        raise IngestError(
            "no criterion results (new/sample.json, new/estimates.json) found", where=src.where, fix=FIX
        )
    run = RunData()
    warnings: list[str] = []
    used: list[Path] = []
    for directory in dirs:
        cell, samples, note = _benchmark(src, root, directory, used)
        run.cells.append(cell)
        run.samples.extend(samples)
        if note:
            warnings.append(note)
    return Parsed(NAME, src.name, hash_files(root, used), [run], warnings)


def _load(src: Source, path: Path, model: type[BaseModel], used: list[Path]) -> Any:
    if not path.is_file():
        return None
    src.check_size(path)
    used.append(path)
    try:
        return model.model_validate(parse_json(path.read_bytes(), str(path)))
    except ValidationError as exc:
        raise validation_error(exc, str(path), fix=FIX) from None


def _benchmark(
    src: Source, root: Path, directory: Path, used: list[Path]
) -> tuple[CellInfo, list[Sample], str | None]:
    bench: Benchmark | None = _load(src, directory / "benchmark.json", Benchmark, used)
    sample_file: SampleFile | None = _load(src, directory / "sample.json", SampleFile, used)
    estimates: Estimates | None = _load(src, directory / "estimates.json", Estimates, used)
    if bench is not None:
        name = bench.full_id
        base = "/".join(p for p in (bench.group_id, bench.function_id) if p)
        params = {"value": bench.value_str} if bench.value_str else None
    else:  # older layouts: the directory path is the id
        rel = directory.parent.relative_to(root) if directory != root else Path(directory.parent.name)
        name = base = rel.as_posix() or directory.parent.name
        params = None
    cell = CellInfo(
        operation=name,
        source_name=name,
        base_operation=base if params else None,
        params=params,
        summary=_summary(estimates, bench),
    )
    samples: list[Sample] = []
    if sample_file is not None:
        if len(sample_file.iters) != len(sample_file.times):
            raise IngestError(
                f"iters has {len(sample_file.iters)} entries, times {len(sample_file.times)}",
                where=str(directory / "sample.json"),
                fix=FIX,
            )
        for i, (iters, total) in enumerate(zip(sample_file.iters, sample_file.times, strict=True)):
            if iters <= 0:
                raise IngestError(
                    "iteration count must be positive",
                    where=f"{directory / 'sample.json'}: iters[{i}]",
                    fix=FIX,
                )
            per_iter = total / iters
            sample = Sample(
                operation=name, wall_ns=ns_at(per_iter, "ns", f"{directory / 'sample.json'}: times[{i}]", FIX)
            )
            sample.add("iterations", iters, "count")
            sample.add("sample_ns", total, "ns")
            sample.add_exact(per_iter)
            samples.append(sample)
        cell.n_source = len(samples)
        return cell, samples, None
    if estimates is None:
        raise IngestError("neither sample.json nor estimates.json", where=str(directory), fix=FIX)
    value = estimates.median.point_estimate
    sample = Sample(
        operation=name, wall_ns=ns_at(value, "ns", f"{directory / 'estimates.json'}: median", FIX)
    )
    sample.add_exact(value)
    cell.kind, cell.statistic = "summary", "median"
    return cell, [sample], f"{name}: no sample.json; the median estimate is stored as a summary row"


def _summary(estimates: Estimates | None, bench: Benchmark | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if estimates is not None:
        for key in ("mean", "median", "std_dev", "median_abs_dev", "slope"):
            est: Estimate | None = getattr(estimates, key)
            if est is None:
                continue
            out[f"{key}_ns"] = float(est.point_estimate)
            if est.confidence_interval is not None:
                out[f"{key}_ci_ns"] = [
                    float(est.confidence_interval.lower_bound),
                    float(est.confidence_interval.upper_bound),
                ]
    if bench is not None and bench.throughput:
        out["throughput_per_iteration"] = bench.throughput
    return out
