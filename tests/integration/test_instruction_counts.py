"""Instruction counts (iai-callgrind, cachegrind) are metrics of their own, analysed like any other:
samples that carry no wall time still get cell statistics and tool comparisons (issue 19)."""

from __future__ import annotations

import pytest

from bench_pipeline.analysis import analyse_runs
from bench_pipeline.resume import ingest_and_complete as ingest_files  # stored, analysed, finished
from bench_pipeline.store import Store
from tests.conftest import DATA

pytestmark = pytest.mark.integration


def test_instruction_counts_get_cell_stats_and_exact_comparisons(bench_home):
    file = DATA / "ingest" / "iai-callgrind.txt"
    one = ingest_files([file], suite="iai", tool="a", run_id="r1")
    ingest_files([file], suite="iai", tool="b", run_id="r1")  # the same counts under a second tool
    assert one.samples == 0  # no timing at all: only instruction counts
    analyse_runs(Store(), ["r1"])
    stats = Store().query(
        "SELECT tool, operation, n, median FROM cell_stats WHERE metric = 'instructions' ORDER BY tool, operation"
    )
    assert stats.height == 2 * one.operations and stats["n"].min() >= 1
    assert 221505.0 in stats["median"].to_list()  # iai-callgrind printed `Instructions: 221505`
    compared = Store().query(
        "SELECT ratio, ci_low, ci_high, verdict FROM comparisons WHERE metric = 'instructions'"
    )
    assert compared.height == one.operations
    assert compared["ratio"].to_list() == [1.0] * one.operations  # equal counts: the exact ratio
