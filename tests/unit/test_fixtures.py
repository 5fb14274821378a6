"""Fixture generator: specs, ids, content determinism, and a tiny generated repository's vars."""

from __future__ import annotations

import math
import random
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from pydantic import ValidationError

from bench_pipeline.errors import FixtureError
from bench_pipeline.fixtures import (
    FIXTURE_VARS,
    TIERS,
    Fixture,
    FixtureSpec,
    ensure_fixture,
    fixture_for,
    spec_id,
)
from bench_pipeline.fixtures import build as build_module
from bench_pipeline.fixtures.build import git_env
from bench_pipeline.fixtures.content import det_exp, lognormal
from bench_pipeline.fixtures.history import HistoryWriter, layout

TINY = FixtureSpec(name="tiny", seed=7, commits=60, files=80, branches=2, merge_every=5, tag_every=10)
# The head of TINY for GENERATOR_VERSION "1". If a generator change moves it, that change must
# also bump GENERATOR_VERSION (cached fixtures of the old shape would otherwise be reused).
TINY_HEAD = "12a4a35dfd509522375ae101c44acae282b9be36"


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=repo, env=git_env(repo.parent), capture_output=True, text=True, check=check
    )


def out(repo: Path, *args: str) -> str:
    return git(repo, *args).stdout.strip()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    return ensure_fixture(TINY, tmp_path_factory.mktemp("cache"))


@pytest.fixture
def scratch(tiny: Fixture, tmp_path: Path) -> Path:
    """A throw-away copy of the tiny repository, for operations that mutate it."""
    copy = tmp_path / "repo"
    shutil.copytree(tiny.path, copy, symlinks=True)
    return copy


# -- specs and ids ------------------------------------------------------------------------------
def test_spec_id_is_stable_and_content_addressed() -> None:
    assert spec_id(TINY) == spec_id(FixtureSpec.model_validate(TINY.model_dump()))
    assert len(spec_id(TINY)) == 16 and int(spec_id(TINY), 16) >= 0
    assert spec_id(TINY) != spec_id(TINY.model_copy(update={"seed": 8}))
    assert spec_id(TINY) != spec_id(TINY.model_copy(update={"git_tuning": False}))


def test_tiers_are_ordered_and_within_limits() -> None:
    assert list(TIERS) == ["small", "medium", "large"]
    assert [(t.commits, t.files) for t in TIERS.values()] == [(500, 500), (5_000, 5_000), (50_000, 20_000)]
    for name, spec in TIERS.items():
        assert spec.name == name and fixture_for(name) is spec
        assert 32 <= spec.max_entries_per_dir <= 256
        assert spec.git_tuning is True


@pytest.mark.parametrize("name", list(TIERS))
def test_layout_is_balanced(name: str) -> None:
    spec = TIERS[name]
    paths = layout(spec.files, spec.max_entries_per_dir)
    assert len(set(paths)) == spec.files
    entries: Counter[str] = Counter()
    seen = set()
    for path in paths:
        parts = path.split("/")
        assert len(parts) >= 2  # no file at the root
        for depth in range(len(parts)):
            node = "/".join(parts[: depth + 1])
            if node not in seen:
                seen.add(node)
                entries["/".join(parts[:depth])] += 1
    assert max(entries.values()) <= spec.max_entries_per_dir


def test_fixture_for_unknown_size_says_what_exists() -> None:
    with pytest.raises(FixtureError) as info:
        fixture_for("huge")
    assert "huge" in str(info.value) and info.value.fix and "medium" in info.value.fix


def test_spec_rejects_histories_too_short_for_the_named_branches() -> None:
    with pytest.raises(ValidationError):
        FixtureSpec(name="x", seed=1, commits=60, files=80, branches=40)
    with pytest.raises(ValidationError):
        FixtureSpec(name="Bad/Name", seed=1, commits=100, files=100)


# -- content --------------------------------------------------------------------------------------
def test_det_exp_matches_math_exp() -> None:
    for x in (-6.0, -1.0, -0.1, 0.0, 0.3, 1.0, 2.5, 6.0):
        assert det_exp(x) == pytest.approx(math.exp(x), rel=1e-12)


def test_lognormal_median_is_close() -> None:
    rng = random.Random(1)
    draws = sorted(lognormal(rng, 1000.0, 1.0) for _ in range(4001))
    assert 900 < draws[2000] < 1100


def test_stream_is_deterministic() -> None:
    def stream() -> bytes:
        chunks: list[bytes] = []
        HistoryWriter(TINY, chunks.append).run()
        return b"".join(chunks)

    first = stream()
    assert first == stream()
    assert b"\ndone\n" in first[-20:]


# -- the generated repository --------------------------------------------------------------------
def test_counts_and_clean_checkout(tiny: Fixture) -> None:
    repo = tiny.path
    assert tiny.cached is False and tiny.seconds > 0
    assert int(out(repo, "rev-list", "--all", "--count")) == tiny.commits == TINY.commits
    assert len(out(repo, "ls-files").splitlines()) == tiny.files == TINY.files
    sizes = out(repo, "ls-tree", "-r", "-l", "HEAD").splitlines()
    assert sum(int(line.split()[3]) for line in sizes) == tiny.bytes
    assert out(repo, "status", "--porcelain") == ""
    assert out(repo, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert out(repo, "config", "gc.auto") == "0" and out(repo, "config", "maintenance.auto") == "false"
    assert (repo / ".git" / "objects" / "info" / "commit-graph").exists()
    assert tiny.tuning["index.version"] == "4"
    assert (repo / ".git" / "index").read_bytes()[:8] == b"DIRC\x00\x00\x00\x04"


def test_head_is_pinned(tiny: Fixture) -> None:
    assert tiny.vars["head"] == TINY_HEAD


def test_main_history_vars(tiny: Fixture) -> None:
    repo, v = tiny.path, tiny.vars
    assert sorted(v) == sorted(FIXTURE_VARS) and all(v.values())
    assert v["main"] == "main" and out(repo, "rev-parse", "main") == v["head"]
    assert len(out(repo, "rev-list", "--parents", "-n1", "main").split()) == 2  # tip is not a merge
    assert out(repo, "rev-parse", "main~10") == v["old_commit"]
    assert out(repo, "rev-list", "--parents", "-n1", v["old_commit"]).split()[1:] == [v["old_commit_parent"]]
    assert out(repo, "cat-file", "-t", f"refs/tags/{v['tag']}") == "tag"
    assert out(repo, "cat-file", "-t", f"HEAD:{v['dir']}") == "tree"
    assert v["path"].startswith(v["dir"] + "/")
    assert len(out(repo, "log", "--format=%H", "--", v["path"]).splitlines()) >= 5
    assert out(repo, "grep", "-l", v["grep_word"])
    assert out(repo, "log", "--all", "-1", "--format=%an", f"--author={v['author']}") == v["author"]
    assert out(repo, "log", "--all", "-1", "--format=%H", f"--grep={v['message_word']}")
    assert out(repo, "log", "--all", "--format=%H", "-S", v["pickaxe"]).splitlines() == [v["pickaxe_commit"]]
    assert (
        v["conflict_path"]
        in out(repo, "diff-tree", "--no-commit-id", "--name-only", "-r", "main").splitlines()
    )


def test_branch_vars(tiny: Fixture) -> None:
    repo, v = tiny.path, tiny.vars
    assert (
        out(repo, "merge-base", "main", v["feature"]) == v["base_commit"] == out(repo, "rev-parse", "main~3")
    )
    assert out(repo, "rev-list", "--count", f"main..{v['feature']}") == "3"
    assert out(repo, "rev-parse", v["feature"]) == v["pick_commit"]
    assert git(repo, "merge-base", "--is-ancestor", "main", v["ff_branch"]).returncode == 0
    assert out(repo, "rev-list", "--count", f"main..{v['ff_branch']}") == "2"
    assert out(repo, "merge-base", "main", v["stack_branch"]) == v["stack_base"]
    assert out(repo, "rev-list", "--count", f"main..{v['stack_branch']}") == "3"
    assert out(repo, "rev-list", "--count", f"{v['stack_base']}..main") == "20"
    assert out(repo, "rev-list", "--count", f"main..{v['conflict_branch']}") == "1"
    # merge-tree: exit 0 for a clean merge, 1 for conflicts (no working tree touched)
    assert git(repo, "merge-tree", "--write-tree", "main", v["feature"], check=False).returncode == 0
    assert git(repo, "merge-tree", "--write-tree", "main", v["stack_branch"], check=False).returncode == 0
    conflict = git(
        repo, "merge-tree", "--write-tree", "--name-only", "main", v["conflict_branch"], check=False
    )
    assert conflict.returncode == 1 and v["conflict_path"] in conflict.stdout


def test_mutating_operations_on_the_vars(tiny: Fixture, scratch: Path) -> None:
    v = tiny.vars
    git(scratch, "merge", "--ff-only", v["ff_branch"])
    git(scratch, "reset", "-q", "--hard", v["head"])
    git(scratch, "merge", "--no-ff", "-m", "m", v["feature"])
    git(scratch, "reset", "-q", "--hard", v["head"])
    git(scratch, "revert", "--no-edit", v["old_commit"])
    git(scratch, "reset", "-q", "--hard", v["head"])
    git(scratch, "cherry-pick", v["pick_commit"])
    git(scratch, "reset", "-q", "--hard", v["head"])
    git(scratch, "rebase", "-q", "--onto", v["old_commit_parent"], v["old_commit"])  # drop main~10
    git(scratch, "reset", "-q", "--hard", v["head"])
    git(scratch, "rebase", "-q", "--update-refs", "main", v["stack_branch"])
    git(scratch, "switch", "-q", "main")
    failed = git(scratch, "merge", v["conflict_branch"], check=False)
    assert failed.returncode != 0 and v["conflict_path"] in out(
        scratch, "diff", "--name-only", "--diff-filter=U"
    )


# -- cache -----------------------------------------------------------------------------------------
def test_cache_hit_does_not_rebuild(tiny: Fixture, monkeypatch: pytest.MonkeyPatch) -> None:
    cache_dir = tiny.path.parent.parent
    monkeypatch.setattr(build_module, "build_fixture", lambda *a, **k: pytest.fail("rebuilt"))
    again = ensure_fixture(TINY, cache_dir)
    assert again.cached is True
    assert again.model_dump(exclude={"cached"}) == tiny.model_dump(exclude={"cached"})
    assert sorted(p.name for p in cache_dir.iterdir()) == [f"tiny-{tiny.id}"]
    assert sorted(p.name for p in tiny.path.parent.iterdir()) == ["fixture.json", "repo"]


def test_failed_build_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_module, "_FAST_IMPORT", ["git", "fast-import", "--no-such-option"])
    with pytest.raises(FixtureError, match="fast-import failed"):
        ensure_fixture(TINY, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_missing_git_is_a_fixture_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_module.shutil, "which", lambda _name: None)
    with pytest.raises(FixtureError, match="git is not installed") as info:
        ensure_fixture(TINY, tmp_path)
    assert info.value.fix
    assert list(tmp_path.iterdir()) == []


def test_incomplete_directory_is_rebuilt(tmp_path: Path) -> None:
    debris = tmp_path / f"tiny-{spec_id(TINY)}"
    (debris / "repo").mkdir(parents=True)  # e.g. a manual copy without its manifest
    fixture = ensure_fixture(TINY, tmp_path)
    assert fixture.cached is False and (debris / "fixture.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [debris.name]


def test_untuned_fixture_keeps_only_the_base_config(tmp_path: Path) -> None:
    messages: list[str] = []
    fixture = ensure_fixture(
        TINY.model_copy(update={"git_tuning": False}), tmp_path, progress=messages.append
    )
    repo = fixture.path
    assert messages and fixture.vars["head"] == TINY_HEAD  # tuning is config only: same objects
    assert "index.version" not in fixture.tuning and fixture.tuning["gc.auto"] == "0"
    assert out(repo, "config", "maintenance.auto") == "false"
    assert git(repo, "config", "feature.manyFiles", check=False).returncode == 1
    assert not (repo / ".git" / "objects" / "info" / "commit-graph").exists()
    assert out(repo, "status", "--porcelain") == ""
