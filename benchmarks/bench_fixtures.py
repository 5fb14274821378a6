"""Fixture generation time per tier (SPEC §13: medium < 10 s, large < 60 s), cold cache each time.

    uv run python benchmarks/bench_fixtures.py [--tiers small,medium,large] [--repeat N]

Prints a Markdown table: median and min of the repeats' generation seconds, and the repository's
shape. Every repeat builds into a fresh directory; all are deleted at the end (deleting many files
right before a build slows ext4's inode allocation, which would be measured too).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_pipeline.fixtures import TIERS, ensure_fixture, git_version  # noqa: E402

TARGETS = {"medium": 10.0, "large": 60.0}


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiers", default="small,medium,large")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="scratch directory (default: a temp dir)")
    args = parser.parse_args()
    tiers = [t.strip() for t in args.tiers.split(",") if t.strip()]
    unknown = [t for t in tiers if t not in TIERS]
    if unknown:
        parser.error(f"unknown tiers {unknown}; known: {', '.join(TIERS)}")

    scratch = Path(tempfile.mkdtemp(prefix="bench-fixtures-", dir=args.dir))
    print(
        f"git {git_version()}, Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.platform()}"
    )
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n", flush=True)
    rows = []
    try:
        for tier in tiers:
            seconds, walls = [], []
            for i in range(args.repeat):
                started = time.perf_counter()
                fixture = ensure_fixture(TIERS[tier], scratch / f"{tier}-{i}")
                walls.append(time.perf_counter() - started)
                seconds.append(fixture.seconds)
                print(
                    f"  {tier} #{i + 1}: {fixture.seconds:.2f} s (load {os.getloadavg()[0]:.2f})", flush=True
                )
            git_dir = fixture.path / ".git"
            pack = _du(git_dir / "objects")
            tags = subprocess.run(
                ["git", "tag"], cwd=fixture.path, capture_output=True, text=True
            ).stdout.count("\n")
            rows.append((tier, fixture, seconds, walls, pack, tags))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print(
        "| tier | commits | files | HEAD bytes | .git/objects | tags | median s | min s | wall median s | target | ok |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|")
    for tier, fx, seconds, walls, pack, tags in rows:
        target = TARGETS.get(tier)
        median = statistics.median(seconds)
        verdict = "" if target is None else ("yes" if median < target else "NO")
        print(
            f"| {tier} | {fx.commits:,} | {fx.files:,} | {fx.bytes / 1e6:.1f} MB | {pack / 1e6:.0f} MB | {tags} "
            f"| {median:.2f} | {min(seconds):.2f} | {statistics.median(walls):.2f} "
            f"| {'' if target is None else f'< {target:g} s'} | {verdict} |"
        )


if __name__ == "__main__":
    main()
