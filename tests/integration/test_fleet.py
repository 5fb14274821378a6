"""The fleet for real (issue 20, docs/scaling.md): PostgreSQL, a Redis broker and two host containers.

The flagship suite, git and git-worktree, quick: small on host A (class bench-a, CPU 0) and medium
on host B (class bench-b, CPU 1), measured in parallel through dagster-celery queues, delivered
through the shared landing area and ingested and reported centrally. Then the same fleet run with
host A's worker killed in the middle of its step: the run fails with the reason, the store holds
nothing of A's run; re-executed while A is still down, the step times out on its queue with the
reason; re-executed from the failure with A back, the run completes, nothing doubled.

The suite is vcs.yaml with its quick run counts fixed (no warmup, two timed runs per cell) so
that counts can be compared with a single-host run of the same selection, and the test stays
within a few minutes. Needs Docker, PostgreSQL and redis-server (.ci/run installs them); skips
with the reason otherwise, and fails instead under CI=true when a Docker engine answers.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.conftest import ROOT, docker_available
from tests.integration import fleet_services as fs

pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.slow]

TOOLS = ["git", "git-worktree"]
PLACEMENT = {"bench-a": ["small"], "bench-b": ["medium"]}
HOSTS = (("host-a", "bench-a", "0"), ("host-b", "bench-b", "1"))


def _require_fleet() -> None:
    in_ci = os.environ.get("CI", "").lower() == "true"
    why = None if docker_available() else "no Docker engine answers"
    if why is None:
        why = fs.missing()
        if why and in_ci:
            pytest.fail(f"CI=true and a Docker engine answers, but {why}")
    if why is None:
        why = fs.unusable_here()  # a property of the machine, not a missing install: skipped even in CI
    if why:
        pytest.skip(why)


def _suite_dir(tmp: Path) -> Path:
    """vcs.yaml with fixed quick run counts (counts comparable across runs, a short test)."""
    data = yaml.safe_load((ROOT / "suites" / "vcs.yaml").read_text())
    data["quick"] = {**data["quick"], "warmup": 0, "min_runs": 2, "max_runs": 2, "time_budget_s": 600}
    out = tmp / "suites"
    out.mkdir()
    (out / "vcs.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return out


class Fleet:
    """The services, the hosts and the environment of the central process."""

    def __init__(
        self, tmp: Path, image: str, pg: str, broker: str, suites: Path, fixture_cache: Path
    ) -> None:
        self.tmp, self.image, self.broker = tmp, image, broker
        self.home = tmp / "home"
        (self.home / "landing").mkdir(parents=True)
        (self.home / "dagster").mkdir(parents=True)
        timeouts = yaml.safe_load((ROOT / "deploy" / "fleet" / "fleet.yaml").read_text())
        timeouts["timeouts"] = {"queue_s": 15, "heartbeat_s": 2, "missed_heartbeats": 3, "step_s": 600}
        fleet_file = tmp / "fleet.yaml"  # the shipped classes, with a shorter patience
        fleet_file.write_text(yaml.safe_dump(timeouts))
        self.env = {
            "BENCH_PIPELINE_PROFILE": "fleet",
            "BENCH_PIPELINE_POSTGRES_URL": pg,
            "BENCH_PIPELINE_BROKER": broker,
            "BENCH_PIPELINE_FLEET": str(fleet_file),
            "BENCH_PIPELINE_SUITES": str(suites),
            "BENCH_PIPELINE_LANDING": str(self.home / "landing"),
            "BENCH_PIPELINE_FIXTURE_CACHE": str(fixture_cache),
            "DAGSTER_HOME": str(self.home / "dagster"),
        }
        self.shared = [self.home / "landing", self.home / "dagster", suites, fixture_cache, tmp]
        self.hosts: dict[str, fs.Host] = {}

    def start(self, name: str) -> fs.Host:
        _, host_class, cpuset = next(h for h in HOSTS if h[0] == name)
        old = self.hosts.pop(name, None)
        if old is not None:
            old.remove()
        local = (
            self.tmp / name
        )  # the host's own disk: its home (work directories), not the container's overlay
        local.mkdir(exist_ok=True)
        host = fs.Host(self.image, name, host_class, cpuset, self.env, self.shared, local_home=local)
        self.hosts[name] = host
        return host

    def remove(self) -> None:
        for host in self.hosts.values():
            host.remove()

    def host_logs(self) -> str:
        return "\n".join(f"--- {n}\n{h.logs()[-3000:]}" for n, h in self.hosts.items())


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, fixture_cache: Path) -> Iterator[Fleet]:
    _require_fleet()
    fs.remove_leftovers()
    tmp = tmp_path_factory.mktemp("fleet")
    tmp.chmod(0o755)
    image = fs.worker_image(progress=lambda _m: None)
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(fs.postgres())
        broker = stack.enter_context(fs.redis(tmp))
        f = Fleet(tmp, image, pg, broker, _suite_dir(tmp), fixture_cache)
        stack.callback(f.remove)
        saved = {k: os.environ.get(k) for k in [*f.env, "BENCH_PIPELINE_HOME"]}
        os.environ.update({**f.env, "BENCH_PIPELINE_HOME": str(f.home)})
        stack.callback(
            lambda: [
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
                for k, v in saved.items()
            ]
        )
        for name, _, _ in HOSTS:
            f.start(name)
        for host in f.hosts.values():
            host.wait_ready(broker, timeout_s=90)
        yield f


def _counts(db: Path, run_ids: list[str]) -> dict[tuple[str, str, str], int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT fixture, tool, operation, count(*) FROM samples_all "
            "WHERE list_contains(?, run_id) AND iteration >= 0 GROUP BY ALL",
            [run_ids],
        ).fetchall()
    finally:
        con.close()
    return {(f, t, o): n for f, t, o, n in rows}


def _runs(db: Path) -> dict[str, dict]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cur = con.execute("SELECT run_id, status, host_class, hostname, sizes, host FROM runs")
        names = [d[0] for d in cur.description]
        return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
    finally:
        con.close()


@pytest.fixture(scope="module")
def single_host(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, str], int]:
    """The same selection on one host (this machine, local backend, the default SQLite instance)."""
    home = tmp_path_factory.mktemp("single-host")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in fleet.env or k in ("BENCH_PIPELINE_SUITES", "BENCH_PIPELINE_FIXTURE_CACHE")
    }
    env["BENCH_PIPELINE_HOME"] = str(home)
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
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_id = json.loads(proc.stdout.strip().splitlines()[-1])["run_id"]
    return _counts(home / "bench.duckdb", [run_id])


def test_two_hosts_measure_their_sizes_in_parallel_into_one_store(fleet: Fleet, single_host):
    from bench_pipeline.interfaces.fleet import run_fleet

    result = run_fleet("vcs", PLACEMENT, tools=TOOLS, quick=True)
    assert result.success, f"{result.as_json()}\n{fleet.host_logs()}"
    db = fleet.home / "bench.duckdb"
    runs = _runs(db)
    by_class = {r.host_class: r for r in result.runs}
    for (name, host_class, _), size in zip(HOSTS, ("small", "medium"), strict=True):
        fr = by_class[host_class]
        row = runs[fr.run_id]
        # the run records the host that measured it, and its class
        assert (row["status"], row["host_class"], row["hostname"]) == ("succeeded", host_class, name)
        assert json.loads(row["sizes"]) == [size]
        host = json.loads(row["host"])
        assert host["host"] == name and host["cpus_usable"] == 1
        # every sample of the run is of its size
        counts = _counts(db, [fr.run_id])
        assert counts and {f for f, _, _ in counts} == {size}
        # reports rendered, and they say which host ran the run
        for fmt in ("md", "json", "html"):
            assert Path(fr.reports[fmt]).is_file(), fr.reports
        assert name in Path(fr.reports["md"]).read_text()
    # the two hosts' runs hold exactly the samples of one single-host run of the same selection
    both = _counts(db, [r.run_id for r in result.runs])
    assert both == single_host
    assert (fleet.home / "bench.duckdb").exists() and not any(
        (fleet.home / "landing" / ".fleet-staging").glob("*")
    )


def test_a_host_killed_mid_step_fails_the_run_clearly_and_reexecution_completes_it(fleet: Fleet, single_host):
    from bench_pipeline.interfaces.fleet import resume_fleet, run_fleet

    host_a = fleet.hosts["host-a"]
    killed = threading.Event()
    seen = len(host_a.logs())  # the first test's lines are already there

    def kill_when_measuring() -> None:  # bounded: at most 120 s of polling
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            new = host_a.logs()[seen:]
            if "measure_on_bench_a - run " in new or "measure_on_bench_a - fixture" in new:
                host_a.kill()  # SIGKILL of the whole container, mid-step
                killed.set()
                return
            time.sleep(0.2)

    before = set(_runs(fleet.home / "bench.duckdb"))
    watcher = threading.Thread(target=kill_when_measuring, daemon=True)
    watcher.start()
    result = run_fleet("vcs", PLACEMENT, tools=TOOLS, quick=True)
    watcher.join(timeout=130)
    assert killed.is_set(), fleet.host_logs()
    assert not result.success
    by_class = {r.host_class: r for r in result.runs}
    lost, other = by_class["bench-a"], by_class["bench-b"]
    assert not lost.delivered and "host-a" in lost.error and "stopped answering" in lost.error, lost.error
    # host B's run was delivered and completed; nothing of A's run is in the store or the landing area
    runs = _runs(fleet.home / "bench.duckdb")
    assert runs[other.run_id]["status"] == "succeeded"
    assert lost.run_id not in runs and set(runs) - before == {other.run_id}
    assert not (fleet.home / "landing" / lost.run_id).exists()
    assert _counts(fleet.home / "bench.duckdb", [lost.run_id]) == {}
    other_counts = _counts(fleet.home / "bench.duckdb", [other.run_id])

    # re-executed while host A is still down: nobody serves its queue, the step times out clearly
    waited = resume_fleet(result.dagster_run)
    assert not waited.success
    error = next(r.error for r in waited.runs if r.host_class == "bench-a")
    assert "no host of class bench-a took step measure_on_bench_a from queue 'bench-a' within 15 s" in error
    assert lost.run_id not in _runs(fleet.home / "bench.duckdb")

    # host A comes back; re-executing from the failure measures A's run once and completes it
    fleet.start("host-a").wait_ready(fleet.broker, timeout_s=90)
    resumed = resume_fleet(result.dagster_run)
    assert resumed.success, f"{resumed.as_json()}\n{fleet.host_logs()}"
    runs = _runs(fleet.home / "bench.duckdb")
    assert runs[lost.run_id]["status"] == "succeeded" and runs[lost.run_id]["hostname"] == "host-a"
    small = _counts(fleet.home / "bench.duckdb", [lost.run_id])
    assert small and {f for f, _, _ in small} == {"small"}
    assert small == {k: n for k, n in single_host.items() if k[0] == "small"}  # measured once, not doubled
    assert _counts(fleet.home / "bench.duckdb", [other.run_id]) == other_counts  # B's run untouched
    assert all(
        Path(p).is_file() for p in next(r for r in resumed.runs if r.host_class == "bench-a").reports.values()
    )
