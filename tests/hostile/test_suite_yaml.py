"""Hostile suite files: each refused by `validate` within seconds, in at most three lines naming the
file (and the line) and the fix."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.hostile.conftest import assert_refused, invoke, row_counts
from tests.hostile.corpus import suite_cases

CASES = list(suite_cases())


@pytest.mark.parametrize(("name", "text"), CASES, ids=[name for name, _ in CASES])
def test_a_hostile_suite_file_is_refused(home: Path, tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    before = row_counts(home)
    started = time.monotonic()
    result = invoke("validate", str(path))
    assert time.monotonic() - started < 20, "refused only after expanding it"
    assert_refused(result, path.name)
    assert row_counts(home) == before


def test_the_flagship_suite_with_aliases_still_loads(home: Path) -> None:
    from tests.hostile.corpus import DATA

    result = invoke("validate", str(DATA.parents[2] / "suites" / "vcs.yaml"))
    assert result.exit_code == 0, result.output
