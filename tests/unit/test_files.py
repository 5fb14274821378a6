"""Atomic writes: the new content or the old, never a part; modes from the umask (0644/0755 under 022),
so reports can be read by a web server or an artifact uploader running as another user."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bench_pipeline.files import write_text_atomic
from bench_pipeline.report import write_reports
from tests.unit.test_report_render import make_report


@pytest.fixture
def umask():
    """Set the process umask for one test, and put the old one back."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(
    ("mask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700), (0o002, 0o664, 0o775)]
)
def test_written_files_and_folders_follow_the_umask(tmp_path, umask, mask, file_mode, dir_mode):
    umask(mask)
    target = tmp_path / "a" / "b" / "report.md"
    write_text_atomic(target, "one")
    assert target.read_text() == "one"
    assert _mode(target) == file_mode
    assert _mode(target.parent) == dir_mode == _mode(target.parent.parent)
    write_text_atomic(target, "two")  # replacing keeps the umask's mode and leaves no temporary file
    assert target.read_text() == "two" and _mode(target) == file_mode
    assert [p.name for p in target.parent.iterdir()] == ["report.md"]


def test_reports_are_readable_by_others_under_the_default_umask(tmp_path, umask):
    umask(0o022)
    written = write_reports(make_report(), tmp_path / "reports")
    for path in written.values():
        assert _mode(path) == 0o644, path
        assert _mode(path.parent) == 0o755 and _mode(path.parent.parent) == 0o755


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "report.md"
    write_text_atomic(target, "old")

    with pytest.raises(TypeError):
        write_text_atomic(target, 42)  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]
