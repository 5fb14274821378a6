"""Container overhead, measured: `git status` (and `git log -n20`) on the small vcs fixture,
local backend vs Docker backend, in alternating blocks within one run of this script.

    uv run python benchmarks/bench_backends.py [--runs 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path, PurePosixPath

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_pipeline import paths  # noqa: E402
from bench_pipeline.execution.backends import WorkerSpec  # noqa: E402
from bench_pipeline.execution.backends.local import LocalBackend  # noqa: E402
from bench_pipeline.fixtures.tool import ensure_tool_fixture, tool_fixture_dir  # noqa: E402
from bench_pipeline.suite import find_suite  # noqa: E402
from bench_pipeline.suite.determinism import command_env  # noqa: E402

COMMANDS = {"git status": ["git", "status"], "git log -n20": ["git", "log", "-n20", "--format=%H"]}


def medians(worker, tf, suite, runs: int) -> dict[str, float]:
    root = str(PurePosixPath(worker.work_root) / "copy")
    worker.restore(str(PurePosixPath(worker.fixture_root) / tf.dir_name / "root"), root)
    repo = str(PurePosixPath(root) / "repo")
    env = command_env(
        suite, "git", home=str(PurePosixPath(worker.work_root) / "home"), path=worker.path, seed=1, values={}
    )
    out = {}
    for label, argv in COMMANDS.items():
        for _ in range(5):
            worker.exec(argv, repo, env, 60)
        out[label] = statistics.median(worker.exec(argv, repo, env, 60)["wall_ns"] for _ in range(runs)) / 1e6
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from bench_pipeline.execution.backends.docker import DockerBackend

    suite = find_suite("vcs")
    tf = ensure_tool_fixture(suite, "git", "small", paths.fixtures_dir())
    tmp = Path(tempfile.mkdtemp())
    backends = {"local": LocalBackend(tmp / "bin"), "docker": DockerBackend(bin_dir=tmp / "bin")}
    print(
        f"# git on the small fixture: local vs docker ({backends['docker'].check()}), "
        f"{args.runs} runs × {args.rounds} rounds, medians in ms\n"
    )
    results: dict[str, dict[str, list[float]]] = {name: {c: [] for c in COMMANDS} for name in backends}
    for r in range(args.rounds):
        for name, backend in backends.items():
            spec = WorkerSpec(
                "vcs",
                "git",
                f"bench-{r}",
                tmp / f"work-{name}-{r}",
                tool_fixture_dir(paths.fixtures_dir(), "vcs", "git"),
                profile="medium",
            )
            with backend.start_worker(spec) as worker:
                for label, value in medians(worker, tf, suite, args.runs).items():
                    results[name][label].append(value)
    print("| command | local median | docker median | docker / local |")
    print("|---|---|---|---|")
    for label in COMMANDS:
        loc, dock = statistics.median(results["local"][label]), statistics.median(results["docker"][label])
        print(f"| `{label}` | {loc:.3f} ms | {dock:.3f} ms | {dock / loc:.3f} |")


if __name__ == "__main__":
    main()
