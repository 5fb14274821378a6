"""A/A placement check (issue 18 item 6): two identical tools must measure the same.

Two local workers ("A" and "B") run the same command (default ``git status`` on two identical
copies of the small fixture), one sample each per round, in a random order per round, while a
busy loop occupies one core. The ratio of their medians should be 1; its 95% bootstrap CI
excluding 1 is what a run would report as a (false) slower/faster verdict.

Scenarios, for the runner of ``--before REV`` (pipes, no placement) and for this tree's runner
(output to memfds; every measured command pinned to the backend's CPU set):

* ``free``: the kernel places the workers (what a run does);
* ``split``: worker A is pinned to the busy core and B to another (the worst placement the
  kernel can pick, held for the whole trial).

    uv run python benchmarks/bench_aa.py [--before 3286191] [--trials 4] [--samples 40] [--cpus 1]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_pipeline.execution.backends import WorkerSpec  # noqa: E402
from bench_pipeline.execution.backends.local import LocalBackend  # noqa: E402
from bench_pipeline.fixtures import ensure_fixture, fixture_for  # noqa: E402
from benchmarks.bench_runner import ENV, worker_at  # noqa: E402

BUSY = "import os, sys\nos.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True:\n    pass\n"


def ratio_ci(
    a: list[float], b: list[float], rng: np.random.Generator, n: int = 2000
) -> tuple[float, float, float]:
    """Ratio of medians A/B with a 95% percentile bootstrap CI (independent resampling of A and B)."""
    xa, xb = np.asarray(a), np.asarray(b)
    ia = rng.integers(0, len(xa), (n, len(xa)))
    ib = rng.integers(0, len(xb), (n, len(xb)))
    boot = np.median(xa[ia], axis=1) / np.median(xb[ib], axis=1)
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return float(np.median(xa) / np.median(xb)), float(lo), float(hi)


def trial(workers, repos, argv, samples: int, rng: random.Random) -> tuple[list[float], list[float]]:
    walls: dict[str, list[float]] = {"A": [], "B": []}
    for name in "AB":  # warmup
        for _ in range(3):
            workers[name].exec(argv, str(repos[name]), ENV, 60)
    for _ in range(samples):
        order = ["A", "B"]
        rng.shuffle(order)
        for name in order:
            walls[name].append(workers[name].exec(argv, str(repos[name]), ENV, 60)["wall_ns"] / 1e6)
    return walls["A"], walls["B"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", metavar="REV", help="also run the runner of this git revision")
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--samples", type=int, default=40, help="per tool and trial")
    parser.add_argument("--busy-cpu", type=int, default=0)
    parser.add_argument("--cpus", help="the measuring CPU set of this tree's runner (default: all)")
    parser.add_argument("--fixture-cache", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    cpus_all = sorted(os.sched_getaffinity(0))
    if len(cpus_all) < 2:
        sys.exit("needs at least 2 CPUs")
    other = next(c for c in cpus_all if c != args.busy_cpu)
    tmp = Path(tempfile.mkdtemp(prefix="bench-aa-"))
    fixture = ensure_fixture(fixture_for("small"), args.fixture_cache or tmp / "fixtures")
    repos = {}
    for name in "AB":
        repos[name] = tmp / f"repo-{name}"
        shutil.copytree(fixture.path, repos[name], symlinks=True)
        subprocess.run(["git", "update-index", "-q", "--refresh"], cwd=repos[name], env=ENV)
    argv = ["git", "status"]
    cpus = [int(c) for c in args.cpus.split(",")] if args.cpus else None
    rng = random.Random(args.seed)
    nrng = np.random.default_rng(args.seed)
    busy = subprocess.Popen([sys.executable, "-c", BUSY, str(args.busy_cpu)])
    runners = ([("before " + args.before, args.before)] if args.before else []) + [("after", None)]
    print(
        f"# A/A `{' '.join(argv)}`, busy loop on CPU {args.busy_cpu}, {args.trials} trials × "
        f"{args.samples} samples per tool, {time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.2f}\n"
    )
    print("| runner | placement | ratio A/B per trial | mean abs(ratio − 1) | trials with CI excluding 1 |")
    print("|---|---|---|---|---|")
    try:
        for scenario in ("free", "split"):
            for label, rev in runners:
                ratios, false_calls = [], 0
                for t in range(args.trials):
                    workers = {}
                    for name in "AB":
                        if rev is None:
                            backend = LocalBackend(tmp / "bin", cpus=cpus)
                            spec = WorkerSpec("aa", name, "r", tmp / "work" / f"{name}{t}", tmp)
                            workers[name] = backend.start_worker(spec)
                        else:
                            workers[name] = worker_at(rev, tmp, f"{name}{t}")
                    if scenario == "split":
                        os.sched_setaffinity(workers["A"].info()["pid"], {args.busy_cpu})
                        os.sched_setaffinity(workers["B"].info()["pid"], {other})
                    a, b = trial(workers, repos, argv, args.samples, rng)
                    for w in workers.values():
                        w.close()
                    r, lo, hi = ratio_ci(a, b, nrng)
                    ratios.append(r)
                    false_calls += not (lo <= 1 <= hi)
                placement = f"{scenario}, commands on " + (
                    "the worker's CPU" if rev is not None else ",".join(map(str, cpus or cpus_all))
                )
                print(
                    f"| {label} | {placement} | {', '.join(f'{r:.3f}' for r in ratios)} | "
                    f"{statistics.mean(abs(r - 1) for r in ratios):.3f} | {false_calls} of {args.trials} |",
                    flush=True,
                )
    finally:
        busy.kill()
        busy.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
