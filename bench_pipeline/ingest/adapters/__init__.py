"""Ingestion adapters, one module per source format, all behind the same three names.

Each module exposes ``NAME`` (the ``--format`` value), ``detect(source) -> bool`` (by content, never by
file name) and ``parse(source) -> Parsed``. Adding a format is one new module and one line in
``ADAPTERS``; auto-detection tries them in this order (the most specific first).
"""

from __future__ import annotations

from types import ModuleType

from bench_pipeline.ingest.adapters import (
    asv,
    benchmarkdotnet,
    benchmarkjs,
    bmf,
    bundle,
    cargo_criterion,
    catch2,
    criterion,
    criterion_text,
    dart_benchmark,
    gbench,
    gotest,
    hyperfine,
    iai_callgrind,
    jmh,
    libtest,
    native,
    pytest_benchmark,
    ruby_benchmark,
    vitest,
)

# JSON formats by the keys that only they have, then text formats by the lines that only they
# print; bmf (any object of objects with "value") and gotest last, as before
ADAPTERS: dict[str, ModuleType] = {
    m.NAME: m
    for m in (
        native,
        bundle,
        hyperfine,
        pytest_benchmark,
        gbench,
        criterion,
        cargo_criterion,
        jmh,
        benchmarkdotnet,
        vitest,
        asv,
        catch2,
        libtest,
        criterion_text,
        iai_callgrind,
        ruby_benchmark,
        dart_benchmark,
        benchmarkjs,
        gotest,
        bmf,
    )
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
    "jmh",
    "benchmarkdotnet",
    "catch2",
    "benchmarkjs",
    "vitest",
    "asv",
    "ruby-benchmark",
    "dart-benchmark",
    "libtest",
    "criterion-text",
    "iai-callgrind",
)
assert set(FORMATS) == set(ADAPTERS)
