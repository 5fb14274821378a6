"""Obtaining a suite's tool: found on PATH, found in the tool cache, built now — or unavailable,
with the reason and the one command that fixes it. Never fatal to a run.

The same words serve the run's progress line and ``bench-pipeline doctor`` (:func:`describe`),
so what doctor says the run will do is what the run does. A build can be refused with
``allow_build=False`` (``run --no-build``, ``BENCH_PIPELINE_NO_BUILD=1``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from bench_pipeline.builds.cache import (
    LOG,
    BuildRecord,
    entry_dir,
    last_seconds,
    read_record,
    tool_cache_dir,
    tool_lock,
    write_record,
)
from bench_pipeline.builds.source import mirror_dir, resolve
from bench_pipeline.errors import BuildError
from bench_pipeline.suite import Suite
from bench_pipeline.suite.build import Build, split_tool

Progress = Callable[[str], None]
NO_BUILD_ENV = "BENCH_PIPELINE_NO_BUILD"
HEARTBEAT_S = 20.0
RUSTUP_FIX = "install Rust (https://rustup.rs: curl --proto '=https' -sSf https://sh.rustup.rs | sh)"


@dataclass(frozen=True)
class ToolStatus:
    """What a run does (or did) about one tool.

    ``action``: ``installed`` (every executable on PATH), ``cached`` (built earlier on this machine),
    ``build`` (doctor: it will be built), ``built`` (the run built it), or, when ``available`` is
    false, ``skip`` (building refused), ``unavailable`` (cannot be built here) or ``failed``.
    """

    tool: str  # as the run names it: ``jj`` or a revision ``jj@0.44.0``
    available: bool
    action: str
    reason: str = ""
    fix: str = ""
    bin_dir: Path | None = None  # prepend to PATH for this tool's commands (None: PATH has it)
    seconds: float = 0.0  # spent now (0 when found or cached)
    log: Path | None = None
    missing: list[str] = field(default_factory=list)
    # the build's identity (empty for a tool found on PATH): revision as asked, what it resolved to
    rev: str = ""
    commit: str = ""  # git: the commit; crates: the version
    recipe: str = ""
    kind: str = ""  # crate | git
    build_seconds: float | None = None  # how long the build took when it was made (cached or now)

    @property
    def is_build(self) -> bool:
        """Whether a build was involved (cached, built, failed, refused): what ``builds`` records."""
        return bool(self.kind)


def builds_allowed(default: bool = True) -> bool:
    return default and os.environ.get(NO_BUILD_ENV, "").strip().lower() not in ("1", "true", "yes")


def cargo() -> str | None:
    found = shutil.which("cargo")
    if found:
        return found
    home = Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo") / "bin" / "cargo"
    return str(home) if home.is_file() else None


def install_command(build: Build, rev: str | None = None) -> str:
    """The one command that builds ``build`` by hand (shown as the fix)."""
    rev = rev or build.default_rev
    if build.crate:
        bins = " ".join(f"--bin {b}" for b in build.bin)
        return f"cargo install --locked {bins} {build.crate}@{rev}"
    steps = " && ".join(" ".join(step) for step in build.command)
    return f"git clone {build.git} src && cd src && git checkout {rev} && {steps}"


# (tool, revision) already built, or named as built earlier, in this process
_SAID: set[tuple[str, str]] = set()


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _usually(tool: str, build: Build) -> str:
    seen = last_seconds(tool)
    if seen:
        return f"the last build here took {_duration(seen)}"
    if build.typical_seconds:
        return f"usually about {_duration(build.typical_seconds)} on 2 cores"
    return "its duration is not known yet"


def _missing(suite: Suite, tool: str) -> list[str]:
    return [exe for exe in suite.tools[tool].requires if shutil.which(exe) is None]


def _local_commit(tool: str, build: Build, rev: str) -> str | None:
    """What ``rev`` resolves to in the tool's mirror as it is (no network); None when unknown."""
    if not (mirror_dir(tool) / "HEAD").exists():
        return None
    try:
        return resolve(tool, str(build.git), rev, fetch=False).commit
    except BuildError:
        return None


def _key(build: Build, rev: str, commit: str | None) -> str | None:
    """The cache key of a build: the crate version, or the commit a git revision resolved to."""
    if build.crate:
        return rev
    return commit[:12] if commit else None


def plan_tool(
    suite: Suite,
    tool: str,
    *,
    allow_build: bool | None = None,
    rev: str | None = None,
    commit: str | None = None,
) -> ToolStatus:
    """What obtaining ``tool`` will do, without doing it (doctor, and the run's first step).

    ``tool`` may name a revision (``jj@0.44.0``): then the build at that revision is what counts,
    whatever is on PATH. ``commit``: what a git revision resolved to (else the tool's mirror, as it
    is, resolves it; a revision it does not know yet will be fetched and built).
    """
    allow = builds_allowed() if allow_build is None else allow_build
    base, named = split_tool(tool)
    rev = rev or named
    explicit = rev is not None
    build = suite.tools[base].build
    missing = _missing(suite, base) if rev is None else list(build.provides if build else [])
    if not missing:
        return ToolStatus(tool, True, "installed")
    if build is None or not set(missing) <= set(build.provides):
        return ToolStatus(
            tool,
            False,
            "unavailable",
            reason=f"{', '.join(missing)} not found on PATH and the suite says no way to build it",
            fix=f"install {', '.join(missing)} and put it on PATH",
            missing=missing,
        )
    rev = rev or build.default_rev
    if build.git and commit is None:
        commit = _local_commit(base, build, rev)
    key = _key(build, rev, commit)
    identity = ToolStatus(
        tool,
        False,
        "",
        rev=rev,
        commit=commit or (rev if build.crate else ""),  # a crate's "commit" is its version
        recipe=build.recipe_hash(),
        kind=build.kind,
    )
    entry = entry_dir(base, key, build.recipe_hash()) if key else None
    record = read_record(entry) if entry else None
    if entry is not None and record is not None:
        return replace(
            identity,
            available=True,
            action="cached",
            reason=f"{base} {rev} built earlier ({entry})",
            bin_dir=entry / "bin",
            build_seconds=record.seconds,
        )
    source = f"crates.io ({build.crate} {rev})" if build.crate else f"{build.git} at {rev}"
    fix = install_command(build, rev)
    if build.crate and cargo() is None:
        return replace(
            identity,
            available=False,
            action="unavailable",
            reason=f"{', '.join(missing)} not found on PATH, and cargo is missing to build it from {source}",
            fix=f"{RUSTUP_FIX}, then: {fix}",
            missing=missing,
        )
    needed = f"{', '.join(missing)} not found on PATH" if not explicit else f"revision {rev} asked for"
    if not allow:
        return replace(
            identity,
            available=False,
            action="skip",
            reason=f"{needed}; building it from {source} was skipped (--no-build / {NO_BUILD_ENV})",
            fix=f"{fix}, or run without --no-build",
            missing=missing,
        )
    return replace(
        identity,
        available=True,
        action="build",
        reason=f"{needed}: building {base} {rev} from {source} "
        f"into {tool_cache_dir()} ({_usually(base, build)}; skip with --no-build)",
        fix=fix,
        bin_dir=entry / "bin" if entry else None,
        missing=missing,
    )


def describe(status: ToolStatus) -> str:
    """One line for people, the same in the run's progress and in ``doctor``."""
    if status.action == "installed":
        return f"{status.tool}: installed"
    if status.action in ("cached", "build", "built"):
        return f"{status.tool}: {status.reason}"
    return f"{status.tool}: unavailable — {status.reason}"


def obtain_tool(
    suite: Suite,
    tool: str,
    *,
    allow_build: bool | None = None,
    rev: str | None = None,
    progress: Progress | None = None,
) -> ToolStatus:
    """Find ``tool`` (or the revision ``tool@rev`` names) or build it into the tool cache.

    A git revision is resolved to a commit first (the tool's mirror is fetched), so a branch that
    moved gets a new build. An unavailable tool or a failed build is a status, never an exception.
    """
    say = progress or (lambda _m: None)
    planned = plan_tool(suite, tool, allow_build=allow_build, rev=rev)
    if planned.action in ("installed", "unavailable") or (
        planned.kind == "crate" and planned.action != "build"
    ):
        # a cached build is named once per process (the fixtures and the measuring of one run both
        # ask), and not at all after this process built it
        said = (planned.tool, planned.rev)
        if planned.action != "installed" and (planned.action != "cached" or said not in _SAID):
            say(describe(planned))
            _SAID.add(said)
        return planned
    base = split_tool(tool)[0]
    build = suite.tools[base].build
    assert build is not None
    with tool_lock(base):
        if build.git:
            try:
                resolved = resolve(base, build.git, planned.rev)
            except BuildError as exc:
                failed = replace(
                    planned, available=False, action="failed", reason=exc.message, fix=exc.fix or planned.fix
                )
                say(describe(failed))
                return failed
            if resolved.note:
                say(f"{tool}: {resolved.note}")
            planned = plan_tool(suite, tool, allow_build=allow_build, rev=planned.rev, commit=resolved.commit)
            if planned.action != "build":
                say(describe(planned))
                return planned
        entry = entry_dir(base, _key(build, planned.rev, planned.commit) or "", build.recipe_hash())
        if read_record(entry) is not None:  # another process built it while we waited
            return replace(
                planned,
                action="cached",
                reason=f"{base} {planned.rev} built meanwhile",
                bin_dir=entry / "bin",
            )
        say(describe(planned))
        outcome = _build(base, build, entry, planned, say)
        if outcome.available:
            _SAID.add((planned.tool, planned.rev))
        else:
            say(describe(outcome))
        return outcome


def _build(base: str, build: Build, entry: Path, planned: ToolStatus, say: Progress) -> ToolStatus:
    """Build ``planned`` (``base`` at ``planned.rev``) in a temporary directory, then rename it to ``entry``."""
    rev = planned.rev
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    log_path = tmp / LOG
    started = time.monotonic()
    try:
        if build.crate:
            cmd = [cargo() or "cargo", "install", "--locked", "--root", str(tmp)]
            cmd += [a for b in build.bin for a in ("--bin", b)] + [f"{build.crate}@{rev}"]
            code = _run_logged([cmd], tmp, log_path, base, rev, started, say)
            commit = rev
        else:
            commit = planned.commit
            code = _build_git(base, build, commit, tmp, log_path, rev, started, say)
        if code != 0:
            return _failed(tmp, entry, log_path, planned, f"the build exited {code}", started)
        executables = sorted(p.name for p in (tmp / "bin").iterdir()) if (tmp / "bin").is_dir() else []
        if not set(build.provides) <= set(executables):
            lacking = ", ".join(sorted(set(build.provides) - set(executables)))
            return _failed(tmp, entry, log_path, planned, f"the build did not produce {lacking}", started)
        seconds = time.monotonic() - started
        write_record(
            tmp,
            BuildRecord(
                base,
                rev,
                commit,
                build.recipe_hash(),
                build.kind,
                round(seconds, 1),
                datetime.now(UTC).isoformat(timespec="seconds"),
                executables,
            ),
        )
        os.replace(tmp, entry)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"{planned.tool}: built {base} {rev} in {_duration(seconds)} ({entry})")
    return replace(
        planned,
        available=True,
        action="built",
        reason=f"{base} {rev} built now in {_duration(seconds)}",
        bin_dir=entry / "bin",
        seconds=seconds,
        build_seconds=round(seconds, 1),
        log=entry / LOG,
    )


def _failed(
    tmp: Path, entry: Path, log_path: Path, planned: ToolStatus, why: str, started: float
) -> ToolStatus:
    """A failed build: its log kept as ``failed-<entry>.log``, and one line saying why."""
    kept = entry.parent / f"failed-{entry.name}.log"
    if log_path.exists():
        shutil.copyfile(log_path, kept)
    shutil.rmtree(tmp, ignore_errors=True)
    tail = ""
    if kept.exists():
        lines = [ln for ln in kept.read_text(errors="replace").splitlines() if ln.strip()]
        tail = f": {lines[-1][:200]}" if lines else ""
    at = f" ({planned.commit[:12]})" if planned.commit and planned.commit != planned.rev else ""
    seconds = time.monotonic() - started
    return replace(
        planned,
        available=False,
        action="failed",
        reason=f"building {split_tool(planned.tool)[0]} {planned.rev}{at} failed ({why}){tail}; log {kept}",
        bin_dir=None,
        seconds=seconds,
        build_seconds=round(seconds, 1),
        log=kept,
    )


def _run_logged(
    commands: list[list[str]],
    cwd: Path,
    log_path: Path,
    tool: str,
    rev: str,
    started: float,
    say: Progress,
    env: dict[str, str] | None = None,
) -> int:
    """Run build steps with their output in the log; a progress line every 20 s (elapsed, last step)."""
    with open(log_path, "a") as log:
        for cmd in commands:
            log.write(f"$ {' '.join(cmd)}\n")
            log.flush()
            try:
                proc = subprocess.Popen(
                    cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
                )
            except OSError as exc:
                log.write(f"cannot start: {exc}\n")
                return 127
            done = threading.Event()

            def heartbeat(done: threading.Event = done) -> None:
                last, since = "", time.monotonic()
                while not done.wait(HEARTBEAT_S):
                    step = _last_step(log_path)
                    if step != last:
                        last, since = step, time.monotonic()
                    quiet = time.monotonic() - since
                    # after a minute without output the last line is not what runs (cargo names the
                    # last crate it started, while the time goes to the final link)
                    now = (
                        f"no new output for {_duration(quiet)}, still working (the last line was: {step})"
                        if quiet >= 60
                        else step
                    )
                    say(f"building {tool} {rev}: {_duration(time.monotonic() - started)} so far — {now}")

            beat = threading.Thread(target=heartbeat, daemon=True)
            beat.start()
            try:
                code = proc.wait()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            finally:
                done.set()
            if code != 0:
                return code
    return 0


def _last_step(log_path: Path) -> str:
    try:
        with open(log_path, "rb") as f:
            f.seek(max(0, os.path.getsize(log_path) - 4096))
            lines = [ln.strip() for ln in f.read().decode(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:100] if lines else ""


def _build_git(
    base: str, build: Build, commit: str, tmp: Path, log_path: Path, rev: str, started: float, say: Progress
) -> int:
    """Clone the tool's mirror, check out ``commit``, run the build steps, install the artifacts into ``tmp/bin``."""
    src = tmp / "src"
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    code = _run_logged(
        [
            ["git", "clone", "-q", "--no-checkout", "--", str(mirror_dir(base)), str(src)],
            ["git", "-C", str(src), "checkout", "-q", "--detach", commit],
        ],
        tmp,
        log_path,
        base,
        rev,
        started,
        say,
        env,
    )
    if code != 0:
        return code
    code = _run_logged([list(step) for step in build.command], src, log_path, base, rev, started, say, env)
    if code != 0:
        return code
    (tmp / "bin").mkdir()
    for name, rel in build.artifacts.items():
        artifact = src / rel
        if not artifact.is_file():
            with open(log_path, "a") as log:
                log.write(f"artifact {rel} not found after the build\n")
            return 1
        shutil.copy2(artifact, tmp / "bin" / name)
    shutil.rmtree(src, ignore_errors=True)
    return 0
