"""Do identical working copies of one fixture time alike? (issue 18 item 6, the A/A `status` bias)

Makes ``--copies`` copies of the small fixture the way a run makes a tool's working copy (the
runner's ``Restorer``, each copy in its own directory), refreshes each index, then times
``--command`` in every copy with ``hyperfine -N`` (3 warmups, ``--runs`` runs a block), every copy
once a round in random order, for ``--rounds`` rounds. For each copy it prints the median of its
block medians, and its median ratio to the round's median over all copies, with how often it sat
above that median. A copy that stays above or below in nearly every round differs by itself: that is
what the A/A check meets on a machine whose copies differ (benchmarks/RESULTS.md, "Where the A/A
bias lives").

``--redeal`` then rewrites every tracked file of every copy to a new inode (copy + rename, copies
in random order, index refreshed) and measures again: the difference moves with the files' inodes.

    uv run python benchmarks/bench_copies.py [--copies 6] [--rounds 20] [--redeal] [--fixture-cache DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_pipeline.execution.runner import Restorer  # noqa: E402
from bench_pipeline.fixtures import ensure_fixture, fixture_for  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_runner import ENV  # noqa: E402  (the same environment as the runner benchmark)


def block(cwd: str, command: str, runs: int) -> float:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        argv = ["hyperfine", "-N", "--warmup", "3", "--runs", str(runs), "--export-json", out.name,
                "--style", "none", command]  # fmt: skip
        subprocess.run(argv, cwd=cwd, env=ENV, check=True, capture_output=True)
        return statistics.median(json.loads(Path(out.name).read_text())["results"][0]["times"])


def measure(copies: list[str], command: str, rounds: int, runs: int, label: str) -> None:
    times: dict[str, list[float]] = {c: [] for c in copies}
    for _ in range(rounds):
        for c in random.sample(copies, len(copies)):
            times[c].append(block(c, command, runs))
    per_round = [statistics.median(times[c][k] for c in copies) for k in range(rounds)]
    print(
        f"\n{label}: `{command}`, {rounds} rounds, round median {statistics.median(per_round) * 1e3:.3f} ms"
    )
    print("copy | median ms | ÷ round median | above it in")
    for i, c in enumerate(copies):
        rel = [t / m for t, m in zip(times[c], per_round, strict=True)]
        print(f"c{i} | {statistics.median(times[c]) * 1e3:.3f} | {statistics.median(rel):.3f} | "
              f"{sum(r > 1 for r in rel)}/{rounds}")  # fmt: skip


def refresh(repo: str) -> None:
    subprocess.run(["git", "update-index", "-q", "--refresh"], cwd=repo, env=ENV, check=False)


def redeal(repo: str) -> None:
    """Every tracked file to a new inode, same bytes, mode and mtime; then the index refreshed."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=repo, env=ENV, capture_output=True, check=True)
    for rel in listed.stdout.decode().split("\0"):
        if rel:
            path = os.path.join(repo, rel)
            shutil.copy2(path, path + ".redeal")
            os.rename(path + ".redeal", path)
    refresh(repo)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--runs", type=int, default=15, help="hyperfine runs per block")
    parser.add_argument("--command", default="git status --porcelain")
    parser.add_argument("--redeal", action="store_true", help="then rewrite the files and measure again")
    parser.add_argument("--fixture-cache", type=Path, help="where the small fixture is (built if missing)")
    args = parser.parse_args()
    if not shutil.which("hyperfine"):
        sys.exit("hyperfine is not installed: apt-get install hyperfine")
    with tempfile.TemporaryDirectory(prefix="bench-copies-", dir=os.environ.get("BENCH_COPIES_DIR")) as tmp:
        fixture = ensure_fixture(fixture_for("small"), args.fixture_cache or Path(tmp) / "fixtures")
        restorer = Restorer()
        copies = [str(Path(tmp) / f"c{i}" / "repo") for i in range(args.copies)]
        for c in copies:
            restorer.restore(str(fixture.path), c)
            refresh(c)
        print(f"{args.copies} copies of {fixture.path} under {tmp}; load {os.getloadavg()[0]:.2f}")
        measure(copies, args.command, args.rounds, args.runs, "as made")
        if args.redeal:
            for c in random.sample(copies, len(copies)):
                redeal(c)
            measure(copies, args.command, args.rounds, args.runs, "every tracked file rewritten")


if __name__ == "__main__":
    main()
