"""Builds (once, cached by source hash) the tiny ``bench-exec`` helper the runner forks through.

See ``bench_exec.c`` for why it exists. A machine without a C compiler still works: the runner
falls back to forking from Python and reports the resulting RSS floor.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Literal

SOURCE = Path(__file__).with_name("bench_exec.c")


def source_hash() -> str:
    return hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]


def helper_path(bin_dir: Path) -> Path:
    return bin_dir / f"bench-exec-{source_hash()}"


def ensure_exec_helper(bin_dir: Path) -> Path | None:
    """Return the compiled helper, compiling it statically if needed; None without a compiler."""
    target = helper_path(bin_dir)
    if target.exists():
        return target
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None
    bin_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=bin_dir, prefix=".bench-exec-")
    os.close(fd)
    for flags in (["-static"], []):  # static first: the same binary then runs inside containers
        proc = subprocess.run([cc, "-O2", *flags, "-o", tmp, str(SOURCE)], capture_output=True)
        if proc.returncode == 0:
            os.chmod(tmp, 0o755)
            os.replace(tmp, target)
            return target
    os.unlink(tmp)
    return None


def is_static(path: Path) -> bool:
    """True when the ELF file has no PT_INTERP header (no dynamic loader: runs in any container)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:  # only 64-bit ELF is expected here
        return False
    order: Literal["little", "big"] = "little" if data[5] == 1 else "big"
    phoff = int.from_bytes(data[32:40], order)
    phentsize = int.from_bytes(data[54:56], order)
    phnum = int.from_bytes(data[56:58], order)
    pt_interp = 3
    return all(
        int.from_bytes(data[phoff + i * phentsize : phoff + i * phentsize + 4], order) != pt_interp
        for i in range(phnum)
    )
