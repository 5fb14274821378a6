"""Git sources of tool builds: one mirror per tool in the tool cache, revisions resolved to commits
(a moving branch resolves to its new head, so it gets a new build), and the commits between two
revisions for ``bisect``.

Layout: ``<tool cache>/<tool>/.mirror.git`` (``git clone --mirror``), refreshed with ``git fetch``
before a revision is resolved; builds clone from it locally. When the source cannot be reached, an
existing mirror still resolves what it knows (and says so).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench_pipeline.builds.cache import tool_cache_dir
from bench_pipeline.errors import BuildError

MIRROR = ".mirror.git"
FETCH_TIMEOUT_S = 600.0
COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


def _git(args: list[str], timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=timeout, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(["git", *args], 1, "", f"{type(exc).__name__}: {exc}")


def mirror_dir(tool: str, cache: Path | None = None) -> Path:
    return (cache or tool_cache_dir()) / tool / MIRROR


@dataclass(frozen=True)
class Resolved:
    rev: str  # as asked
    commit: str  # 40 hex digits
    note: str = ""  # e.g. "the source was not reachable: resolved with the mirror of <date>"


def refresh_mirror(tool: str, url: str, cache: Path | None = None) -> tuple[Path, str]:
    """Clone (first time) or fetch the tool's mirror; returns (mirror, note). A fetch that fails
    with a mirror present is a note, not an error: what the mirror knows still resolves."""
    mirror = mirror_dir(tool, cache)
    source = str(Path(url).resolve()) if Path(url).exists() else url
    if not (mirror / "HEAD").exists():
        mirror.parent.mkdir(parents=True, exist_ok=True)
        tmp = mirror.with_name(f"{MIRROR}.tmp-{os.getpid()}")
        proc = _git(["clone", "--quiet", "--mirror", "--", source, str(tmp)], FETCH_TIMEOUT_S)
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise BuildError(
                f"cannot clone {url}: {proc.stderr.strip()[-300:]}",
                where=f"{tool}: build.git",
                fix="check the path or URL of the tool's `build: git:` (and the network)",
            )
        os.replace(tmp, mirror)
        return mirror, ""
    proc = _git(
        ["-C", str(mirror), "fetch", "--quiet", "--prune", "--force", source, "+refs/*:refs/*"],
        FETCH_TIMEOUT_S,
    )
    if proc.returncode != 0:
        return (
            mirror,
            f"fetching {url} failed ({proc.stderr.strip()[-200:]}); resolved with the mirror as it was",
        )
    return mirror, ""


def resolve(tool: str, url: str, rev: str, cache: Path | None = None, *, fetch: bool = True) -> Resolved:
    """The commit ``rev`` (tag, branch, commit, short commit) names in the tool's source now."""
    if fetch:
        mirror, note = refresh_mirror(tool, url, cache)
    else:
        mirror, note = mirror_dir(tool, cache), ""
        if not (mirror / "HEAD").exists():
            raise BuildError(f"no mirror of {tool}'s source yet", fix="resolve with fetch=True")
    proc = _git(
        ["-C", str(mirror), "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"]
    )
    commit = proc.stdout.strip()
    if proc.returncode != 0 or not COMMIT_RE.match(commit):
        raise BuildError(
            f"revision {rev!r} names no commit in {url}",
            where=f"{tool}@{rev}",
            fix=f"git ls-remote {url} lists its tags and branches",
        )
    return Resolved(rev, commit, note)


def commits_between(tool: str, url: str, good: str, bad: str, cache: Path | None = None) -> list[str]:
    """The commits after ``good`` up to and including ``bad``, oldest first, on the ancestry path
    from ``good`` to ``bad`` (``git rev-list --ancestry-path --reverse good..bad``)."""
    mirror, _ = refresh_mirror(tool, url, cache)
    g, b = (
        resolve(tool, url, good, cache, fetch=False).commit,
        resolve(tool, url, bad, cache, fetch=False).commit,
    )
    if _git(["-C", str(mirror), "merge-base", "--is-ancestor", g, b]).returncode != 0:
        raise BuildError(
            f"{good} ({g[:12]}) is not an ancestor of {bad} ({b[:12]})",
            where=f"{tool} source",
            fix="--good must be an older revision on the history of --bad",
        )
    proc = _git(["-C", str(mirror), "rev-list", "--ancestry-path", "--reverse", f"{g}..{b}"])
    return [c for c in proc.stdout.split() if COMMIT_RE.match(c)]


def commit_subject(tool: str, commit: str, cache: Path | None = None) -> str:
    """The first line of a commit's message (for people reading a bisection)."""
    proc = _git(["-C", str(mirror_dir(tool, cache)), "log", "-1", "--format=%s", commit])
    return proc.stdout.strip()
