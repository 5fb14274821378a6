"""Partitions: suites × tools, both dynamic (kept in the Dagster instance, not in code).

The suites are the suite files and the suites that arrived by ingestion
(``bench_pipeline.pipeline.catalogue``); the tools are every tool of either, and tool revisions
(``jj@0.45.1``) as runs ask for them. :func:`sync_partitions` adds what is new: the CLI calls it
before it launches runs, ``bench-pipeline ui`` at start, the ``partitions_sensor`` every 30
seconds, and ingestion after it stores a new suite — so a new suite file or ingested suite appears
in the UI without a restart or a reload. Nothing is read when this module is imported.

Multi-partition keys read ``"<suite>|<tool>"`` (dimensions sort by name). Suite and tool names
are validated by the suite loader to contain no ``| , [ ]``.
"""

import warnings

from dagster import (
    BetaWarning,
    DagsterInstance,
    DynamicPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    MultiToSingleDimensionPartitionMapping,
)

from bench_pipeline.pipeline import catalogue

SUITES, TOOLS = "suites", "tools"  # names of the dynamic partitions in the instance
suite_partitions = DynamicPartitionsDefinition(name=SUITES)
tool_partitions = DynamicPartitionsDefinition(name=TOOLS)
suite_tool_partitions = MultiPartitionsDefinition({"suite": suite_partitions, "tool": tool_partitions})


def missing_partitions(
    instance: DagsterInstance, suites: dict[str, list[str]] | None = None
) -> tuple[list[str], list[str]]:
    """(suites, tools) of ``suites`` (default: the catalogue, read now) the instance lacks."""
    suites = catalogue() if suites is None else suites
    have_suites = set(instance.get_dynamic_partitions(SUITES))
    have_tools = set(instance.get_dynamic_partitions(TOOLS))
    tools = {t for ts in suites.values() for t in ts}
    return sorted(set(suites) - have_suites), sorted(tools - have_tools)


def sync_partitions(
    instance: DagsterInstance, suites: dict[str, list[str]] | None = None
) -> tuple[list[str], list[str]]:
    """Add the suites and tools the instance lacks; returns what was added."""
    new_suites, new_tools = missing_partitions(instance, suites)
    if new_suites:
        instance.add_dynamic_partitions(SUITES, new_suites)
    if new_tools:
        instance.add_dynamic_partitions(TOOLS, new_tools)
    return new_suites, new_tools


def suite_tool(partition_key: str | MultiPartitionKey) -> tuple[str, str]:
    """(suite, tool) of a multi-partition key, whether given as a key object or a plain string."""
    if isinstance(partition_key, MultiPartitionKey):
        dims = partition_key.keys_by_dimension
        return dims["suite"], dims["tool"]
    suite, _, tool = str(partition_key).partition("|")  # "<suite>|<tool>": dimensions sort by name
    return suite, tool


def suite_tool_key(suite: str, tool: str) -> MultiPartitionKey:
    return MultiPartitionKey({"suite": suite, "tool": tool})


with warnings.catch_warnings():
    warnings.simplefilter("ignore", BetaWarning)
    # a suite-level asset depends on every suite × tool partition of its suite, and vice versa
    by_suite = MultiToSingleDimensionPartitionMapping(partition_dimension_name="suite")
