"""The per-user tool cache: built tools, one directory per (tool, revision, recipe hash).

Layout (``$BENCH_PIPELINE_TOOL_CACHE``, default ``$XDG_CACHE_HOME/bench-pipeline/tools`` or
``~/.cache/bench-pipeline/tools``; shared by every home, test and CI run of this user)::

    <cache>/<tool>/<rev>-<recipe hash>/
        bin/<executable>…        what the build installed
        build.json               the record: tool, rev, resolved commit, recipe, seconds, when
        build.log                the build's full output (kept for failures too, as failed-*.log)
    <cache>/<tool>/.lock         held while a build of this tool runs (builds wait for each other)

An entry appears whole or not at all: it is built in a temporary directory and renamed into place.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

RECORD = "build.json"
LOG = "build.log"


def tool_cache_dir() -> Path:
    explicit = os.environ.get("BENCH_PIPELINE_TOOL_CACHE")
    if explicit:
        return Path(explicit).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bench-pipeline" / "tools"


def safe_rev(rev: str) -> str:
    """A revision as a directory name (``/`` of branch names becomes ``_``)."""
    return rev.replace("/", "_")


@dataclass(frozen=True)
class BuildRecord:
    tool: str
    rev: str  # as asked (a version, tag, branch or commit)
    commit: str  # what it resolved to (the crate version for crates)
    recipe: str  # recipe hash
    kind: str  # crate | git
    seconds: float
    built_at: str
    executables: list[str]


def entry_dir(tool: str, rev: str, recipe: str, cache: Path | None = None) -> Path:
    return (cache or tool_cache_dir()) / tool / f"{safe_rev(rev)}-{recipe}"


def read_record(entry: Path) -> BuildRecord | None:
    try:
        return BuildRecord(**json.loads((entry / RECORD).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_record(entry: Path, record: BuildRecord) -> None:
    (entry / RECORD).write_text(json.dumps(asdict(record), indent=1, sort_keys=True))


def last_seconds(tool: str, cache: Path | None = None) -> float | None:
    """How long the newest build of ``tool`` on this machine took (for "usually …" progress lines)."""
    records = [r for e in ((cache or tool_cache_dir()) / tool).glob("*-*") if (r := read_record(e))]
    return max(records, key=lambda r: r.built_at).seconds if records else None


@contextmanager
def tool_lock(tool: str, cache: Path | None = None, timeout_s: float = 7200) -> Iterator[None]:
    """Held while ``tool`` builds: a second process asking for it waits, then finds it cached."""
    directory = (cache or tool_cache_dir()) / tool
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"another build of {tool} held {directory / '.lock'} too long"
                    ) from None
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached_executable(name: str, cache: Path | None = None) -> Path | None:
    """The newest executable called ``name`` that any build in the cache installed."""
    found = [
        (record.built_at, entry / "bin" / name)
        for entry in (cache or tool_cache_dir()).glob("*/*-*")
        if (record := read_record(entry)) and name in record.executables
    ]
    return max(found)[1] if found else None
