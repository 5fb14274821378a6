"""Files on disk: writing one so that readers see the old content or the new one, never a part (temp
file in the same directory, fsync, rename), and the SHA-256 of one.

Written files and the folders made for them get the modes the process's umask gives (0644 and 0755
under the usual 022), like any file a program creates: a web server or an artifact uploader running
as another user can read reports. (``tempfile.mkstemp`` would make them 0600.)
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

_FILE_MODE = 0o666  # the kernel takes the umask off, as for open(2) of any new file


def _create_temp(directory: Path, name: str) -> tuple[int, Path]:
    """A new, empty, exclusively created file next to ``name`` in ``directory`` (never an existing one)."""
    while True:
        tmp = directory / f".{name}-{secrets.token_hex(6)}"
        try:
            return os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), _FILE_MODE
            ), tmp
        except FileExistsError:
            continue


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(path.parent, path.name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
