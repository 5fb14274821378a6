"""One sample schema: the declaration in bench_pipeline.store.schema and everything built from it agree.

The migrated DuckDB tables, the landing Parquet schemas, the rows the runner builds, the counters
ingestion and the API accept, the exporter and ``measure``'s per-run keys. The last test adds a
column to the declaration alone (in a fresh interpreter) and finds it in every derived place.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC
from pathlib import Path

import polars as pl
import pytest

from bench_pipeline.store import Store
from bench_pipeline.store import schema as decl
from bench_pipeline.store.schema import (
    CELL_COLUMNS,
    CELL_SCHEMA,
    COUNTERS,
    MEASURED,
    SAMPLE_COLUMNS,
    SAMPLE_SCHEMA,
    SAMPLES_ALL_COLUMNS,
    Column,
    mismatches,
    sample_row,
)
from tests.conftest import ROOT

SQL = """SELECT column_name, data_type, is_nullable = 'YES' FROM information_schema.columns
         WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position"""
DUCKDB_NAMES = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}
#: SampleIn fields that are not columns: they become sample_metrics rows
PAYLOAD_NOT_COLUMNS = {"score", "evaluations", "telemetry", "metrics"}


@pytest.fixture
def store(bench_home: Path) -> Store:
    return Store()


def _declared(columns: tuple[Column, ...]) -> list[tuple[str, str, bool]]:
    return [(c.name, DUCKDB_NAMES.get(c.sql, c.sql), c.nullable) for c in columns]


# ------------------------------------------------------------------------------------------ DuckDB
def test_migrated_tables_equal_the_declarations(store: Store) -> None:
    with store.connect() as con:
        assert con.execute(SQL, ["samples"]).fetchall() == _declared(SAMPLE_COLUMNS)
        assert con.execute(SQL, ["run_cells"]).fetchall() == _declared(CELL_COLUMNS)
        view = [row[0] for row in con.execute(SQL, ["samples_all"]).fetchall()]
    assert set(SAMPLES_ALL_COLUMNS) <= set(view) and "warmup" not in view
    assert store.schema_mismatches() == []


def test_the_migration_check_names_each_difference() -> None:
    actual = _declared(SAMPLE_COLUMNS)
    assert mismatches("samples", actual, SAMPLE_COLUMNS) == []
    drifted = [
        (name, "VARCHAR" if name == "wall_ns" else sql, True if name == "exit_code" else nullable)
        for name, sql, nullable in actual
        if name != "stderr_tail"
    ] + [("surprise", "BIGINT", True)]
    assert mismatches("samples", drifted, SAMPLE_COLUMNS) == [
        "samples.stderr_tail: declared, missing in the database",
        "samples.surprise: in the database, not declared",
        "samples.wall_ns: VARCHAR in the database, declared BIGINT",
        "samples.exit_code: NULL in the database, declared NOT NULL",
    ]
    swapped = [actual[1], actual[0], *actual[2:]]
    assert mismatches("samples", swapped, SAMPLE_COLUMNS) == [
        f"samples: columns in another order than declared ({', '.join(n for n, _, _ in swapped)})"
    ]


def test_a_table_without_a_declared_column_is_reported(store: Store) -> None:
    with store.connect() as con:
        con.execute("ALTER TABLE run_cells DROP COLUMN similarity")
    assert store.schema_mismatches() == ["run_cells.similarity: declared, missing in the database"]


# ------------------------------------------------------------------------------------------ landing
def test_landing_schemas_are_the_declarations() -> None:
    from bench_pipeline.execution import rounds
    from bench_pipeline.ingest import write
    from bench_pipeline.store import landing

    assert list(SAMPLE_SCHEMA.items()) == [(c.name, c.dtype) for c in SAMPLE_COLUMNS]
    assert list(CELL_SCHEMA.items()) == [(c.name, c.dtype) for c in CELL_COLUMNS]
    assert SAMPLE_SCHEMA["created_at"] == pl.Datetime("us", "UTC") and CELL_SCHEMA["params"] == pl.Utf8
    # the runner, ingestion and the landing check use these very objects, not copies
    assert rounds.SAMPLE_SCHEMA is SAMPLE_SCHEMA and rounds.CELL_SCHEMA is CELL_SCHEMA
    assert write.SAMPLE_SCHEMA is SAMPLE_SCHEMA and write.CELL_SCHEMA is CELL_SCHEMA
    assert landing.DECLARED == {"samples": SAMPLE_SCHEMA, "cells": CELL_SCHEMA}


def test_landing_refuses_a_frame_that_is_not_the_declared_one(tmp_path: Path) -> None:
    from bench_pipeline.store.landing import write_landing

    def land(frame: pl.DataFrame) -> Path:
        return write_landing(frame, tmp_path, run_id="r", kind="samples", suite="s", tool="t")

    assert land(pl.DataFrame(schema=SAMPLE_SCHEMA)).exists()
    with pytest.raises(ValueError, match="missing cgroup_io_write_bytes"):
        land(pl.DataFrame(schema=SAMPLE_SCHEMA).drop("cgroup_io_write_bytes"))
    with pytest.raises(ValueError, match="round is Int64, declared Int32"):
        land(pl.DataFrame(schema={**SAMPLE_SCHEMA, "round": pl.Int64}))
    with pytest.raises(ValueError, match="undeclared extra"):
        land(pl.DataFrame(schema={**SAMPLE_SCHEMA, "extra": pl.Utf8}))


# ------------------------------------------------------------------------------------------ rows
def test_a_runner_result_becomes_a_row_of_every_declared_column() -> None:
    from bench_pipeline.execution.measure import result_row

    result = {name: 1 for name in MEASURED} | {"stderr_tail": "x" * 2000, "signal": 0, "timed_out": False}
    keys = dict(run_id="r", suite="s", tool="t", operation="o", fixture="f", backend="local")
    row = result_row(result, ok=False, round=0, iteration=0, warmup=False, **keys)
    assert list(row) == list(SAMPLE_SCHEMA)  # the runner's own "signal" is no column
    assert row["stderr_tail"] == "x" * 1000 and row["ok"] is False and row["created_at"].tzinfo is UTC
    assert result_row(result, ok=True, round=0, iteration=0, warmup=False, **keys)["stderr_tail"] is None
    assert pl.DataFrame([row], schema=SAMPLE_SCHEMA).height == 1


def test_sample_row_refuses_undeclared_names_and_missing_required_values() -> None:
    with pytest.raises(ValueError, match="not sample columns: instructions"):
        sample_row(instructions=1)
    with pytest.raises(ValueError, match="must not be null: run_id, suite"):
        sample_row(wall_ns=1)


# ------------------------------------------------------------------------------------------ ingestion, API
def test_counters_are_the_optional_measured_amounts_sources_may_give() -> None:
    assert [c.name for c in COUNTERS] == [
        "user_ns",
        "sys_ns",
        "peak_rss_bytes",
        "read_bytes",
        "write_bytes",
        "ctx_switches",
        "stdout_bytes",
        "stderr_bytes",
    ]


def test_api_payload_and_native_rows_take_their_fields_from_the_declaration() -> None:
    from bench_pipeline.ingest.adapters.native import SampleRow
    from bench_pipeline.ingest.payload import SampleIn

    ingested = {c.name for c in SAMPLE_COLUMNS if c.ingested}
    assert set(SampleIn.model_fields) - PAYLOAD_NOT_COLUMNS <= ingested
    assert set(SampleRow.model_fields) - {"metrics"} <= ingested
    for c in COUNTERS:
        for model in (SampleIn, SampleRow):
            assert model.model_fields[c.name].description == f"{c.description} ({c.unit})"
    # the accepted JSON shape and its validation are unchanged
    assert set(SampleIn.model_fields) == {
        "operation", "tool", "fixture", "wall_ns", "user_ns", "sys_ns", "peak_rss_bytes", "read_bytes",
        "write_bytes", "ctx_switches", "stdout_bytes", "stderr_bytes", "exit_code", "ok", "timed_out",
        "round", "score", "evaluations", "telemetry", "metrics",
    }  # fmt: skip
    with pytest.raises(ValueError, match="must not be negative"):
        SampleIn.model_validate({"operation": "o", "wall_ns": 1, "user_ns": -1})
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        SampleIn.model_validate({"operation": "o", "wall_ns": 1, "cgroup_cpu_ns": 1})


def test_counters_travel_from_a_payload_to_the_landing_rows(store: Store) -> None:
    from bench_pipeline.ingest import export_run, ingest_runs
    from bench_pipeline.ingest.payload import RunSubmission

    run = RunSubmission.model_validate(
        {
            "run_id": "api-1",
            "suite": "s",
            "tool": "t",
            "samples": [
                {"operation": "o", "wall_ns": 10 + i, **{c.name: i for c in COUNTERS}} for i in range(3)
            ],
        }
    )
    ingest_runs([run], store=store)
    from bench_pipeline.resume import complete_runs

    complete_runs(store)  # what the API's analysis does behind its response
    stored = store.query("SELECT * FROM samples WHERE run_id = 'api-1' ORDER BY iteration")
    for c in COUNTERS:
        assert stored[c.name].to_list() == [0, 1, 2]
    exported = export_run(store, "api-1")["samples"]
    # the exporter writes exactly the declared columns samples_all shows, plus the metrics
    assert all(list(s) == [*SAMPLES_ALL_COLUMNS, "metrics"] for s in exported)
    assert exported[2]["peak_rss_bytes"] == 2 and exported[0]["created_at"].startswith("20")


def test_the_ingestion_sample_takes_the_declared_counters_only() -> None:
    from bench_pipeline.ingest.model import COUNTER_NAMES, Sample

    assert tuple(c.name for c in COUNTERS) == COUNTER_NAMES
    sample = Sample(operation="o", wall_ns=1, peak_rss_bytes=5, user_ns=None)
    assert sample.counters == {"peak_rss_bytes": 5}
    with pytest.raises(TypeError, match="unknown counter"):
        Sample(operation="o", wall_ns=1, cgroup_cpu_ns=1)  # measured by the runner only


def test_stats_need_only_declared_columns() -> None:
    from bench_pipeline.stats import SAMPLE_COLUMNS as NEEDED

    assert set(NEEDED) <= set(SAMPLE_SCHEMA)


# ------------------------------------------------------------------------------------------ one edit
ADD_A_COLUMN = textwrap.dedent(
    """
    import importlib.machinery, sys

    class Patched(importlib.machinery.SourceFileLoader):
        def get_data(self, path):
            source = super().get_data(path)
            anchor = b"CELL_COLUMNS: tuple[Column, ...] = ("
            extra = (b"SAMPLE_COLUMNS = (*SAMPLE_COLUMNS, _col('instructions', 'BIGINT', 'retired "
                     b"instructions', null=True, measured=True, ingested=True, unit='count'))\\n")
            return source.replace(anchor, extra + anchor) if path.endswith("store/schema.py") else source

    class Finder:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name != "bench_pipeline.store.schema":
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            spec.loader = Patched(name, spec.origin)
            return spec

    sys.meta_path.insert(0, Finder)

    import pathlib, tempfile
    import polars as pl
    from bench_pipeline.execution import measure, rounds
    from bench_pipeline.ingest import export, model
    from bench_pipeline.ingest.adapters.native import SampleRow
    from bench_pipeline.ingest.payload import SampleIn, RunIn, to_run_data
    from bench_pipeline.store import Store, landing, schema

    assert schema.SAMPLE_SCHEMA["instructions"] == pl.Int64
    assert rounds.SAMPLE_SCHEMA["instructions"] == pl.Int64                      # the runner's frames
    assert landing.DECLARED["samples"]["instructions"] == pl.Int64               # landing files
    assert "instructions" in schema.MEASURED                                     # measure's per-run keys
    assert list(measure.result_row({"instructions": 7, "wall_ns": 1, "exit_code": 0, "timed_out": False},
        ok=True, run_id="r", suite="s", tool="t", operation="o", fixture="f", backend="local",
        round=0, iteration=0, warmup=False))[-1] == "instructions"
    assert "instructions" in export.SAMPLE_COLUMNS                               # the exporter
    assert "instructions" in SampleRow.model_fields                              # native files
    assert "instructions" in SampleIn.model_fields                               # the API payload
    run = RunIn.model_validate({"samples": [{"operation": "o", "wall_ns": 1, "instructions": 9}]})
    assert to_run_data(run).samples[0].counters == {"instructions": 9}           # the ingestion model
    assert model.Sample(operation="o", wall_ns=1, instructions=3).counters == {"instructions": 3}
    store = Store(pathlib.Path(tempfile.mkdtemp()) / "b.duckdb")
    assert store.schema_mismatches() == [                                        # the migration check
        "samples.instructions: declared, missing in the database",
        "samples_all.instructions: declared, missing in the view",
    ]
    print("derived everywhere")
    """
)


def test_a_column_added_to_the_declaration_alone_shows_up_in_every_derived_place(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", ADD_A_COLUMN], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "derived everywhere"


def test_the_declaration_is_the_only_one() -> None:
    """No module keeps its own list of the sample's measured columns any more."""
    core = ROOT / "bench_pipeline"
    needle = '"peak_rss_bytes",\n'
    holders = [
        str(p.relative_to(ROOT))
        for p in core.rglob("*.py")
        if needle in p.read_text() and p.name != "schema.py"
    ]
    assert holders == ["bench_pipeline/stats/_schema.py"]  # its subset of what statistics need
    assert decl.__file__.endswith("store/schema.py")
