"""Hostile files for every ingestion format (``--format`` given, and detected): refused, nothing
stored, no landing file left, at most three lines naming the file and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench_pipeline.ingest.adapters import FORMATS
from tests.hostile.conftest import assert_refused, invoke, row_counts
from tests.hostile.corpus import SEEDS, ingest_cases

CASES = [(fmt, name, content) for fmt in SEEDS for name, content in ingest_cases(fmt)]


def test_the_corpus_covers_every_format() -> None:
    assert set(SEEDS) == set(FORMATS)


def landing_files(home: Path) -> list[Path]:
    landing = home / "landing" / ".ingest"
    return (
        [p for p in landing.rglob("*") if p.is_file() and p.parent.parent.name.startswith(".tmp-")]
        if landing.exists()
        else []
    )


@pytest.mark.parametrize(("fmt", "name", "content"), CASES, ids=[f"{fmt}-{name}" for fmt, name, _ in CASES])
def test_a_hostile_file_is_refused(home: Path, tmp_path: Path, fmt: str, name: str, content: bytes) -> None:
    path = tmp_path / f"hostile-{fmt}-{name.replace(':', '')}{Path(SEEDS[fmt]).suffix}"
    path.write_bytes(content)
    before = row_counts(home)
    assert_refused(invoke("ingest", "--format", fmt, str(path)), path.name)
    assert row_counts(home) == before
    assert landing_files(home) == []
    if content:  # detected by content, the same refusal
        assert_refused(invoke("ingest", str(path)), path.name)
        assert row_counts(home) == before
