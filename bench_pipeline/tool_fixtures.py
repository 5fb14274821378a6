"""A tool's pristine copy of a generated fixture, prepared by the tool's ``setup`` commands.

The base fixture (``bench_pipeline.fixtures``) is tool-neutral; ``git-worktree`` turns it into
a bare repository with worktrees, jj adopts it with ``jj git init --colocate``, and so on.
The result is cached next to the base fixture, keyed by the base fixture id and the setup
commands, and built atomically (temporary directory, then rename).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench_pipeline import fixtures
from bench_pipeline.determinism import command_env
from bench_pipeline.errors import FixtureError, ToolUnavailable
from bench_pipeline.suite import Suite, expand_argv

MANIFEST = "tool-fixture.json"


@dataclass(frozen=True)
class ToolFixture:
    suite: str
    tool: str
    size: str
    fixture_id: str
    dir_name: str  # directory under the tool's fixture directory
    root: Path  # host path of the pristine root (contains e.g. repo/)
    vars: dict[str, str]
    commits: int
    files: int
    setup_seconds: float
    generation_seconds: float


def tool_fixture_dir(cache_dir: Path, suite: str, tool: str) -> Path:
    """Directory holding every pristine fixture of one suite × tool (mounted read-only in containers)."""
    return cache_dir / "tools" / suite / tool


def _setup_key(suite: Suite, tool: str, fixture_id: str) -> str:
    t = suite.tools[tool]
    payload = json.dumps(
        {"fixture": fixture_id, "setup": t.setup, "env": t.env, "suite_env": suite.env}, sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:10]


def ensure_tool_fixture(suite: Suite, tool: str, size: str, cache_dir: Path, progress=None) -> ToolFixture:
    """Generate (or reuse) the base fixture, then (or reuse) the tool's prepared copy."""
    base = fixtures.ensure_fixture(fixtures.fixture_for(size), cache_dir, progress=progress)
    key = _setup_key(suite, tool, base.id)
    parent = tool_fixture_dir(cache_dir, suite.name, tool)
    dir_name = f"{size}-{base.id}-{key}"
    final = parent / dir_name
    manifest = final / MANIFEST
    if manifest.exists():
        data = json.loads(manifest.read_text())
        return _from(suite, tool, size, base, dir_name, final, data["setup_seconds"])
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dir_name}-", dir=parent))
    tmp.chmod(0o755)  # readable by the non-root user of containers (fixtures are mounted read-only)
    try:
        root = tmp / "root"
        root.mkdir()
        shutil.copytree(base.path, root / "repo", symlinks=True)
        home = tmp / "home"
        home.mkdir()
        started = time.perf_counter()
        values = {
            **base.vars,
            "root": str(root),
            "repo": str(root / suite.tools[tool].workdir),
            "work": str(root),
            "src": str(root / suite.tools[tool].source),
            "tool": tool,
            "fixture": size,
            "operation": "setup",
        }
        for i, argv in enumerate(suite.tools[tool].setup):
            cmd = expand_argv(argv, values, where=f"{suite.source}: tools.{tool}.setup[{i}]")
            env = command_env(
                suite,
                tool,
                home=str(home),
                path=os.environ.get("PATH", "/usr/bin:/bin"),
                seed=i + 1,
                values=values,
            )
            try:
                proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=1800)
            except FileNotFoundError:
                raise ToolUnavailable(
                    f"{cmd[0]!r} is not installed",
                    where=f"tool {tool} setup",
                    fix="install it, or run without this tool (`bench-pipeline doctor`)",
                ) from None
            if proc.returncode != 0:
                raise FixtureError(
                    f"setup command {' '.join(cmd)} failed with exit {proc.returncode}: {proc.stderr.strip()[-500:]}",
                    where=f"{suite.source}: tools.{tool}.setup[{i}]",
                    fix="run the command by hand in a copy of the fixture to see why",
                )
        setup_seconds = time.perf_counter() - started
        shutil.rmtree(home, ignore_errors=True)
        (tmp / MANIFEST).write_text(json.dumps({"setup_seconds": setup_seconds, "base": base.id, "key": key}))
        try:
            os.rename(tmp, final)
        except OSError:
            if not manifest.exists():  # someone else won the race only if theirs is complete
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _from(suite, tool, size, base, dir_name, final, setup_seconds)


def _from(
    suite: Suite, tool: str, size: str, base, dir_name: str, final: Path, setup_seconds: float
) -> ToolFixture:
    return ToolFixture(
        suite=suite.name,
        tool=tool,
        size=size,
        fixture_id=base.id,
        dir_name=dir_name,
        root=final / "root",
        vars=dict(base.vars),
        commits=base.commits,
        files=base.files,
        setup_seconds=setup_seconds,
        generation_seconds=base.seconds,
    )
