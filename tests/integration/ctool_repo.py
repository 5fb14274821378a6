"""A small C program in a git repository the tests create: three subcommands that spin for a few
milliseconds each, tagged releases, and a planted 30 % slowdown of one subcommand (tests of tool
revisions: builds, revision runs, the tag sensor, bisect)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import git

SOURCE = r"""
#include <stdio.h>
#include <string.h>
#include "work.h"

static volatile unsigned long sink;

static void spin(unsigned long n) {
    for (unsigned long i = 0; i < n; i++) sink += i ^ (i >> 3);
}

int main(int argc, char **argv) {
    if (argc < 2) { fputs("usage: ctool --version|alpha|beta|gamma\n", stderr); return 2; }
    if (!strcmp(argv[1], "--version")) { printf("ctool %s\n", VERSION); return 0; }
    if (!strcmp(argv[1], "alpha")) { spin(ALPHA); return 0; }
    if (!strcmp(argv[1], "beta")) { spin(BETA); return 0; }
    if (!strcmp(argv[1], "gamma")) { spin(GAMMA); return 0; }
    fprintf(stderr, "ctool: unknown subcommand %s\n", argv[1]);
    return 2;
}
"""

WORK = 2_000_000  # iterations of the busy loop: a few ms of CPU on a current core
SLOWER = int(WORK * 1.3)  # the planted regression of `beta`

SUITE = """
name: {name}
description: a C program built from its git repository at any revision (tests of tool revisions)
settings:
  {{warmup: 2, min_runs: {min_runs}, max_runs: {max_runs}, target_ci: 0.002, time_budget_s: 300,
   timeout_s: 20, sizes: [small], delta: 0.05, adaptive_runs: false, decide_on: {decide_on}}}
quick: {{warmup: 1, min_runs: 5, max_runs: 5, time_budget_s: 60, sizes: [small]}}
tools:
  ctool:
    version: [ctool, --version]
    requires: [ctool]
    build:
      git: {repo}
      rev: main
      command: [[gcc, -O1, -o, ctool, ctool.c]]
      artifacts: {{ctool: ctool}}
      typical_seconds: 2
operations:
  - name: alpha
    commands: {{ctool: {{run: [ctool, alpha]}}}}
  - name: beta
    commands: {{ctool: {{run: [ctool, beta]}}}}
  - name: gamma
    commands: {{ctool: {{run: [ctool, gamma]}}}}
"""


@dataclass
class CtoolRepo:
    path: Path
    commits: list[str] = field(default_factory=list)  # oldest first
    planted: str = ""  # the commit that slows down `beta`

    def commit(self, message: str, *, version: str, beta: int = WORK, broken: bool = False) -> str:
        header = f'#define VERSION "{version}"\n#define ALPHA {WORK}UL\n#define BETA {beta}UL\n#define GAMMA {WORK}UL\n'
        (self.path / "work.h").write_text(header)
        source = SOURCE if not broken else SOURCE.replace("int main", "int main(")  # a syntax error
        (self.path / "ctool.c").write_text(source)
        (self.path / "CHANGES").write_text(
            f"{message}\n" + ((self.path / "CHANGES").read_text() if (self.path / "CHANGES").exists() else "")
        )
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "-m", message)
        self.commits.append(git(self.path, "rev-parse", "HEAD"))
        return self.commits[-1]

    def tag(self, name: str) -> None:
        git(self.path, "tag", "-a", name, "-m", f"release {name}")

    def suite(
        self,
        directory: Path,
        name: str = "ctool",
        max_runs: int = 150,
        min_runs: int = 25,
        decide_on: str = "wall",
    ) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}.yaml"
        path.write_text(
            SUITE.format(name=name, repo=self.path, max_runs=max_runs, min_runs=min_runs, decide_on=decide_on)
        )
        return path


def make_repo(path: Path, *, tag_v3: bool = True) -> CtoolRepo:
    """v1, 8 commits, the planted slowdown of `beta` among them (the 5th after v1, after v2 at the
    3rd), v3 on the 9th: ``commits[0]`` is v1, ``commits[3]`` v2, ``commits[5]`` planted, ``commits[9]`` v3."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    repo = CtoolRepo(path)
    repo.commit("first release", version="1")
    repo.tag("v1")
    for i in range(1, 10):
        planted = i >= 5
        repo.commit(
            "slower beta: a more thorough check" if i == 5 else f"change {i}",
            version=f"1.{i}",
            beta=SLOWER if planted else WORK,
        )
        if i == 3:
            repo.tag("v2")
        if i == 5:
            repo.planted = repo.commits[-1]
    if tag_v3:
        repo.tag("v3")
    return repo
