"""Partitions: suites (from ``suites/*.yaml``) × tools (every tool any suite names).

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
from bench_pipeline.suite import Suite, available_suites, load_suite_file

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
SUITE_NAMES = sorted(SUITES) or ["none"]
TOOL_NAMES = sorted({t for s in SUITES.values() for t in s.tools}) or ["none"]

suite_partitions = StaticPartitionsDefinition(SUITE_NAMES)
tool_partitions = StaticPartitionsDefinition(TOOL_NAMES)
suite_tool_partitions = MultiPartitionsDefinition({"suite": suite_partitions, "tool": tool_partitions})


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
