"""Ingestion adapters, one module per source format, all behind the same three names.

Each module exposes ``NAME`` (the ``--format`` value), ``detect(source) -> bool`` (by content, never by
file name) and ``parse(source) -> Parsed``. Adding a format is one new module and one line in
``ADAPTERS``; auto-detection tries them in this order (the most specific first).
"""

from __future__ import annotations

from types import ModuleType

from bench_pipeline.ingest.adapters import (
    bmf,
    bundle,
    cargo_criterion,
    criterion,
    gbench,
    gotest,
    hyperfine,
    native,
    pytest_benchmark,
)

ADAPTERS: dict[str, ModuleType] = {
    m.NAME: m
    for m in (native, bundle, hyperfine, pytest_benchmark, gbench, criterion, cargo_criterion, gotest, bmf)
}
FORMATS: tuple[str, ...] = (
    "hyperfine",
    "criterion",
    "cargo-criterion",
    "pytest-benchmark",
    "gbench",
    "gotest",
    "bmf",
    "bundle",
    "native",
)
assert set(FORMATS) == set(ADAPTERS)
