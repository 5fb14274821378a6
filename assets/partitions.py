"""Partitions: suites × tools. Suites: the suite files (``suites/*.yaml``) and the suites that
arrived only by ingestion (``bench_pipeline.ingest.catalogue``: read from a small JSON file at load
time, so they appear after a code-location reload); tools: every tool of either.

For an ingested suite the analysis assets (samples … cell_stats, comparisons, history, patterns,
report) work like for any other; ``fixtures`` and ``measurements`` need a suite file and say so.

Multi-partition keys read ``"<suite>|<tool>"`` (dimensions sort by name). Suite and tool names
are validated by the suite loader to contain no ``| , [ ]``.
"""

import logging
import warnings

from dagster import (
    BetaWarning,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    MultiToSingleDimensionPartitionMapping,
    StaticPartitionsDefinition,
)

from bench_pipeline.errors import SuiteError
from bench_pipeline.ingest.catalogue import read_catalogue
from bench_pipeline.suite import NAME_RE, Suite, available_suites, find_suite, load_suite_file

log = logging.getLogger(__name__)


def _load_all() -> dict[str, Suite]:
    suites = {}
    for name, path in available_suites().items():
        try:
            suites[name] = load_suite_file(path)
        except SuiteError as exc:  # one broken file must not take the code location down
            log.warning("skipping suite %s: %s", path, exc)
    return suites


SUITES = _load_all()


def _ingested() -> dict[str, list[str]]:
    """Ingested suites without a suite file, with their tools; names a partition key cannot hold
    (Dagster multi-partition keys reserve ``| , [ ]``) are left out with a warning."""
    out = {}
    for suite, tools in read_catalogue().items():
        if suite in SUITES:
            continue
        names = [suite, *tools]
        if not all(NAME_RE.match(n) for n in names):
            log.warning(
                "ingested suite %r not offered as a partition: a suite or tool name is not %s",
                suite,
                NAME_RE.pattern,
            )
            continue
        out[suite] = tools
    return out


INGESTED = _ingested()
SUITE_NAMES = sorted({*SUITES, *INGESTED}) or ["none"]
TOOL_NAMES = sorted(
    {t for s in SUITES.values() for t in s.tools} | {t for ts in INGESTED.values() for t in ts}
) or ["none"]

suite_partitions = StaticPartitionsDefinition(SUITE_NAMES)
tool_partitions = StaticPartitionsDefinition(TOOL_NAMES)
suite_tool_partitions = MultiPartitionsDefinition({"suite": suite_partitions, "tool": tool_partitions})


def measurable_suite(name: str) -> Suite:
    """The suite file behind a partition, or a clear error for a suite that arrived by ingestion."""
    if name in INGESTED:
        raise SuiteError(
            f"suite {name!r} arrived by ingestion and has no suite file: there is nothing to generate or measure",
            fix=f"materialize its analysis assets (samples … cell_stats, comparisons, history, patterns, report); "
            f"to measure it here, write suites/{name}.yaml",
        )
    return find_suite(name)


def suite_tool(partition_key: str | MultiPartitionKey) -> tuple[str, str]:
    """(suite, tool) of a multi-partition key, whether given as a key object or a plain string."""
    key = partition_key
    if not isinstance(key, MultiPartitionKey):
        key = suite_tool_partitions.get_partition_key_from_str(str(key))
    dims = key.keys_by_dimension
    return dims["suite"], dims["tool"]


def suite_tool_key(suite: str, tool: str) -> MultiPartitionKey:
    return MultiPartitionKey({"suite": suite, "tool": tool})


with warnings.catch_warnings():
    warnings.simplefilter("ignore", BetaWarning)
    # a suite-level asset depends on every suite × tool partition of its suite, and vice versa
    by_suite = MultiToSingleDimensionPartitionMapping(partition_dimension_name="suite")
