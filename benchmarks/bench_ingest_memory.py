"""Peak memory of ingesting a large hyperfine file (issue 17): a ~50 MB ``--export-json`` file holding
4 million times, in a fresh process and home each. Prints the file size, then wall time and peak RSS
of (1) ingestion — parse, landing files, the load's commit (``bench_pipeline.ingest.ingest_files``) —
and (2) the whole ``bench-pipeline ingest`` command, which then completes the run (flags, statistics
and comparisons of 4 million samples: ``bench_pipeline.resume``).

    .venv/bin/python benchmarks/bench_ingest_memory.py [--times 4000000] [--commands 2]

Target: peak RSS at most 1 GiB (it was 6.1 GiB before ingestion streamed).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_hyperfine(path: Path, times: int, commands: int, seed: int = 1) -> None:
    """A hyperfine export with ``times`` runs spread over ``commands`` commands, written as it goes."""
    rng = random.Random(seed)
    per = times // commands
    with path.open("w") as f:
        f.write('{"results": [')
        for c in range(commands):
            f.write(
                ("," if c else "")
                + json.dumps({"command": f"sleep 0.0{c}", "mean": 0.011, "stddev": 0.001})[:-1]
            )
            f.write(', "times": [')
            f.write(",".join(f"{0.01 + rng.random() * 0.002:.9f}" for _ in range(per)))
            f.write('], "exit_codes": [')
            f.write(",".join("0" for _ in range(per)))
            f.write("]}")
        f.write("]}\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--times", type=int, default=4_000_000)
    parser.add_argument("--commands", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "hyperfine.json"
        write_hyperfine(source, args.times, args.commands)
        size = source.stat().st_size
        print(f"file: {size / 2**20:.1f} MiB, {args.times:,} times in {args.commands} commands")
        store_only = (
            "import json, sys; from pathlib import Path; from bench_pipeline.ingest import ingest_files; "
            "r = ingest_files([Path(sys.argv[1])]); print(json.dumps({'samples': r.samples}))"
        )
        for label, argv in (
            ("ingestion (parse, land, load, commit)", ["-c", store_only, str(source)]),
            (
                "`bench-pipeline ingest` (+ statistics)",
                ["-m", "bench_pipeline", "ingest", str(source), "--json"],
            ),
        ):
            env = {**os.environ, "BENCH_PIPELINE_HOME": str(Path(tmp) / label.split()[0].strip("`"))}
            started = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, *argv], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
            )
            _pid, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - started
            out = proc.stdout.read() if proc.stdout else ""
            if status:
                sys.exit(f"{label} failed ({status})")
            samples = json.loads(out.strip().splitlines()[-1])["samples"]
            print(
                f"{label}: {seconds:.1f} s, {samples:,} samples, peak RSS {usage.ru_maxrss / 2**20:.2f} GiB "
                f"({usage.ru_maxrss / 1024:.0f} MiB)"
            )


if __name__ == "__main__":
    main()
