"""Tool revisions as data: ``tool@rev`` names, ``Suite.with_revisions``, the run a new tag asks for,
and a stored comparison read in the other direction."""

from __future__ import annotations

import pytest

from bench_pipeline.analysis import oriented
from bench_pipeline.errors import SuiteError
from bench_pipeline.ops.watch import NewTag, plan_tag_run, tag_revision
from bench_pipeline.report.revisions import revision_pairs
from bench_pipeline.suite import parse_suite
from bench_pipeline.suite.build import Build, release_key, split_tool, tool_at

SUITE = """
name: revs
tools:
  git: {version: [git, --version]}
  jj:
    version: [jj, --version]
    probes: {tree: [jj, log]}
    build: {crate: jj-cli, version: 0.45.1, bin: [jj]}
  mytool:
    version: [mytool, --version]
    build: {git: /srv/mytool, rev: main, command: [[make]], artifacts: {mytool: mytool}}
operations:
  - name: status
    commands: {git: {run: [git, status]}, jj: {run: [jj, st]}, mytool: {run: [mytool, st]}}
  - name: worktree
    commands: {git: {run: [git, worktree, list]}}
    na: {jj: no worktrees, mytool: no worktrees}
"""


@pytest.fixture
def suite():
    return parse_suite(SUITE, "revs.yaml")


def test_names():
    assert split_tool("jj@0.44.0") == ("jj", "0.44.0") and split_tool("jj") == ("jj", None)
    assert tool_at("jj", "0.44.0") == "jj@0.44.0"


def test_a_revision_is_a_tool_with_its_tools_definition(suite):
    both = suite.with_revisions(["jj@0.44.0", "jj@0.45.1", "git"])
    assert list(both.tools) == ["git", "jj", "mytool", "jj@0.44.0", "jj@0.45.1"]
    assert both.tools["jj@0.44.0"] == suite.tools["jj"]
    status = both.operation("status")
    assert status.commands["jj@0.44.0"] == status.commands["jj"]
    assert both.operation("worktree").na["jj@0.45.1"] == "no worktrees"
    assert suite.with_revisions(["git", "jj"]) is suite  # nothing to add
    assert suite.select_tools(["jj@0.44.0", "git"]) == ["jj@0.44.0", "git"]
    assert both.only_operations(["status"]).expanded_operations()[0].name == "status"


@pytest.mark.parametrize(
    ("name", "needle"),
    [("git@v2.0", "no `build:` section"), ("nope@1", "no tool 'nope'"), ("mytool@release/2", "no '/'")],
)
def test_revisions_that_cannot_be(suite, name, needle):
    with pytest.raises(SuiteError, match=needle):
        suite.with_revisions([name])
    with pytest.raises(SuiteError):
        suite.select_tools([name])


def test_release_order_and_the_revision_a_tag_names():
    tags = ["v1.10", "v1.9", "v2.0", "v1.9.1", "v0.1"]
    assert sorted(tags, key=release_key) == ["v0.1", "v1.9", "v1.9.1", "v1.10", "v2.0"]
    crate = Build(crate="jj-cli", version="0.45.1", bin=["jj"])
    git = Build(git="/x", rev="main", command=[["make"]], artifacts={"x": "x"})
    assert tag_revision(crate, "v0.46.0", "abc") == "0.46.0"
    assert tag_revision(git, "v0.46.0", "a" * 40) == "v0.46.0"
    assert tag_revision(git, "release/2.0", "b" * 40) == "b" * 12


def test_a_tag_run_is_the_tag_against_the_previous_one(suite, bench_home):
    earlier = (("v1.1", "c" * 40), ("v1.0", "d" * 40))
    new = NewTag("/srv/mytool", "k", "v1.2", "e" * 40, ("revs",), "mytool", "", earlier)
    plan = plan_tag_run(new, suite)
    assert (plan.tools, plan.previous) == (("mytool@v1.1", "mytool@v1.2"), "v1.1")
    first = NewTag("/srv/mytool", "k", "v0.1", "e" * 40, ("revs",), "mytool", "main", ())
    assert plan_tag_run(first, suite).tools == ("mytool@main", "mytool@v0.1")
    jj = NewTag(
        "https://github.com/jj-vcs/jj",
        "k",
        "v0.46.0",
        "f" * 40,
        ("revs",),
        "jj",
        "default",
        (("v0.45.1", "a" * 40),),
    )
    assert plan_tag_run(jj, suite).tools == ("jj@0.45.1", "jj@0.46.0")  # baseline = the suite's version
    assert plan_tag_run(NewTag("/r", "k", "v1", "a" * 40, ("revs",)), suite).tools == ()  # no tool: as before


def test_a_stored_comparison_read_the_other_way():
    row = {
        "tool_a": "jj@0.44.0",
        "tool_b": "jj@0.45.1",
        "median_a": 10.0,
        "median_b": 12.0,
        "n_a": 5,
        "n_b": 6,
        "ratio": 1.2,
        "ci_low": 1.1,
        "ci_high": 1.3,
        "verdict": "slower",
        "hl_shift_log": 0.18,
        "prob_superiority": 0.9,
    }
    assert oriented(row, "jj@0.44.0") == row
    back = oriented(row, "jj@0.45.1")
    assert (back["tool_a"], back["median_a"], back["n_a"], back["verdict"]) == (
        "jj@0.45.1",
        12.0,
        6,
        "faster",
    )
    assert back["ratio"] == pytest.approx(1 / 1.2) and back["ci_low"] == pytest.approx(1 / 1.3)
    assert back["prob_superiority"] == pytest.approx(0.1) and back["hl_shift_log"] == -0.18
    assert oriented({**row, "verdict": "equivalent"}, "jj@0.45.1")["verdict"] == "equivalent"


def test_revision_pairs_follow_the_run_order():
    assert revision_pairs(["git", "jj@0.44.0", "jj@0.45.1", "jj"]) == [
        ("jj@0.44.0", "jj@0.45.1"),
        ("jj@0.44.0", "jj"),
        ("jj@0.45.1", "jj"),
    ]
    assert revision_pairs(["git", "jj"]) == []


def test_a_revisions_image_holds_its_own_executables(tmp_path):
    from bench_pipeline.execution.images.common import BUILT, RECIPES, recipe_for
    from bench_pipeline.execution.images.tools import _plan

    def build(name: str, version: str):
        bin_dir = tmp_path / name / "bin"
        bin_dir.mkdir(parents=True)
        exe = bin_dir / "jj"
        exe.write_text(f"#!/bin/sh\necho jj {version}\n")
        exe.chmod(0o755)
        return bin_dir

    old, new = build("0.44.0", "0.44.0"), build("0.45.1", "0.45.1")
    assert recipe_for("jj@0.44.0") is RECIPES["jj"]  # a revision uses its tool's recipe
    plans = [_plan(RECIPES["jj"], "sha256:parent", tmp_path, (d,)) for d in (old, new)]
    assert [p.binary for p in plans] == [(old / "jj").resolve(), (new / "jj").resolve()]
    assert plans[0].tag != plans[1].tag  # one image per revision (the binary's digest is an input)
    assert plans[0].versions["jj"] == "jj 0.44.0" and plans[0].from_build
    # a tool without a Dockerfile of its own, built from its recipe: the generic image of its build
    assert recipe_for("mytool@v1", built=True) is BUILT
    with pytest.raises(Exception, match="no image recipe"):
        recipe_for("mytool@v1")
    generic = _plan(BUILT, "sha256:parent", tmp_path, (old,))
    assert set(generic.build_bins) == {"jj"} and "binaries" in generic.inputs


def test_a_build_is_named_once_per_process_and_not_as_earlier_after_building_it(tmp_path, monkeypatch):
    """The fixtures and the measuring of one run both ask for jj: a cached build is named once, and a
    build this process just made is not announced again as "built earlier"."""
    from dataclasses import replace

    import bench_pipeline.builds.obtain as obtain
    from bench_pipeline.builds.cache import BuildRecord, entry_dir, write_record

    suite = parse_suite(
        SUITE.replace("    version: [jj, --version]\n", "    version: [jj, --version]\n    requires: [jj]\n")
    )
    assert suite.tools["jj"].requires == ["jj"]

    monkeypatch.setenv("BENCH_PIPELINE_TOOL_CACHE", str(tmp_path / "tools"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no jj on PATH
    monkeypatch.setattr(obtain, "_SAID", set())
    monkeypatch.setattr(obtain, "cargo", lambda: "/usr/bin/cargo")
    recipe = suite.tools["jj"].build.recipe_hash()
    entry = entry_dir("jj", "0.45.1", recipe)

    def fake_build(base, build, entry_, planned, say):  # what _build leaves behind, without cargo
        (entry_ / "bin").mkdir(parents=True)
        write_record(entry_, BuildRecord("jj", "0.45.1", "0.45.1", recipe, "crate", 1.0, "now", ["jj"]))
        return replace(planned, available=True, action="built", bin_dir=entry_ / "bin")

    monkeypatch.setattr(obtain, "_build", fake_build)
    lines: list[str] = []
    built = obtain.obtain_tool(suite, "jj", allow_build=True, progress=lines.append)
    assert (built.action, built.bin_dir) == ("built", entry / "bin")
    again = obtain.obtain_tool(suite, "jj", allow_build=True, progress=lines.append)
    assert again.action == "cached"
    assert [line for line in lines if "built earlier" in line] == []
    assert len(lines) == 1 and "building jj 0.45.1" in lines[0], lines

    monkeypatch.setattr(obtain, "_SAID", set())  # a new process: the cached build is named, once
    lines.clear()
    for _ in range(2):
        obtain.obtain_tool(suite, "jj", allow_build=True, progress=lines.append)
    assert len(lines) == 1 and "jj 0.45.1 built earlier" in lines[0], lines
