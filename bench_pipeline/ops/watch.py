"""Watched repositories: their tags, and which of them are new since the last look (SPEC §8).

A repository is a local path or a URL that ``git ls-remote`` understands. Names that come from
outside (tags, URLs) are made safe for partition keys, run keys and file names here, and URLs
lose their credentials before they are logged or stored.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench_pipeline.builds import failed_commits
from bench_pipeline.errors import BenchError
from bench_pipeline.ops.settings import OperationsSettings, load_settings
from bench_pipeline.store import Store
from bench_pipeline.suite import Suite
from bench_pipeline.suite.build import Build, release_key, tool_at, valid_tool_rev

_UNSAFE = re.compile(r"[^A-Za-z0-9_.@+-]")


def sanitize_key(name: str, max_len: int = 64) -> str:
    """A name from outside (a git tag) made safe for partition keys, run keys and file names.

    Keeps letters, digits and ``_ . @ + -``; anything else (``| , [ ] /`` spaces …) becomes ``_``,
    runs of dots collapse to one (no ``...``). When the result differs from ``name`` or is cut to
    ``max_len``, an 8-hex hash of the original keeps distinct names distinct.
    """
    safe = re.sub(r"\.{2,}", ".", _UNSAFE.sub("_", name)).strip("._-") or "tag"
    if safe == name and len(safe) <= max_len:
        return safe
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{safe[: max_len - 9]}-{digest}"


def redact(url: str) -> str:
    """A repository URL without credentials (``https://user:token@host`` → ``https://***@host``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def repository_key(url: str) -> str:
    """A stable, secret-free key of a repository for cursors and run keys: its name + a hash of the URL."""
    name = Path(urlsplit(url).path or url).name.removesuffix(".git") or "repo"
    return f"{sanitize_key(name, 32)}-{hashlib.sha256(url.encode()).hexdigest()[:10]}"


def list_tags(url: str, timeout: float = 60.0) -> dict[str, str]:
    """tag → commit of a repository (local path or remote), via ``git ls-remote --tags``.

    Annotated tags are peeled to the commit they point at (the ``^{}`` lines).
    """
    try:
        proc = subprocess.run(
            ["git", "ls-remote", "--tags", url],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchError(
            f"cannot list tags of {redact(url)}: {type(exc).__name__}",
            fix="check that git is installed and the repository is reachable",
        ) from None
    if proc.returncode != 0:
        raise BenchError(
            f"git ls-remote failed for {redact(url)}: {proc.stderr.strip()[-300:].replace(url, redact(url))}",
            fix="check the path or URL in watch.repositories (or BENCH_PIPELINE_WATCH_REPOS)",
        )
    tags: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        sha, _, ref = line.partition("\t")
        if not ref.startswith("refs/tags/"):
            continue
        name = ref[len("refs/tags/") :]
        if name.endswith("^{}"):
            peeled[name[:-3]] = sha
        else:
            tags[name] = sha
    return {name: peeled.get(name, sha) for name, sha in tags.items()}


@dataclass(frozen=True)
class NewTag:
    """A tag first seen (or moved) in a watched repository, and the suites it should run."""

    repository: str  # the URL without credentials
    repository_key: str
    tag: str
    commit: str
    suites: tuple[str, ...]
    tool: str = ""  # the suite tool the repository is the source of (watch.repositories[].tool)
    baseline: str = ""  # a revision measured in every tag run as well
    earlier: tuple[tuple[str, str], ...] = ()  # (tag, commit) of the older tags, newest first

    @property
    def run_key(self) -> str:
        return f"tag-{self.repository_key}-{sanitize_key(self.tag)}-{self.commit[:12]}"


def new_tags(
    cursor: dict[str, dict[str, str]],
    known_suites: list[str],
    settings: OperationsSettings | None = None,
    log=None,
) -> tuple[list[NewTag], dict[str, dict[str, str]], list[str]]:
    """Tags not in ``cursor`` (or moved), the new cursor, and the problems met.

    The first time a repository is seen, its existing tags are recorded without starting runs.
    A repository that cannot be read keeps its previous cursor entry. ``known_suites``: the
    suites that exist now; a watched suite that is not among them is a problem, not a run.
    """
    watch = (settings or load_settings()).watch
    found: list[NewTag] = []
    new_cursor: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    for repo in watch.repositories:
        key = repository_key(repo.url)
        try:
            tags = list_tags(repo.url, watch.timeout_seconds)
        except BenchError as exc:
            problems.append(exc.message)
            if key in cursor:
                new_cursor[key] = cursor[key]
            continue
        pattern = repo.pattern or watch.pattern
        tags = {t: c for t, c in tags.items() if fnmatch.fnmatchcase(t, pattern)}
        new_cursor[key] = tags
        if key not in cursor:
            if log:
                log.info(f"{redact(repo.url)}: first look, {len(tags)} existing tag(s) recorded, no runs")
            continue
        wanted = repo.suites or watch.suites
        suites = [s for s in wanted if s in known_suites] if wanted else list(known_suites)
        unknown = [s for s in wanted if s not in known_suites]
        if unknown:
            problems.append(f"unknown suites for {redact(repo.url)}: {', '.join(unknown)}")
        ordered = sorted(tags.items(), key=lambda item: release_key(item[0]))
        for index, (tag, commit) in enumerate(ordered):
            if cursor[key].get(tag) != commit:
                earlier = tuple(reversed(ordered[:index]))
                found.append(
                    NewTag(
                        redact(repo.url), key, tag, commit, tuple(suites), repo.tool, repo.baseline, earlier
                    )
                )
    return found, new_cursor, problems


# ---------------------------------------------------------------------------------------- tag runs
@dataclass(frozen=True)
class TagRun:
    """What a new tag asks one suite to measure: the tagged revision against the previous tag's
    build (and a baseline), as tools of one run; ``tools`` empty: the installed tools, as before."""

    suite: str
    tools: tuple[str, ...]
    previous: str = ""  # the previous tag compared against ("" : none)
    notes: tuple[str, ...] = ()


def tag_revision(build: Build, tag: str, commit: str) -> str:
    """The revision a tag names for a build: a crate's version (``v0.45.1`` → ``0.45.1``), else the tag —
    or its commit when the tag cannot be part of a ``tool@rev`` name (``release/2.0``)."""
    if build.crate:
        return tag[1:] if re.match(r"^v\d", tag) else tag
    try:
        return valid_tool_rev(tag)
    except ValueError:
        return commit[:12]


def plan_tag_run(new: NewTag, suite: Suite, store: Store | None = None) -> TagRun:
    """The run a new tag asks of ``suite``. With ``new.tool``: ``tool@<tag>`` against the newest earlier
    tag whose build did not fail (the ``builds`` table), and the baseline when configured."""
    if not new.tool:
        return TagRun(suite.name, ())
    definition = suite.tools.get(new.tool)
    if definition is None or definition.build is None:
        why = "is not a tool of the suite" if definition is None else "has no `build:` section"
        raise BenchError(
            f"watched repository {new.repository}: tool {new.tool!r} {why} {suite.name!r}",
            fix="set watch.repositories[].tool to a suite tool whose build section names this repository",
        )
    build = definition.build
    notes = []
    if build.git and not _same_source(build.git, new.repository):
        notes.append(
            f"suite {suite.name} builds {new.tool} from {build.git}, not from the watched {new.repository}"
        )
    failed = failed_commits(
        store or Store(),
        suite.name,
        new.tool,
        build.recipe_hash(),
        [_key(build, t, c) for t, c in new.earlier],
    )
    previous = ""
    for tag, commit in new.earlier:
        if _key(build, tag, commit) in failed:
            notes.append(f"{tag} is skipped: its build failed")
            continue
        previous = tag
        break
    tools = []
    if new.baseline:
        tools.append(tool_at(new.tool, build.default_rev if new.baseline == "default" else new.baseline))
    if previous:
        tools.append(tool_at(new.tool, tag_revision(build, previous, dict(new.earlier)[previous])))
    tools.append(tool_at(new.tool, tag_revision(build, new.tag, new.commit)))
    return TagRun(suite.name, tuple(dict.fromkeys(tools)), previous, tuple(notes))


def _key(build: Build, tag: str, commit: str) -> str:
    """What the builds table records as a tag's build: the commit (git) or the version (crates)."""
    return tag_revision(build, tag, commit) if build.crate else commit


def _same_source(a: str, b: str) -> bool:
    def norm(url: str) -> str:
        path = Path(url)
        return str(path.resolve()) if path.exists() else url.rstrip("/").removesuffix(".git")

    return norm(a) == norm(b)
