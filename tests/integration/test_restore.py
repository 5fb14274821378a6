"""Fresh state for mutating operations (runner ``restore``): exact, cheap, and never through to the pristine tree.

The first group builds small trees by hand and undoes every kind of change a command can make
(in place, same size, in the same clock tick as the restore, type changes, modes, links). The
last test runs every mutating operation of ``suites/vcs.yaml`` for git, git-worktree and jj
through a real local worker (``sample``: restore, after_restore, prepare, exec, conclude) and
checks that the pristine tree is byte-identical afterwards and the next restore reproduces it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path, PurePosixPath

import pytest

from bench_pipeline.execution.backends import WorkerSpec
from bench_pipeline.execution.backends.local import LocalBackend
from bench_pipeline.execution.runner import Restorer
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

GIT_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_AUTHOR_NAME": "a",
    "GIT_AUTHOR_EMAIL": "a@x",
    "GIT_COMMITTER_NAME": "a",
    "GIT_COMMITTER_EMAIL": "a@x",
    "HOME": "/nonexistent",
}


def state(root: Path, *, mtimes: bool = True) -> dict[str, tuple]:
    """Every entry below ``root``: type, mode, content hash (files), target (symlinks), mtime."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            when = (st.st_mtime_ns,) if mtimes else ()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", st.st_mode, *when)
            else:
                digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
                out[rel] = ("file", st.st_mode, digest, *when)
    return out


def differences(a: dict[str, tuple], b: dict[str, tuple]) -> list[str]:
    return [f"{k}: {a.get(k)} != {b.get(k)}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)][:10]


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def pristine(tmp_path: Path) -> Path:
    """A repository with packed and loose objects, a symlink, nested directories and odd modes."""
    root = tmp_path / "pristine"
    repo = root / "repo"
    (repo / "a" / "b").mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=repo)
    for i in range(3):
        (repo / "a" / "b" / f"f{i}.txt").write_text(f"file {i}\n" * 50)
        git("add", "-A", cwd=repo)
        git("commit", "-q", "-m", f"c{i}", cwd=repo)
    git("gc", "-q", cwd=repo)
    (repo / "loose.txt").write_text("loose\n")
    git("add", "loose.txt", cwd=repo)
    git("commit", "-q", "-m", "loose", cwd=repo)  # loose objects next to the pack
    (repo / "link").symlink_to("a/b/f0.txt")
    (repo / "run.sh").write_text("#!/bin/sh\n")
    (repo / "run.sh").chmod(0o755)
    (root / "top.txt").write_text("top\n")
    return root


def _staged(parent: Path) -> list[Path]:
    return [p for p in parent.iterdir() if p.name.startswith(".bench-pristine-")]


def test_first_restore_links_the_objects_of_a_private_staged_copy(pristine, tmp_path):
    """Links never reach the fixture cache: they come from this worker's staged copy."""
    if _reflink_works(tmp_path):
        pytest.skip("this filesystem clones files: reflink is chosen")
    links_before = {p: p.stat().st_nlink for p in pristine.rglob("*") if p.is_file()}
    dst = tmp_path / "work" / "copy"
    reply = Restorer().restore(str(pristine), str(dst))
    assert reply["method"] == "hardlink" and not reply["incremental"]
    assert state(dst) == state(pristine)
    (staged,) = _staged(dst.parent)
    assert state(staged) == state(pristine)
    objects = [p for p in (dst / "repo/.git/objects").rglob("*") if p.is_file() and "info" not in p.parts]
    assert reply["linked"] == len(objects) > 4
    for path in objects:
        assert path.stat().st_ino == (staged / path.relative_to(dst)).stat().st_ino
        assert not path.stat().st_mode & 0o222, f"{path} is linked but writable"
    for name in ("repo/.git/index", "repo/.git/HEAD", "repo/a/b/f0.txt", "top.txt"):
        assert (dst / name).stat().st_ino != (staged / name).stat().st_ino
    assert {p: p.stat().st_nlink for p in pristine.rglob("*") if p.is_file()} == links_before
    assert git("fsck", "--strict", cwd=dst / "repo") == ""


def test_git_freshening_a_linked_object_is_put_back(pristine, tmp_path):
    """git bumps the mtime of objects it would write again (``utime``): shared through the link,
    so the resync restores the recorded mtime; the content never changes."""
    dst = tmp_path / "work" / "copy"
    restorer = Restorer()
    restorer.restore(str(pristine), str(dst), method="hardlink")
    (staged,) = _staged(dst.parent)
    expected = state(staged)
    _git_commit(dst)
    assert state(staged, mtimes=False) == state(pristine, mtimes=False)
    restorer.restore(str(pristine), str(dst), method="hardlink")
    assert state(staged) == expected and state(dst) == state(pristine)


def test_copy_method_shares_nothing(pristine, tmp_path):
    dst = tmp_path / "work" / "copy"
    reply = Restorer().restore(str(pristine), str(dst), method="copy")
    assert reply["method"] == "copy" and reply["linked"] == 0
    inodes = {p.stat().st_ino for p in pristine.rglob("*") if p.is_file() and not p.is_symlink()}
    assert not inodes & {p.stat().st_ino for p in dst.rglob("*") if p.is_file() and not p.is_symlink()}
    assert state(dst) == state(pristine)


def _append(d: Path) -> None:
    with open(d / "repo/a/b/f1.txt", "a") as f:
        f.write("more\n")


def _same_size_in_place(d: Path) -> None:
    with open(d / "repo/a/b/f1.txt", "r+b") as f:  # same size, same inode: only ctime tells
        f.write(b"FILE")


def _chmod_dir(d: Path) -> None:
    (d / "repo/a").chmod(0o500)


def _file_to_dir(d: Path) -> None:
    (d / "top.txt").unlink()
    (d / "top.txt").mkdir()
    (d / "top.txt" / "inner").write_text("x")


def _dir_to_symlink(d: Path) -> None:
    shutil.rmtree(d / "repo/a/b")
    (d / "repo/a/b").symlink_to("/tmp")


def _retarget(d: Path) -> None:
    (d / "repo/link").unlink()
    (d / "repo/link").symlink_to("a/b/f2.txt")


def _old_mtime(d: Path) -> None:
    os.utime(d / "repo/a/b/f0.txt", ns=(0, 0))


def _hard_link_then_edit(d: Path) -> None:
    os.link(d / "repo/a/b/f2.txt", d / "alias")
    with open(d / "alias", "r+b") as f:
        f.write(b"X")


def _drop_an_object(d: Path) -> None:
    pack = next((d / "repo/.git/objects/pack").glob("*.pack"))
    pack.unlink()


def _git_gc(d: Path) -> None:
    git("gc", "-q", "--prune=now", cwd=d / "repo")


def _git_commit(d: Path) -> None:
    _append(d)
    git("commit", "-q", "-am", "more", cwd=d / "repo")


def _commit_then_gc(d: Path) -> None:
    """The commit freshens linked objects (utime through the link), gc then deletes those links."""
    _git_commit(d)
    _git_gc(d)


CHANGES = {
    f.__name__.lstrip("_"): f
    for f in (
        _append,
        _same_size_in_place,
        _chmod_dir,
        _file_to_dir,
        _dir_to_symlink,
        _retarget,
        _old_mtime,
        _hard_link_then_edit,
        _drop_an_object,
        _git_gc,
        _git_commit,
        _commit_then_gc,
    )
}


@pytest.mark.parametrize("change", CHANGES)
def test_an_incremental_restore_undoes_every_kind_of_change(pristine, tmp_path, change):
    dst = tmp_path / "work" / "copy"
    restorer = Restorer()
    restorer.restore(str(pristine), str(dst))
    before = state(pristine)
    restorer.restore(str(pristine), str(dst))  # resynced: its record is what the change must break
    CHANGES[change](dst)  # right after the restore, usually within the same clock tick
    reply = restorer.restore(str(pristine), str(dst))
    assert reply["incremental"]
    assert state(dst) == before, differences(state(dst), before)
    assert state(pristine) == before, "the change went through to the pristine tree"
    for staged in _staged(dst.parent):
        assert state(staged) == before, differences(state(staged), before)


def test_changes_in_the_same_clock_tick_as_the_restore_are_seen(pristine, tmp_path):
    """Timestamps are coarse: a same-size in-place write right after a restore may keep the ctime the
    restore recorded. Entries written in the restore's last tick are never trusted (stamp rule)."""
    dst = tmp_path / "work" / "copy"
    restorer = Restorer()
    restorer.restore(str(pristine), str(dst))
    expected = state(pristine)
    for i in range(40):
        reply = restorer.restore(str(pristine), str(dst))
        with open(dst / "repo/a/b/f0.txt", "r+b") as f:
            f.write(b"%04d" % i)
        if i % 2:
            with open(dst / "repo/.git/HEAD", "r+b") as f:
                f.write(b"x")
    reply = restorer.restore(str(pristine), str(dst))
    assert reply["incremental"] and state(dst) == expected


def test_an_unchanged_copy_is_kept_whole(pristine, tmp_path):
    """Entries a restore wrote in its last clock tick are racy and replaced by the next restore (which
    may write some of them in its own last tick again, on a busy machine); within a few restores
    nothing is left to replace, and then everything is kept."""
    dst = tmp_path / "work" / "copy"
    restorer = Restorer()
    first = restorer.restore(str(pristine), str(dst))
    replies = []
    for _ in range(5):
        time.sleep(0.05)  # past the last restore's clock tick
        replies.append(restorer.restore(str(pristine), str(dst)))
        if replies[-1]["copied"] == 0:
            break
    again = replies[-1]
    assert again["incremental"] and again["copied"] == again["removed"] == 0 and again["kept"] > 10, replies
    written = first["copied"] + first["linked"]
    assert all(r["copied"] < written / 2 and r["removed"] == 0 for r in replies), [
        {k: r[k] for k in ("copied", "removed", "kept", "linked")} for r in (first, *replies)
    ]  # only the racy few are replaced


def test_an_unavailable_method_is_an_error_not_a_silent_copy(pristine, tmp_path):
    if _reflink_works(tmp_path):
        pytest.skip("this filesystem clones files")
    with pytest.raises(OSError, match="reflink does not work here"):
        Restorer().restore(str(pristine), str(tmp_path / "work" / "copy"), method="reflink")


def _reflink_works(where: Path) -> bool:
    a, b = where / ".probe-a", where / ".probe-b"
    a.write_text("x")
    try:
        return subprocess.run(["cp", "--reflink=always", a, b], capture_output=True).returncode == 0
    finally:
        for p in (a, b):
            p.unlink(missing_ok=True)


def test_reflink_where_the_filesystem_clones(pristine):
    """Set BENCH_REFLINK_DIR to a directory on XFS or btrfs to run this (e.g. a loop-mounted image)."""
    where = os.environ.get("BENCH_REFLINK_DIR")
    if not where or not _reflink_works(Path(where)):
        pytest.skip("BENCH_REFLINK_DIR does not name a directory on a filesystem with reflinks")
    base = Path(where) / f"restore-{os.getpid()}"
    try:
        src = base / "pristine"
        shutil.copytree(pristine, src, symlinks=True)
        dst = base / "work" / "copy"
        restorer = Restorer()
        assert restorer.restore(str(src), str(dst))["method"] == "reflink"
        assert state(dst) == state(src)
        _git_commit(dst)
        reply = restorer.restore(str(src), str(dst))
        assert (reply["method"], reply["incremental"], reply["linked"]) == ("reflink", True, 0)
        assert state(dst) == state(src)
    finally:
        shutil.rmtree(base, ignore_errors=True)


# -- the flagship suite's mutating operations, through a real worker


def _jj_bin_dir(suite) -> str | None:
    from bench_pipeline.builds import plan_tool

    status = plan_tool(suite, "jj", allow_build=False)
    if status.action not in ("installed", "cached"):
        return None
    return str(status.bin_dir) if status.bin_dir else os.path.dirname(shutil.which("jj") or "") or None


@pytest.fixture(scope="module")
def flagship(tmp_path_factory):
    from bench_pipeline.suite import load_suite_file

    suite = load_suite_file(ROOT / "suites" / "vcs.yaml")
    return suite, tmp_path_factory.mktemp("flagship")


@pytest.mark.slow
@pytest.mark.parametrize("tool", ["git", "git-worktree", pytest.param("jj", marks=pytest.mark.jj)])
def test_flagship_mutating_operations_never_reach_the_pristine_tree(flagship, tool):
    from bench_pipeline.fixtures.tool import ensure_tool_fixture
    from bench_pipeline.suite import expand, expand_argv
    from bench_pipeline.suite.determinism import command_env

    suite, tmp = flagship
    path = os.environ.get("PATH", "/usr/bin:/bin")
    if tool == "jj":
        bin_dir = _jj_bin_dir(suite)
        if bin_dir is None:
            pytest.skip("jj is not installed (bench-pipeline build --suite vcs)")
        path = f"{bin_dir}:{path}"
    fixture = ensure_tool_fixture(suite, tool, "small", tmp / "fixtures", path=path)
    pristine = fixture.root
    spec = suite.tools[tool]
    work = tmp / "work" / tool
    backend = LocalBackend(tmp / "bin")
    with backend.start_worker(
        WorkerSpec(suite="vcs", tool=tool, run_id="r", work_dir=work, fixture_dir=pristine.parent)
    ) as worker:
        root = str(work / "small" / "mutable")
        seed = 0

        def env(values):
            nonlocal seed
            seed += 1
            return command_env(
                suite,
                tool,
                home=str(work / "home"),
                path=path,
                seed=seed,
                values=values,
                backend_env=worker.env,
            )

        expected = state(pristine)
        content = state(pristine, mtimes=False)
        ops = [op for op in suite.expanded_operations() if op.mutating and tool in op.commands]
        assert len(ops) >= 25
        methods = set()
        for op in ops:
            cmd = op.commands[tool]
            values = {
                **fixture.vars,
                "root": root,
                "repo": str(PurePosixPath(root) / spec.workdir),
                "work": worker.work_root,
                "src": str(PurePosixPath(pristine) / spec.source),
                "tool": tool,
                "operation": op.name,
                "fixture": "small",
                **{k: str(v) for k, v in op.param_values.items()},
            }
            where = f"{op.name}/{tool}"
            cwd = expand(cmd.cwd, values, where=where) if cmd.cwd else values["repo"]
            after = [
                {"argv": expand_argv(a, values, where=where), "cwd": root, "env": env(values)}
                for a in spec.after_restore
            ]
            steps = cmd.prepare if cmd.prepare is not None else op.prepare
            prepare = [{"argv": expand_argv(a, values, where=where), "env": env(values)} for a in steps]
            ends = cmd.conclude if cmd.conclude is not None else op.conclude
            conclude = [{"argv": expand_argv(a, values, where=where), "env": env(values)} for a in ends]
            ex = worker.exec_request(
                expand_argv(cmd.argv(), values, where=where),
                cwd,
                env(values),
                120,
                expect_exit=cmd.expect_exit,
            )
            reply = worker.sample(
                ex, restore={"src": str(pristine), "dst": root}, prepare=after + prepare, conclude=conclude
            )
            methods.add(reply["restore"]["method"])
            assert reply["failed"] is None, (where, reply["prepare"], reply["conclude"])
            assert reply["exec_ok"], (where, reply["exec"]["exit_code"], reply["exec"]["stderr_tail"])
            now = state(pristine)
            assert now == expected, (where, differences(now, expected))
            # what the copy's links share: this worker's staged copy of the pristine tree; its
            # bytes never change (git may freshen an object's mtime through a link)
            staged = _staged(Path(root).parent)
            for tree in staged:
                now = state(tree, mtimes=False)
                assert now == content, (where, differences(now, content))
            # and the next restore gives back exactly the pristine tree, mtimes included
            again = worker.restore(str(pristine), root)
            assert again["incremental"]
            for tree in [Path(root), *staged]:
                now = state(tree)
                assert now == expected, (where, tree.name, differences(now, expected))
        assert methods == {"hardlink"} or methods <= {"reflink", "copy"}
        assert bool(staged) == (methods == {"hardlink"})


# -- the same inside a container: fixtures on another (read-only) mount, placement by cpuset


@pytest.fixture(scope="module")
def docker_backend(tmp_path_factory):
    from bench_pipeline.errors import BackendUnavailable
    from bench_pipeline.execution import images
    from bench_pipeline.execution.backends.docker import DockerBackend

    try:
        client = images.docker_client(timeout=30)
    except BackendUnavailable as exc:
        pytest.skip(f"no Docker engine answers ({exc.message})")
    return DockerBackend(
        bin_dir=tmp_path_factory.mktemp("bin"), client=client, cpus=[max(os.sched_getaffinity(0))]
    )


@pytest.mark.docker
@pytest.mark.slow
def test_restore_in_a_container_links_from_a_staged_copy(docker_backend, pristine, tmp_path):
    spec = WorkerSpec(
        suite="t", tool="git", run_id="restore", work_dir=tmp_path / "work", fixture_dir=pristine.parent
    )
    with docker_backend.start_worker(spec) as worker:
        src, dst = f"{worker.fixture_root}/pristine", f"{worker.work_root}/copy"
        first = worker.restore(src, dst)
        assert (first["method"], first["incremental"]) == ("hardlink", False) and first["linked"] > 4
        assert state(tmp_path / "work" / "copy") == state(pristine)
        env = {**GIT_ENV, **worker.env, "PATH": worker.path, "HOME": "/tmp"}
        commit = "printf 'more\\n' >> a/b/f1.txt && git commit -q -am more && git gc -q --prune=now"
        assert worker.exec(["sh", "-c", commit], f"{dst}/repo", env, 60)["exit_code"] == 0
        # a linked object cannot be written by the (non-root, capability-less) container user
        pack = next((tmp_path / "work" / "copy" / "repo/.git/objects/pack").glob("*.pack")).name
        denied = worker.exec(["sh", "-c", f"echo x >> .git/objects/pack/{pack}"], f"{dst}/repo", env, 60)
        assert denied["exit_code"] != 0 and "Permission denied" in denied["stderr_tail"]
        again = worker.restore(src, dst)
        assert again["method"] == "hardlink" and again["incremental"]
        assert state(tmp_path / "work" / "copy") == state(pristine)
        staged = _staged(tmp_path / "work")
        assert len(staged) == 1 and state(staged[0]) == state(pristine)


@pytest.mark.docker
@pytest.mark.slow
def test_container_commands_get_the_backends_cpu_set(docker_backend, tmp_path):
    from bench_pipeline.errors import BackendUnavailable
    from bench_pipeline.execution.backends.docker import DockerBackend

    last = max(os.sched_getaffinity(0))
    spec = WorkerSpec(suite="t", tool="git", run_id="cpus", work_dir=tmp_path / "work", fixture_dir=tmp_path)
    with docker_backend.start_worker(spec) as worker:
        assert worker.cpus == [last] and docker_backend.describe()["cpus"] == str(last)
        assert worker.info()["cpus_allowed"] == [last]  # the container's cpuset
        check = f'test "$(grep ^Cpus_allowed_list /proc/self/status | cut -f2)" = {last}'
        assert worker.exec(["sh", "-c", check], worker.work_root, {"PATH": worker.path}, 30)["exit_code"] == 0
    too_many = DockerBackend(bin_dir=tmp_path / "bin", client=docker_backend.client, cpus=[4095])
    with pytest.raises(BackendUnavailable, match="4095"):
        too_many.start_worker(spec)
