"""The fleet against one host: wall time of the flagship suite (git, git-worktree, quick, small and
medium) measured on two fleet hosts in parallel — small on host A, medium on host B, 1 CPU and 2 GiB
each — against the same selection on one host.

One host is measured two ways: the fleet with both sizes placed on host A (the same kind of host,
1 CPU), and this machine itself (`bench-pipeline run --backend local`, both cores). Run counts are
fixed (``--runs`` timed runs per cell after one warmup) so every variant does the same work.
Starts PostgreSQL, Redis and the host containers like tests/integration/test_fleet.py, and
removes them afterwards.

    uv run python benchmarks/bench_fleet.py [--runs 3] [--repeat 2]

Each fleet variant runs ``--repeat`` times, alternating; the table shows medians.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration import fleet_services as fs  # noqa: E402

TOOLS = ["git", "git-worktree"]


def suite_dir(tmp: Path, runs: int) -> Path:
    data = yaml.safe_load((ROOT / "suites" / "vcs.yaml").read_text())
    data["quick"] = {**data["quick"], "warmup": 1, "min_runs": runs, "max_runs": runs, "time_budget_s": 900}
    out = tmp / "suites"
    out.mkdir()
    (out / "vcs.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def fleet_run(placement: dict[str, list[str]]) -> tuple[float, dict]:
    from bench_pipeline.interfaces.fleet import run_fleet

    started = time.monotonic()
    result = run_fleet("vcs", placement, tools=TOOLS, quick=True)
    seconds = time.monotonic() - started
    if not result.success:
        raise SystemExit(f"fleet run failed: {result.as_json()}")
    return seconds, result.as_json()


def measuring_seconds(home: Path, run_ids: list[str]) -> float:
    """From the first run's start to the last run's end of measuring (the runs table)."""
    import duckdb

    con = duckdb.connect(str(home / "bench.duckdb"), read_only=True)
    try:
        lo, hi = con.execute(
            "SELECT min(started_at), max(finished_at) FROM runs WHERE list_contains(?, run_id)", [run_ids]
        ).fetchone()  # type: ignore[misc]
    finally:
        con.close()
    return (hi - lo).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3, help="timed runs per cell (after one warmup)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each fleet variant, alternating")
    args = parser.parse_args()
    if why := fs.missing():
        raise SystemExit(why)
    tmp = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    tmp.chmod(0o755)
    try:
        run_all(tmp, args.runs, args.repeat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_all(tmp: Path, runs: int, repeat: int) -> None:
    """Start the services and hosts in ``tmp``, measure every variant, print the table."""
    suites = suite_dir(tmp, runs)
    cache = tmp / "fixture-cache"
    cache.mkdir()
    image = fs.worker_image(progress=lambda _m: None)
    fs.remove_leftovers()
    rows = []
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(fs.postgres())
        broker = stack.enter_context(fs.redis(tmp))
        home = tmp / "home"
        (home / "landing").mkdir(parents=True)
        (home / "dagster").mkdir(parents=True)
        env = {
            "BENCH_PIPELINE_PROFILE": "fleet",
            "BENCH_PIPELINE_POSTGRES_URL": pg,
            "BENCH_PIPELINE_BROKER": broker,
            "BENCH_PIPELINE_SUITES": str(suites),
            "BENCH_PIPELINE_LANDING": str(home / "landing"),
            "BENCH_PIPELINE_FIXTURE_CACHE": str(cache),
            "DAGSTER_HOME": str(home / "dagster"),
        }
        os.environ.update({**env, "BENCH_PIPELINE_HOME": str(home)})
        for name, host_class, cpuset in (("host-a", "bench-a", "0"), ("host-b", "bench-b", "1")):
            local = tmp / name
            local.mkdir()
            host = fs.Host(image, name, host_class, cpuset, env, [home / "landing", home / "dagster", suites, cache],
                           local_home=local)  # fmt: skip
            stack.callback(host.remove)
            host.wait_ready(broker, timeout_s=120)
        # warm the fixture cache once (generation is not what is compared)
        fleet_run({"bench-a": ["small"], "bench-b": ["medium"]})
        variants = {
            "fleet: small on host A ‖ medium on host B (1 CPU each)": {
                "bench-a": ["small"],
                "bench-b": ["medium"],
            },
            "fleet: small + medium on host A (1 CPU)": {"bench-a": ["small", "medium"]},
        }
        seen: dict[str, list[tuple[float, float]]] = {label: [] for label in variants}
        for _ in range(repeat):  # alternating, so drift of the machine reaches both alike
            for label, placement in variants.items():
                wall, result = fleet_run(placement)
                seen[label].append((wall, measuring_seconds(home, [r["run_id"] for r in result["runs"]])))
        for label, values in seen.items():
            walls, measurings = [w for w, _ in values], [m for _, m in values]
            rows.append((label, statistics.median(walls), statistics.median(measurings)))
            print(f"{label}: wall {walls}, measuring {measurings}", flush=True)
    local_home = tmp / "local"
    local_env = {k: v for k, v in os.environ.items() if k not in env} | {
        "BENCH_PIPELINE_HOME": str(local_home),
        "BENCH_PIPELINE_SUITES": str(suites),
        "BENCH_PIPELINE_FIXTURE_CACHE": str(cache),
    }
    argv = [
        sys.executable,
        "-m",
        "bench_pipeline",
        "run",
        "--suite",
        "vcs",
        "--quick",
        "--backend",
        "local",
        "--json",
    ]
    argv += [a for t in TOOLS for a in ("--tool", t)] + ["--size", "small", "--size", "medium"]
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=local_env, capture_output=True, text=True, timeout=1800)
    local = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    run_id = json.loads(proc.stdout.strip().splitlines()[-1])["run_id"]
    rows.append(
        (
            "this machine: small + medium (local backend, 2 cores)",
            local,
            measuring_seconds(local_home, [run_id]),
        )
    )
    print(f"# vcs quick, git + git-worktree, small and medium, 1 warmup + {runs} timed runs per cell\n")
    print(
        "| variant | wall s (measure + ingest + report; median) | measuring s (first start → last end; median) |"
    )
    print("|---|---|---|")
    for label, wall, measuring in rows:
        print(f"| {label} | {wall:.1f} | {measuring:.1f} |")
    base_wall, base_measuring = rows[0][1], rows[0][2]
    for label, wall, measuring in rows[1:]:
        print(
            f"\n{label}: wall {wall / base_wall:.2f}× the two-host run's, measuring {measuring / base_measuring:.2f}×"
        )


if __name__ == "__main__":
    main()
