"""The tools' read-only working copies written in lockstep, so that no tool gets a faster copy.

**Why.** A working copy's directories and files live, while a run lasts, as kernel objects placed
in memory when the copy was written. On the 2-core VM this project is measured on, after heavy
work (a compile), copies of one fixture written one after another differ in `git status`, and
keep differing: they come in alike pairs, ±6–15 % from the median, in every round. Written in
lockstep (each directory and file made in every copy before the next one, in random order), four
copies agreed within ±3 % (0.969–1.011 of the round's median, two trials), where the same four written
one after another were 0.88 and 1.13 (benchmarks/RESULTS.md, "Where the A/A bias lives"). A run
gives each tool its own copy. Written one tool after the other, one tool's copy could be 10–25 %
slower for the whole run: the A/A check's false `status` verdicts.

**What.** :func:`write_in_lockstep` copies several trees at once. Each tree's entries are listed
top-down (a directory before what it holds), and the copies advance at the same pace: the next
entry always goes to the tree that is least far along, ties broken at random. So trees of
different layouts interleave too (git's ``repo/…`` against git-worktree's ``main/…``). Every
regular file is copied (bytes, mode, mtime), symlinks are recreated, and directory modes and
mtimes are set last. Nothing is linked to the fixture cache.

It runs in the process that plans the run, so it needs the workers' paths to be its own: the local
backend. Containers keep the per-worker restore (runner ``restore``).
"""

from __future__ import annotations

import os
import shutil
import stat
import time

import numpy as np

from bench_pipeline.execution.runner import _remove


def _entries(src: str) -> list[str]:
    """Relative paths below ``src``, top-down: a directory before its contents."""
    out: list[str] = []
    for root, dirs, files in os.walk(src):
        dirs.sort()
        rel = os.path.relpath(root, src)
        for name in dirs + sorted(files):
            out.append(name if rel == "." else os.path.join(rel, name))
    return out


def _write(src: str, dst: str) -> os.stat_result:
    """Write one entry; its ``lstat`` (a directory's mode and times are set after its contents)."""
    st = os.lstat(src)
    if stat.S_ISDIR(st.st_mode):
        os.mkdir(dst, 0o700)
    elif stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    else:
        shutil.copy2(src, dst, follow_symlinks=False)
    return st


def write_in_lockstep(pairs: list[tuple[str, str]], rng: np.random.Generator) -> dict:
    """Copy each ``(src, dst)`` tree, all at the same pace (module docstring). What is at ``dst``
    already (a run resumed after a crash left it) is deleted first.

    Returns ``{"seconds", "entries"}``.
    """
    start = time.perf_counter()
    lists = [_entries(src) for src, _ in pairs]
    for _, dst in pairs:
        if os.path.lexists(dst):
            _remove(dst)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.mkdir(dst, 0o700)
    dirs: list[tuple[str, os.stat_result]] = [(dst, os.lstat(src)) for src, dst in pairs]
    done = [0] * len(pairs)
    sizes = [max(1, len(entries)) for entries in lists]
    left = sum(len(entries) for entries in lists)
    while left:
        pace = [done[i] / sizes[i] if done[i] < len(lists[i]) else np.inf for i in range(len(pairs))]
        least = min(pace)
        tied = [i for i, p in enumerate(pace) if p == least]
        i = int(tied[rng.integers(len(tied))])
        rel = lists[i][done[i]]
        dst = os.path.join(pairs[i][1], rel)
        st = _write(os.path.join(pairs[i][0], rel), dst)
        if stat.S_ISDIR(st.st_mode):
            dirs.append((dst, st))
        done[i] += 1
        left -= 1
    # directories last, deepest first: writing their entries moved their mtimes
    for d, st in sorted(dirs, key=lambda item: item[0].count(os.sep), reverse=True):
        os.chmod(d, stat.S_IMODE(st.st_mode))
        os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns))
    return {"seconds": time.perf_counter() - start, "entries": sum(len(e) for e in lists)}
