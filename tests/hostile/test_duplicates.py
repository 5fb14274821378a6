"""One run id, one content: never two merged. A hyperfine command given twice is two cells."""

from __future__ import annotations

import json
from pathlib import Path

from tests.hostile.conftest import assert_refused, invoke, row_counts
from tests.hostile.corpus import DATA

BATCH = json.loads((DATA / "bundle-batch.json").read_text())


def write(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_the_same_run_twice_in_one_bundle_batch_is_refused(home: Path, tmp_path: Path) -> None:
    doc = {**BATCH, "runs": [BATCH["runs"][0], BATCH["runs"][0]]}
    before = row_counts(home)
    assert_refused(invoke("ingest", str(write(tmp_path / "twice.json", doc))), "appears twice", "twice.json")
    assert row_counts(home) == before


def test_a_stored_run_id_with_other_content_is_refused(home: Path, tmp_path: Path) -> None:
    first = {**BATCH, "runs": [BATCH["runs"][0]]}
    assert invoke("ingest", str(write(tmp_path / "first.json", first))).exit_code == 0
    changed = json.loads(json.dumps(first))
    changed["runs"][0]["samples"][0]["wall_ns"] += 1
    before = row_counts(home)
    assert_refused(invoke("ingest", str(write(tmp_path / "changed.json", changed))), "different content")
    assert row_counts(home) == before
    again = invoke("ingest", str(tmp_path / "first.json"))  # the same content: skipped, not refused
    assert again.exit_code == 0 and "already ingested" in again.output


def test_two_files_naming_one_run_are_refused(home: Path, tmp_path: Path) -> None:
    a = {**BATCH, "runs": [BATCH["runs"][0]]}
    b = json.loads(json.dumps(a))
    b["runs"][0]["samples"][0]["wall_ns"] += 7
    before = row_counts(home)
    result = invoke("ingest", str(write(tmp_path / "a.json", a)), str(write(tmp_path / "b.json", b)))
    assert_refused(result, "a.json", "b.json")
    assert row_counts(home) == before


def test_a_hyperfine_command_given_twice_is_two_cells_with_a_warning(home: Path, tmp_path: Path) -> None:
    doc = json.loads((DATA / "hyperfine.json").read_text())
    doc["results"].append(json.loads(json.dumps(doc["results"][0])))
    result = invoke("ingest", str(write(tmp_path / "hf2.json", doc)), "--suite", "dup", "--json")
    assert result.exit_code == 0, result.output
    assert "repeats the command 'sleep 0.01'" in result.output
    from bench_pipeline.store import Store

    cells = (
        Store(home / "bench.duckdb")
        .query("SELECT operation, n_ok FROM run_cells WHERE suite = 'dup' ORDER BY operation")
        .rows()
    )
    assert cells == [("sleep 0.01", 5), ("sleep 0.01 #2", 5), ("true", 5)]
