"""A run × tool too large for one read is analysed a batch of whole cells at a time: the flags and
statistics are exactly those of one read (both are per cell)."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from bench_pipeline import analysis
from bench_pipeline.ingest import ingest_files
from bench_pipeline.store import Store
from tests.conftest import DATA


def analysed(monkeypatch: pytest.MonkeyPatch, batch_rows: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    monkeypatch.setattr(analysis, "BATCH_ROWS", batch_rows)
    store = Store().completing_store()
    ingest_files([DATA / "ingest" / "hyperfine.json"], suite="hf", tool="t", run_id=f"b{batch_rows}")
    ingest_files([DATA / "ingest" / "iai-callgrind.txt"], suite="hf", tool="t", run_id=f"b{batch_rows}")
    analysis.update_flags(store, "hf", "t")
    analysis.update_cell_stats(store, "hf", "t")
    keys = ["operation", "fixture", "round", "iteration"]
    run = [f"b{batch_rows}"]
    flags = store.query("SELECT * EXCLUDE (run_id, computed_at) FROM sample_flags WHERE run_id = ?", run)
    stats = store.query("SELECT * EXCLUDE (run_id, computed_at) FROM cell_stats WHERE run_id = ?", run)
    return flags.sort(keys), stats.sort(["operation", "metric"])


def test_batched_analysis_equals_one_read(bench_home, monkeypatch: pytest.MonkeyPatch) -> None:
    one_flags, one_stats = analysed(monkeypatch, 10**9)
    assert analysis.cell_batches(Store(), "b1000000000", "t") == [None]
    batched_flags, batched_stats = analysed(monkeypatch, 3)  # every cell its own batch
    assert len(analysis.cell_batches(Store().completing_store(), "b3", "t")) > 2
    assert one_flags.height == 10 and one_stats.height > 0
    assert batched_flags.equals(one_flags)
    # the same numbers, up to floating-point summation order (std, cv)
    assert_frame_equal(batched_stats, one_stats, check_exact=False, rel_tol=1e-9)
