"""Runner overhead and accuracy, side by side with ``hyperfine -N`` (no shell) in one script.

For each command, alternate short blocks of hyperfine and of our local worker (``--rounds`` blocks
of ``--runs`` runs each, their order shuffled per round, so the machine's drift hits both alike),
and print the pooled medians, their ratio ours / hyperfine, and the paired
estimate over the rounds: the Hodges–Lehmann estimate of the per-round log ratios of block medians
with its exact Wilcoxon 95 % interval (the method of docs/methods.md, "Sampling to a verdict").
Each round also runs a second hyperfine block: hyperfine against itself (A/A) shows how closely this
machine lets any two measurements of one command agree, the yardstick for "within 2 %".

"Ours" runs the block back to back in one batch of the worker's bench-exec helper (``exec_many``,
as ``bench-pipeline measure`` does): nothing of the worker or of this script runs between two runs,
as in hyperfine's loop. A second block per round takes one request per run, as a suite's measuring
loop takes its samples; its column shows what the between-run activity costs. A minimal C loop
(posix_spawnp → waitpid, nothing else, stdio on /dev/null) is the floor any measuring loop can reach:
it tells hyperfine's own per-run cost apart from ours. "ours, devnull" is the batch again with stdout
on /dev/null (a suite's ``settings.stdout: devnull``), where hyperfine -N and the C loop send it; plain
"ours" sends it through the counted pipe, the default. Besides commands of known
cost, git commands that print (SPEC §4.1, issue 18 item 5) run on the small generated fixture with
100 files edited, so ``status`` and ``diff`` have something to say: a runner that drains output
through a reader process shows up there, not on ``true``.

    uv run python benchmarks/bench_runner.py [--runs 20] [--rounds 30] [--only git] [--before REV]

``--before REV`` adds the runner of git revision REV (its ``runner.py`` and ``bench_exec.c``) as a
third column, measured in the same alternating blocks: before/after figures from one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_pipeline.execution.backends import Worker, WorkerSpec  # noqa: E402
from bench_pipeline.execution.backends.local import LocalBackend  # noqa: E402
from bench_pipeline.fixtures import ensure_fixture, fixture_for  # noqa: E402
from bench_pipeline.stats._ranktests import signed_rank_null_cdf  # noqa: E402

COMMANDS = [
    ["true"],
    ["git", "--version"],
    ["sleep", "0.005"],
    [sys.executable, "-S", "-c", "x=sum(range(3000000))"],
]
# on the small fixture with EDITED files edited (and `git status --porcelain` on it clean, too)
GIT_COMMANDS = [
    ["git", "log", "-n", "300", "--format=%H"],
    ["git", "status", "--porcelain"],
    ["git", "diff"],
    ["git", "log", "--stat", "-n", "100"],
    ["git", "diff", "HEAD~30", "HEAD"],
]
EDITED = 100


def git_repo(tmp: Path, cache: Path | None, edited: int) -> Path:
    """A copy of the small fixture with ``edited`` tracked files edited and the index refreshed."""
    fixture = ensure_fixture(fixture_for("small"), cache or tmp / "fixtures")
    repo = tmp / f"repo-{edited}"
    shutil.copytree(fixture.path, repo, symlinks=True)
    files = subprocess.run(["git", "ls-files"], cwd=repo, env=ENV, capture_output=True, text=True).stdout
    for name in files.split()[:edited]:
        with open(repo / name, "a") as f:
            f.write("edited line\n")
    subprocess.run(["git", "update-index", "-q", "--refresh"], cwd=repo, env=ENV)
    return repo


def worker_at(rev: str | None, tmp: Path, name: str = "bench") -> Worker:
    """A local worker running this tree's runner (``rev`` None) or the runner of git revision ``rev``
    (its ``runner.py``, ``cgroup.py`` and ``bench_exec.c``, compiled statically here)."""
    if rev is None:
        return LocalBackend(tmp / "bin").start_worker(WorkerSpec(name, name, "r", tmp / "work" / name, tmp))
    root = Path(__file__).resolve().parent.parent
    where = tmp / f"runner-{rev}"
    where.mkdir(parents=True, exist_ok=True)
    for rel in ("runner.py", "cgroup.py", "native/bench_exec.c"):
        blob = subprocess.run(
            ["git", "show", f"{rev}:bench_pipeline/execution/{rel}"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
        (where / Path(rel).name).write_bytes(blob)
    helper = where / "bench-exec"
    if not helper.exists():
        subprocess.run(["cc", "-O2", "-static", "-o", helper, where / "bench_exec.c"], check=True)
    work = tmp / "work" / f"{name}-{rev}"
    work.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-I", "-S", where / "runner.py", "--serve", "--exec-helper", helper],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=work,
        start_new_session=True,
    )
    return Worker.from_process(
        proc, description=f"{name}@{rev}", work_root=str(work), fixture_root=str(tmp), path=ENV["PATH"]
    )


ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LC_ALL": "C",
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_PAGER": "cat",
}


# The least a measuring loop can do: posix_spawnp, waitpid, CLOCK_MONOTONIC around the two; stdio on
# /dev/null (as hyperfine -N); a random-size environment variable per run, set outside the timing.
C_LOOP = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
extern char **environ;
static long long now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }
int main(int argc, char **argv) {
    int n = atoi(argv[1]), nul = open("/dev/null", O_RDWR);
    static char pad[4097];
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    for (int fd = 0; fd < 3; fd++) posix_spawn_file_actions_adddup2(&fa, nul, fd);
    srand((unsigned)now());
    for (int i = 0; i < n; i++) {
        int len = rand() % 4096;
        memset(pad, 'X', len); pad[len] = 0;
        setenv("LOOP_RANDOMIZED_ENV_OFFSET", pad, 1);
        pid_t pid; int status;
        long long t0 = now();
        if (posix_spawnp(&pid, argv[2], &fa, NULL, argv + 2, environ)) return 1;
        waitpid(pid, &status, 0);
        printf("%lld\n", now() - t0);
    }
    return 0;
}
"""


def c_loop(tmp: Path) -> Path:
    source, binary = tmp / "loop.c", tmp / "loop"
    source.write_text(C_LOOP)
    subprocess.run(["cc", "-O2", "-o", binary, source], check=True)
    return binary


def c_loop_times(loop: Path, argv: list[str], cwd: Path, runs: int) -> list[float]:
    """``runs`` runs after 5 warmups by the minimal C loop."""
    out = subprocess.run([loop, str(5 + runs), *argv], cwd=cwd, env=ENV, capture_output=True, check=True)
    return [int(x) / 1e9 for x in out.stdout.split()[5:]]


def hyperfine_times(argv: list[str], cwd: Path, runs: int) -> list[float]:
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
                shlex.join(argv),
            ],
            check=True,
            capture_output=True,
            cwd=cwd,
            env=ENV,
        )
        data = json.loads(Path(out.name).read_text())
    return list(data["results"][0]["times"])


def ours_times(
    worker, argv: list[str], cwd: Path, runs: int, stdout: str = "pipe"
) -> tuple[list[float], int]:
    """Wall seconds of ``runs`` runs after 5 warmups, all back to back in one batch of the worker's
    helper (``exec_many``, as ``bench-pipeline measure`` runs them), and the stdout bytes.
    ``stdout="devnull"``: as a suite with ``settings.stdout: devnull`` (and hyperfine -N)."""
    request = {**worker.exec_request(argv, str(cwd), ENV, 60), "stdout": stdout}
    results = worker.exec_many([request] * (5 + runs))[5:]
    return [r["wall_ns"] / 1e9 for r in results], results[-1]["stdout_bytes"]


def single_times(worker, argv: list[str], cwd: Path, runs: int) -> list[float]:
    """The same, one request per run (as a suite's measuring loop takes its samples): the worker, and
    this script, run between two runs."""
    for _ in range(5):
        worker.exec(argv, str(cwd), ENV, 60)
    return [worker.exec(argv, str(cwd), ENV, 60)["wall_ns"] / 1e9 for _ in range(runs)]


def paired_ratio(ours: list[float], theirs: list[float]) -> tuple[float, float, float]:
    """Hodges–Lehmann ratio of per-round block medians (ours / theirs) with its exact 95 % interval."""
    d = np.log(np.asarray(ours)) - np.log(np.asarray(theirs))
    n = d.size
    walsh = np.sort((d[:, None] + d[None, :])[np.triu_indices(n)] / 2)
    k = int((signed_rank_null_cdf(n) <= 0.025).sum())
    low, high = (walsh[k - 1], walsh[walsh.size - k]) if k else (-np.inf, np.inf)
    return float(np.exp(np.median(walsh))), float(np.exp(low)), float(np.exp(high))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20, help="runs per block (after 5 warmups)")
    parser.add_argument("--rounds", type=int, default=30, help="alternating blocks per command and side")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=["git", "basic"], help="only the git commands, or only the others")
    parser.add_argument("--fixture-cache", type=Path, help="where the small fixture is (built if missing)")
    parser.add_argument("--before", metavar="REV", help="also measure the runner of this git revision")
    args = parser.parse_args()
    if not shutil.which("hyperfine"):
        sys.exit("hyperfine is not installed (apt-get install hyperfine)")
    hf_version = subprocess.run(["hyperfine", "--version"], capture_output=True, text=True).stdout.strip()
    tmp = Path(tempfile.mkdtemp())
    loop = c_loop(tmp)
    worker = worker_at(None, tmp)
    before = worker_at(args.before, tmp) if args.before else None
    plan: list[tuple[list[str], Path, str]] = []
    if args.only != "git":
        plan += [(argv, Path(worker.work_root), "") for argv in COMMANDS]
    if args.only != "basic":
        clean, edited = git_repo(tmp, args.fixture_cache, 0), git_repo(tmp, args.fixture_cache, EDITED)
        plan.append((["git", "status", "--porcelain"], clean, " (clean)"))
        plan += [(argv, edited, f" ({EDITED} edited)") for argv in GIT_COMMANDS]
    info = worker.info()
    print(
        f"# runner vs {hf_version}: {platform.node()}, {platform.processor() or platform.machine()}, "
        f"rss method {info['rss_method']}, output {info.get('output_method', 'pipe')}, "
        f"{args.runs} runs × {args.rounds} rounds, {time.strftime('%Y-%m-%d %H:%M')}, "
        f"load {os.getloadavg()[0]:.2f}\n"
    )
    rng = random.Random(args.seed)
    extra = f" {args.before} median | {args.before} / hyperfine |" if before else ""
    print(
        "| command | stdout | hyperfine -N median | bench-pipeline median | ours / hyperfine (pooled medians) "
        "| ours / hyperfine, paired, 95 % CI | ours, devnull / hyperfine (pooled) | ours, devnull / hyperfine, paired "
        "| ours / C loop, paired | C loop / hyperfine, paired "
        f"| one request per run / hyperfine, paired | hyperfine / hyperfine (A/A), paired |{extra}"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if before else ""))

    def paired(a: list[list[float]], b: list[list[float]]) -> str:
        r, lo, hi = paired_ratio([statistics.median(x) for x in a], [statistics.median(x) for x in b])
        return f"{r:.3f} ({lo:.3f}–{hi:.3f})"

    for argv, cwd, where in plan:
        blocks: dict[str, list[list[float]]] = {
            k: [] for k in ("hf", "hf2", "ours", "null", "loop", "single", "old")
        }
        out_bytes = 0
        for _ in range(args.rounds):
            # hf2: a second hyperfine block per round, how far hyperfine agrees with itself
            sides = ["hf", "hf2", "ours", "null", "loop", "single", *(["old"] if before else [])]
            rng.shuffle(sides)
            for side in sides:
                if side in ("hf", "hf2"):
                    blocks[side].append(hyperfine_times(argv, cwd, args.runs))
                elif side == "ours":
                    times, out_bytes = ours_times(worker, argv, cwd, args.runs)
                    blocks[side].append(times)
                elif side == "null":
                    blocks[side].append(ours_times(worker, argv, cwd, args.runs, "devnull")[0])
                elif side == "loop":
                    blocks[side].append(c_loop_times(loop, argv, cwd, args.runs))
                elif side == "single":
                    blocks[side].append(single_times(worker, argv, cwd, args.runs))
                else:
                    blocks[side].append(single_times(before, argv, cwd, args.runs))
        h = statistics.median(t for block in blocks["hf"] for t in block)
        o = statistics.median(t for block in blocks["ours"] for t in block)
        z = statistics.median(t for block in blocks["null"] for t in block)
        label = " ".join(Path(a).name if i == 0 else a for i, a in enumerate(argv))
        row = (
            f"| `{label[:50]}`{where} | {out_bytes / 1024:.1f} KiB | {h * 1e3:.3f} ms | {o * 1e3:.3f} ms "
            f"| {o / h:.3f} | {paired(blocks['ours'], blocks['hf'])} | {z / h:.3f} | {paired(blocks['null'], blocks['hf'])} "
            f"| {paired(blocks['ours'], blocks['loop'])} "
            f"| {paired(blocks['loop'], blocks['hf'])} | {paired(blocks['single'], blocks['hf'])} "
            f"| {paired(blocks['hf2'], blocks['hf'])} |"
        )
        if before:
            b = statistics.median(t for block in blocks["old"] for t in block)
            row += f" {b * 1e3:.3f} ms | {b / h:.3f} |"
        print(row, flush=True)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    worker.close()
    if before:
        before.close()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
