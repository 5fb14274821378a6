"""The ingestion drop folder: result files put there are ingested by the drop-folder sensor.

A file is taken once it has been left unchanged for ``settle_seconds`` (it may still be being
written); hidden and partial files (``.tmp``, ``.part`` …) are ignored.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench_pipeline import paths
from bench_pipeline.ops.settings import DropSettings

SKIPPED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp")


def drop_folder(settings: DropSettings) -> Path:
    return Path(settings.folder).expanduser() if settings.folder else paths.home() / "drop"


def new_drop_files(
    folder: Path, seen: dict[str, list[int]], settle_seconds: float, now: float | None = None
) -> tuple[list[Path], dict[str, list[int]]]:
    """Files of ``folder`` that are new or changed since ``seen`` ({name: [mtime_ns, size]}), and the
    new cursor. Hidden and partial files are ignored; a file modified in the last ``settle_seconds``
    is left for a later tick (it may still be being written); vanished files leave the cursor."""
    now = time.time() if now is None else now
    fresh: list[Path] = []
    cursor: dict[str, list[int]] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.name.endswith(SKIPPED_SUFFIXES):
            continue
        st = path.stat()
        signature = [st.st_mtime_ns, st.st_size]
        if now - st.st_mtime < settle_seconds:
            if path.name in seen:
                cursor[path.name] = seen[path.name]
            continue
        cursor[path.name] = signature
        if seen.get(path.name) != signature:
            fresh.append(path)
    return fresh, cursor
