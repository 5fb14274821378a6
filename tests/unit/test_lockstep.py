"""Read-only working copies written in lockstep (``bench_pipeline/execution/lockstep.py``)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np

from bench_pipeline.execution import lockstep
from bench_pipeline.execution.lockstep import write_in_lockstep


def _tree(root: Path, top: str, n: int) -> Path:
    (root / top / "sub").mkdir(parents=True)
    for i in range(n):
        (root / top / "sub" / f"f{i}.txt").write_text(f"{top} {i}\n")
    (root / top / "run.sh").write_text("#!/bin/sh\n")
    (root / top / "run.sh").chmod(0o755)
    (root / top / "ro").write_text("packed\n")
    (root / top / "ro").chmod(0o444)
    (root / top / "link").symlink_to("sub/f0.txt")
    os.utime(root / top / "sub" / "f1.txt", ns=(1_000_000_000, 2_000_000_000))
    (root / top / "sub").chmod(0o750)
    os.utime(root / top / "sub", ns=(3_000_000_000, 4_000_000_000))
    return root


def _state(root: Path) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            rel = str(p.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", st.st_mode, st.st_mtime_ns)
            else:
                out[rel] = ("file", st.st_mode, st.st_mtime_ns, p.read_bytes())
    return out


def test_every_tree_is_copied_exactly(tmp_path: Path):
    a = _tree(tmp_path / "a", "repo", 20)
    b = _tree(tmp_path / "b", "main", 7)  # another layout and size, as git-worktree's against git's
    out = write_in_lockstep([(str(a), str(tmp_path / "x" / "a")), (str(b), str(tmp_path / "x" / "b"))],
                            np.random.default_rng(0))  # fmt: skip
    assert _state(tmp_path / "x" / "a") == _state(a) and _state(tmp_path / "x" / "b") == _state(b)
    assert out["entries"] == len(_state(a)) + len(_state(b))


def test_the_copies_advance_at_the_same_pace(tmp_path: Path, monkeypatch):
    a, b = _tree(tmp_path / "a", "repo", 40), _tree(tmp_path / "b", "main", 10)
    order: list[str] = []
    write = lockstep._write
    top = len(str(tmp_path / "x")) + 1
    monkeypatch.setattr(
        lockstep, "_write", lambda s, d: (order.append(d[top:].split(os.sep)[0]), write(s, d))[1]
    )
    write_in_lockstep([(str(a), str(tmp_path / "x" / "A")), (str(b), str(tmp_path / "x" / "B"))],
                      np.random.default_rng(3))  # fmt: skip
    total_a, total_b = order.count("A") or 1, order.count("B") or 1
    # at every point each copy is as far along its own tree as the other, within one entry of the
    # smaller tree; one after the other would be A … A B … B
    done = {"A": 0, "B": 0}
    for who in order:
        done[who] += 1
        assert abs(done["A"] / total_a - done["B"] / total_b) <= 1 / min(total_a, total_b) + 1e-9


def test_what_a_crashed_run_left_at_the_destination_is_replaced(tmp_path: Path):
    a = _tree(tmp_path / "a", "repo", 5)
    dst = tmp_path / "x" / "a"
    (dst / "repo" / "stale").mkdir(parents=True)
    (dst / "repo" / "stale" / "junk").write_text("left by a killed run\n")
    (dst / "repo" / "stale").chmod(0o500)  # read-only, as git leaves some directories
    write_in_lockstep([(str(a), str(dst))], np.random.default_rng(0))
    assert _state(dst) == _state(a)
