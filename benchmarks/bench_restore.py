"""Fresh state for mutating operations: the runner's ``restore`` against the full copy it replaces.

For each tool's pristine small and medium fixture of the flagship suite, a loop of what a run
does per sample of a mutating operation: restore, then a mutating command (append a line to a
tracked file and commit it, untimed). The restore is timed through a real local worker of this
tree (reflink / hardlink + incremental resync) and, in the same loop, through a worker running
the runner of ``--before REV`` (``rm -rf`` + ``cp -a``). Prints medians and their ratio.

    uv run python benchmarks/bench_restore.py [--before 3286191] [--sizes small,medium] [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_pipeline.builds import plan_tool  # noqa: E402
from bench_pipeline.fixtures.tool import ensure_tool_fixture  # noqa: E402
from bench_pipeline.suite import expand_argv, load_suite_file  # noqa: E402
from benchmarks.bench_runner import ENV, worker_at  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GIT_ENV = {
    **ENV,
    "GIT_AUTHOR_NAME": "b",
    "GIT_AUTHOR_EMAIL": "b@x",
    "GIT_COMMITTER_NAME": "b",
    "GIT_COMMITTER_EMAIL": "b@x",
}


def mutate(suite, tool: str, fixture, root: Path) -> None:
    """The tool's after_restore steps, then what a typical mutating operation leaves behind: an
    edited file and a new commit (untimed)."""
    spec = suite.tools[tool]
    values = {**fixture.vars, "root": str(root), "repo": str(root / spec.workdir), "work": str(root.parent)}
    values |= {
        "src": str(fixture.root / spec.source),
        "tool": tool,
        "operation": "bench",
        "fixture": fixture.size,
    }
    for argv in spec.after_restore:
        subprocess.run(
            expand_argv(argv, values, where="after_restore"),
            cwd=root,
            env=GIT_ENV,
            check=True,
            capture_output=True,
        )
    workdir = root / spec.workdir
    with open(workdir / fixture.vars["path"], "a") as f:
        f.write("edited line\n")
    subprocess.run(["git", "commit", "-q", "-a", "-m", "bench"], cwd=workdir, env=GIT_ENV, check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", metavar="REV", default="3286191", help="the runner to compare with")
    parser.add_argument("--sizes", default="small,medium")
    parser.add_argument("--tools", default="git,git-worktree,jj")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--fixture-cache", type=Path, help="fixture cache (default: a temporary one)")
    args = parser.parse_args()
    suite = load_suite_file(ROOT / "suites" / "vcs.yaml")
    tmp = Path(tempfile.mkdtemp(prefix="bench-restore-"))
    cache = args.fixture_cache or tmp / "fixtures"
    path = os.environ.get("PATH", "/usr/bin:/bin")
    jj = plan_tool(suite, "jj", allow_build=False)
    if jj.bin_dir:
        path = f"{jj.bin_dir}:{path}"
    new, old = worker_at(None, tmp, "new"), worker_at(args.before, tmp, "old")
    df = (
        subprocess.run(["df", "-T", str(tmp)], capture_output=True, text=True).stdout.splitlines()[-1].split()
    )
    print(
        f"# restore: this tree vs {args.before} (rm -rf + cp -a), {df[1]} work directory, "
        f"{args.runs} samples, {time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.2f}\n"
    )
    print(
        "| fixture | tool | files | cp -a (before) | method | first restore | resync after a commit | ratio |"
    )
    print("|---|---|---|---|---|---|---|---|")
    try:
        for size in args.sizes.split(","):
            for tool in args.tools.split(","):
                if tool == "jj" and not jj.bin_dir and not shutil.which("jj"):
                    continue
                fixture = ensure_tool_fixture(suite, tool, size, cache, path=path)
                files = sum(len(f) for _, _, f in os.walk(fixture.root))
                times: dict[str, list[float]] = {"old": [], "new": []}
                first = None
                method = ""
                for i in range(args.runs + 1):
                    for name, worker in (("new", new), ("old", old)):
                        dst = Path(worker.work_root) / size / tool / "mutable"
                        start = time.perf_counter()
                        reply = worker.restore(str(fixture.root), str(dst))
                        took = time.perf_counter() - start
                        if name == "new":
                            method = reply["method"]
                            if i == 0:
                                first = took
                        if i > 0:
                            times[name].append(took)
                        mutate(suite, tool, fixture, dst)
                o, n = statistics.median(times["old"]), statistics.median(times["new"])
                print(
                    f"| {size} | {tool} | {files:,} | {o * 1e3:.1f} ms | {method} | {(first or 0) * 1e3:.0f} ms | "
                    f"{n * 1e3:.1f} ms | {n / o:.2f} |",
                    flush=True,
                )
    finally:
        new.close()
        old.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
