"""The flagship suite's verdict yield: quick and full small runs, measured end to end.

Runs ``bench-pipeline run --suite vcs`` (the README's command, through Dagster in-process) in a fresh
home and prints, per run: the wall time of the whole command, the share of wall-time tool-pair
comparisons that are conclusive (slower, faster or equivalent), the verdict counts, the measuring
duty cycle (timed seconds / seconds of the rounds), the samples per measured cell and the restore
method of fresh state. The fixture cache and the tool cache are shared, so one-time builds
(fixtures, images, jj) are not counted.

    uv run python benchmarks/bench_flagship.py [--which quick full] [--backend local]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent


def run(which: str, backend: str, fixture_cache: Path, suite: str = "vcs") -> dict:
    home = Path(tempfile.mkdtemp(prefix=f"bench-flagship-{which}-"))
    args = ["run", "--suite", suite, "--backend", backend, "--json"] + (
        ["--quick"] if which == "quick" else []
    )
    env = {**os.environ, "BENCH_PIPELINE_HOME": str(home), "BENCH_PIPELINE_FIXTURE_CACHE": str(fixture_cache)}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "bench_pipeline", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    seconds = time.monotonic() - started
    if proc.returncode not in (0, 3):
        raise SystemExit(f"{which} run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    con = duckdb.connect(str(home / "bench.duckdb"), read_only=True)
    verdicts = dict(
        con.execute(
            "SELECT verdict, count(*) FROM comparisons WHERE run_id = ? AND metric = 'wall' GROUP BY 1",
            [out["run_id"]],
        ).fetchall()
    )
    measuring = json.loads(
        con.execute("SELECT measuring FROM runs WHERE run_id = ?", [out["run_id"]]).fetchone()[0]
    )
    per_cell = [
        n for (n,) in con.execute(
            "SELECT n_ok FROM run_cells WHERE run_id = ? AND status = 'measured'", [out["run_id"]]
        ).fetchall()
    ]  # fmt: skip
    con.close()
    total = sum(verdicts.values())
    conclusive = sum(verdicts.get(v, 0) for v in ("slower", "faster", "equivalent"))
    return {
        "run": which,
        "wall_s": round(seconds, 1),
        "comparisons": total,
        "conclusive": conclusive,
        "conclusive_share": round(conclusive / total, 3) if total else None,
        "verdicts": verdicts,
        "duty_cycle": measuring.get("duty_cycle"),
        "measuring_s": measuring.get("measuring_seconds"),
        "rounds": measuring.get("rounds"),
        "samples_per_cell_median": statistics.median(per_cell) if per_cell else None,
        "restore_methods": measuring.get("restore_methods"),
        "budget_stopped": measuring.get("budget_stopped"),
        "home": str(home),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--which", nargs="+", default=["quick", "full"], choices=["quick", "full"])
    parser.add_argument("--backend", default="local")
    parser.add_argument(
        "--suite", default="vcs", help="a variant of the flagship suite (a path), e.g. with cpus: 1"
    )
    parser.add_argument(
        "--fixture-cache", type=Path, default=Path(tempfile.gettempdir()) / "bench-flagship-fixtures"
    )
    args = parser.parse_args()
    print(f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}, backend {args.backend}, suite {args.suite}")  # fmt: skip
    rows = [run(which, args.backend, args.fixture_cache, args.suite) for which in args.which]
    print("| run | wall s | conclusive | slower / faster / equivalent / inconclusive | duty cycle | rounds | "
          "samples per cell (median) | restore |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        v = r["verdicts"]
        print(
            f"| {r['run']} | {r['wall_s']} | {r['conclusive']}/{r['comparisons']} ({r['conclusive_share']:.0%}) | "
            f"{v.get('slower', 0)} / {v.get('faster', 0)} / {v.get('equivalent', 0)} / {v.get('inconclusive', 0)} | "
            f"{r['duty_cycle']:.0%} | {r['rounds']} | {r['samples_per_cell_median']} | "
            f"{', '.join(f'{k} {n}' for k, n in (r['restore_methods'] or {}).items()) or '–'} |"
        )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
