"""Adaptive run counts, measured: the same suite run repeatedly; from the fourth run on, each
cell's min_runs follows its historical CV (bench_pipeline.execution.adaptive.suggested_min_runs).

Prints, per run: timed samples, seconds of measuring, and the largest relative half-width of the
median's 95% CI among cells that stopped by converging (must stay ≤ target_ci).

    uv run python benchmarks/bench_adaptive.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SUITE = """
name: adaptive
settings: {warmup: 1, min_runs: 15, max_runs: 25, target_ci: 0.02, time_budget_s: 600, timeout_s: 30,
           sizes: [small], adaptive_runs: true}
tools:
  git: {version: [git, --version], requires: [git]}
operations:
  - name: status
    commands: {git: {run: [git, status]}}
  - name: log-n
    commands: {git: {run: [git, log, -n20, "--format=%H"]}}
  - name: pause-10ms
    commands: {git: {run: [sleep, "0.01"]}}
  - name: pause-30ms
    commands: {git: {run: [sleep, "0.03"]}}
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-adaptive-"))
    os.environ["BENCH_PIPELINE_HOME"] = str(tmp / "home")
    from bench_pipeline.analysis import update_cell_stats, update_flags
    from bench_pipeline.execution.suite_run import RunRequest, run_suite
    from bench_pipeline.store import Store
    from bench_pipeline.suite import load_suite_file

    (tmp / "adaptive.yaml").write_text(SUITE)
    suite = load_suite_file(tmp / "adaptive.yaml")
    store = Store()
    print("| run | adaptive cells | timed samples | measuring s | max CI half-width of converged cells |")
    print("|---|---|---|---|---|")
    for i in range(1, args.runs + 1):
        notes: list[str] = []
        outcome = run_suite(RunRequest(suite=suite, backend="local"), store=store, progress=notes.append)
        store.load_landing()
        update_flags(store, "adaptive", "git")
        update_cell_stats(store, "adaptive", "git")
        widths = store.query(
            """SELECT max((s.ci_high - s.ci_low) / 2 / s.median) AS w FROM cell_stats s
               JOIN run_cells c USING (run_id, tool, operation, fixture)
               WHERE s.run_id = ? AND s.metric = 'wall' AND c.stop = 'converged'""",
            [outcome.run_id],
        ).item()
        adaptive = next((n.split()[6] for n in notes if n.startswith("adaptive run counts")), "0")
        width = f"{widths:.2%}" if widths is not None else "–"
        print(f"| {i} | {adaptive} | {outcome.samples} | {outcome.seconds:.1f} | {width} |")


if __name__ == "__main__":
    main()
