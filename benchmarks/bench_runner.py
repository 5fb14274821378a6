"""Runner overhead and accuracy, side by side with ``hyperfine -N`` (no shell) in one script.

For each command, alternate blocks of hyperfine and of our local worker (several rounds, so
drift hits both), and print the medians and the ratio ours / hyperfine.

    uv run python benchmarks/bench_runner.py [--runs 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_pipeline.execution.backends import WorkerSpec  # noqa: E402
from bench_pipeline.execution.backends.local import LocalBackend  # noqa: E402

COMMANDS = [
    ["true"],
    ["git", "--version"],
    ["sleep", "0.005"],
    [sys.executable, "-S", "-c", "x=sum(range(3000000))"],
]


def hyperfine_median(argv: list[str], runs: int) -> float:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(
            [
                "hyperfine",
                "-N",
                "--warmup",
                "5",
                "--runs",
                str(runs),
                "--export-json",
                out.name,
                "--style",
                "none",
                " ".join(argv),
            ],
            check=True,
            capture_output=True,
        )
        data = json.loads(Path(out.name).read_text())
    return statistics.median(data["results"][0]["times"])


def ours_median(worker, argv: list[str], runs: int) -> float:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C"}
    for _ in range(5):
        worker.exec(argv, worker.work_root, env, 60)
    return statistics.median(
        worker.exec(argv, worker.work_root, env, 60)["wall_ns"] / 1e9 for _ in range(runs)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("hyperfine"):
        sys.exit("hyperfine is not installed (apt-get install hyperfine)")
    hf_version = subprocess.run(["hyperfine", "--version"], capture_output=True, text=True).stdout.strip()
    tmp = Path(tempfile.mkdtemp())
    backend = LocalBackend(tmp / "bin")
    worker = backend.start_worker(WorkerSpec("bench", "bench", "r", tmp / "work", tmp))
    print(
        f"# runner vs {hf_version}: {platform.node()}, {platform.processor() or platform.machine()}, "
        f"rss method {worker.info()['rss_method']}, {args.runs} runs × {args.rounds} rounds\n"
    )
    print("| command | hyperfine -N median | bench-pipeline median | ratio (ours / hyperfine) |")
    print("|---|---|---|---|")
    for argv in COMMANDS:
        hf, ours = [], []
        for _ in range(args.rounds):
            hf.append(hyperfine_median(argv, args.runs))
            ours.append(ours_median(worker, argv, args.runs))
        h, o = statistics.median(hf), statistics.median(ours)
        label = " ".join(Path(a).name if i == 0 else a for i, a in enumerate(argv))
        print(f"| `{label[:50]}` | {h * 1e3:.3f} ms | {o * 1e3:.3f} ms | {o / h:.3f} |")
    worker.close()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
