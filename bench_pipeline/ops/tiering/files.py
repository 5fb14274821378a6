"""Crash-safe tier files: one move per home at a time (a file lock), fsync'ed temporary-then-rename
writes, and the named pause points at which the kill tests stop a move."""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench_pipeline.ops.tiering.settings import TierError

PAUSE_ENV = "BENCH_PIPELINE_TIER_PAUSE"
PAUSE_FILE_ENV = "BENCH_PIPELINE_TIER_PAUSE_FILE"
PAUSE_POINTS = (
    "warm:before_write",  # journal row written, no file yet
    "warm:during_write",  # a temporary file exists, not renamed
    "warm:after_write",  # every file renamed and verified, nothing registered, source intact
    "warm:during_delete",  # inside the transaction: source rows deleted, not committed
    "warm:after_commit",  # committed; retired files not yet deleted, manifests not yet written
    "cold:before_write",
    "cold:during_write",
    "cold:after_write",
    "cold:during_delete",
    "cold:after_commit",
)
LOCK_TIMEOUT_S = 600.0


@dataclass
class TierFile:
    """One written and verified tier file, as ``tier_files`` registers it (path relative to the home)."""

    rel: str
    tier: str
    kind: str
    period: str
    rows: int
    bytes: int
    sha256: str
    min_started_at: datetime | None
    max_started_at: datetime | None


def sql_literal(value: str | Path) -> str:
    """A SQL string literal of one of *our* paths (COPY targets and view definitions take no parameters)."""
    return "'" + str(value).replace("'", "''") + "'"


def fsync(path: Path) -> None:
    """Flush a file, or a directory's entries after a rename, to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pause_at(point: str) -> None:
    """Test hook: stop at ``point`` when ``BENCH_PIPELINE_TIER_PAUSE`` names it (comma-separated)."""
    wanted = os.environ.get(PAUSE_ENV, "")
    if not wanted or point not in wanted.split(","):
        return
    marker = os.environ.get(PAUSE_FILE_ENV)
    if marker:
        Path(marker).write_text(point)
    sys.stderr.write(f"tier: paused at {point}\n")
    sys.stderr.flush()
    time.sleep(3600)


@contextmanager
def tier_lock(home: Path) -> Iterator[None]:
    """One tier move per home at a time (a CLI call and the daily schedule may meet)."""
    lock_dir = home / "tiers"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / ".lock").open("w") as fh:
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TierError(
                        "another tier move has been running for 10 minutes",
                        where=str(lock_dir / ".lock"),
                        fix="wait for it to finish (or stop it: a killed move is cleaned up by the next one)",
                    ) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
