"""Shared checks of the hostile suite: a store seeded once, copied per test; every refusal is at most
three lines with the input and a fix, never a traceback, and leaves every table's row count as it was."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result

from bench_pipeline.interfaces.cli import main
from tests.hostile.corpus import DATA


def row_counts(home: Path) -> dict[str, int]:
    """Rows of every table of the store (none: an empty dict)."""
    db = home / "bench.duckdb"
    if not db.exists():
        return {}
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        ).fetchall()]  # fmt: skip
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in tables}
    finally:
        con.close()


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home holding one ingested, analysed run (so "nothing changed" means something)."""
    home = tmp_path_factory.mktemp("seeded") / "home"
    mp = pytest.MonkeyPatch()
    mp.setenv("BENCH_PIPELINE_HOME", str(home))
    try:
        result = CliRunner().invoke(main, ["ingest", str(DATA / "hyperfine.json"), "--suite", "hyperfine"])
        assert result.exit_code == 0, result.output
    finally:
        mp.undo()
    return home


@pytest.fixture
def home(seeded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(seeded, copy, ignore=shutil.ignore_patterns("logs"))
    monkeypatch.setenv("BENCH_PIPELINE_HOME", str(copy))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return copy


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=True)


def assert_refused(result: Result, *names: str) -> list[str]:
    """Non-zero exit through the CLI's error path, at most 3 lines naming ``names`` and a fix."""
    assert result.exit_code not in (0, None), result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # no uncaught exception
    text = result.output
    assert "Traceback" not in text, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 3, text
    assert "fix:" in text or "Try '" in text, text  # our fix line, or click's usage help
    for name in names:
        assert name in text, (name, text)
    return lines
