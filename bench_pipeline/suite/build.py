"""How a suite tool is built when it is not installed, or at a given revision (SPEC §16).

Two kinds of source::

    build:                          # from crates.io: cargo install --locked --bin <bin> <crate>@<version>
      crate: jj-cli
      version: 0.45.1               # the default revision; `--tool jj@0.44.0` asks for another
      bin: [jj]

    build:                          # from a git repository (URL or local path), any build system
      git: https://example.org/tool.git
      rev: main                     # the default revision; `--tool tool@v1.2` asks for another
      command: [[make, -j2]]        # run in the checkout, in order (argv lists; no shell unless sh -c)
      artifacts: {mytool: build/mytool}   # installed name -> path in the checkout after the build

A build is keyed by (tool, the commit or version the revision resolves to, a hash of this recipe),
cached per user (``bench_pipeline.builds``) and reused by every later run, test and CI job on the machine.

A revision of a tool is named ``tool@rev`` (``jj@0.44.0``, ``mytool@v1.2``, ``mytool@3f2a9c1``): in a
run it is a tool of its own (``Suite.with_revisions``), built from this recipe at ``rev``.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# cargo crate names; versions and git revisions as a suite or `tool@rev` may name them
CRATE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
REV_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+/-]{0,127}$")


REVISION_SEP = "@"
# the revision part of ``tool@rev``: it becomes part of partition keys and file names, so no '/'
TOOL_REV_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")


def split_tool(name: str) -> tuple[str, str | None]:
    """``"jj@0.44.0"`` → ``("jj", "0.44.0")``; ``"jj"`` → ``("jj", None)``."""
    base, sep, rev = name.partition(REVISION_SEP)
    return (base, rev) if sep else (name, None)


def tool_at(tool: str, rev: str) -> str:
    """The name of ``tool``'s revision ``rev`` as a tool of a run: ``tool@rev``."""
    return f"{tool}{REVISION_SEP}{rev}"


def release_key(name: str) -> tuple:
    """Release order of revision or tag names: numbers compare as numbers (``v1.10`` after ``v1.9``),
    the rest as text."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.findall(r"\d+|\D+", name)
    )


def valid_tool_rev(rev: str) -> str:
    """The revision of a ``tool@rev`` name: a tag, version or commit — a branch with '/' goes by its commit."""
    if not TOOL_REV_RE.match(rev) or ".." in rev:
        raise ValueError(
            f"revision {rev!r} in tool@rev must be 1-64 characters of letters, digits, '_', '.', '+', '-' "
            "(no '/' or '..': it becomes part of file names and partition keys; name a branch by its commit)"
        )
    return rev


def valid_rev(rev: str) -> str:
    """A revision name that cannot be mistaken for an option or escape a path: letters, digits, ``_ . + / -``."""
    if not REV_RE.match(rev) or ".." in rev:
        raise ValueError(
            f"revision {rev!r} must be 1-128 characters of letters, digits, '_', '.', '+', '/', '-' "
            "(no '..'), starting with a letter or digit"
        )
    return rev


class Build(BaseModel):
    model_config = ConfigDict(extra="forbid")

    crate: str | None = Field(None, description="crates.io crate, installed with cargo install --locked")
    version: str | None = Field(None, description="the crate version built by default")
    git: str | None = Field(None, description="git repository (URL or local path) to build from")
    rev: str | None = Field(None, description="the git revision built by default (tag, branch, commit)")
    command: list[list[str]] = Field(default_factory=list, description="git sources: build steps (argv)")
    artifacts: dict[str, str] = Field(
        default_factory=dict, description="git sources: installed name -> path in the checkout"
    )
    bin: list[str] = Field(default_factory=list, description="crates: the binaries to install (--bin)")
    typical_seconds: int | None = Field(None, ge=1, description="how long a build usually takes (progress)")

    @field_validator("crate")
    @classmethod
    def _crate(cls, v: str | None) -> str | None:
        if v is not None and not CRATE_RE.match(v):
            raise ValueError(f"crate {v!r} is not a crates.io name")
        return v

    @field_validator("version", "rev")
    @classmethod
    def _rev(cls, v: str | None) -> str | None:
        return None if v is None else valid_rev(v)

    @field_validator("git")
    @classmethod
    def _git(cls, v: str | None) -> str | None:
        if v is not None and (not v.strip() or v.startswith("-")):
            raise ValueError("must be a repository path or URL (not empty, not starting with '-')")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> Build:
        if (self.crate is None) == (self.git is None):
            raise ValueError("give exactly one source: `crate` (with `version`) or `git` (with `command`)")
        if self.crate is not None:
            if not self.version:
                raise ValueError("a crate build needs `version` (the revision built by default)")
            if not self.bin:
                raise ValueError("a crate build needs `bin`: the binaries cargo installs")
            if self.command or self.artifacts:
                raise ValueError("`command` and `artifacts` belong to git builds; a crate build uses `bin`")
        else:
            if not self.command or not self.artifacts:
                raise ValueError(
                    "a git build needs `command` (build steps) and `artifacts` (what it produces)"
                )
            for name, path in self.artifacts.items():
                if "/" in name or path.startswith("/") or ".." in path.split("/"):
                    raise ValueError(
                        f"artifact {name!r}: a plain name, and a relative path inside the checkout"
                    )
        return self

    @property
    def kind(self) -> str:
        return "crate" if self.crate else "git"

    @property
    def default_rev(self) -> str:
        return (self.version if self.crate else self.rev) or "HEAD"

    @property
    def provides(self) -> list[str]:
        """The executables a build installs."""
        return list(self.bin) if self.crate else list(self.artifacts)

    def recipe_hash(self) -> str:
        """What, besides the revision, decides the build's output (the default revision excluded)."""
        data: dict[str, Any] = self.model_dump(exclude={"version", "rev", "typical_seconds"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:10]
