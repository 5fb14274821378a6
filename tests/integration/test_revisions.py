"""Tool revisions (SPEC §16) on a C program in a repository the test creates: builds keyed by the
commit a revision resolves to, failed builds recorded, two revisions measured as two tools of one
run, the tag sensor building a new tag against the previous one, and bisect naming the planted commit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench_pipeline.store import Store
from tests.integration.ctool_repo import CtoolRepo, make_repo

pytestmark = [pytest.mark.integration]


@pytest.fixture
def tool_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "tool-cache"
    monkeypatch.setenv("BENCH_PIPELINE_TOOL_CACHE", str(cache))
    return cache


@pytest.fixture
def ctool(tmp_path: Path, git_required) -> CtoolRepo:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    return make_repo(tmp_path / "ctool-src")


def test_builds_are_keyed_by_the_commit_a_revision_resolves_to(ctool, tool_cache, tmp_path, bench_home):
    from bench_pipeline.builds import obtain_tool, record_builds
    from bench_pipeline.suite import load_suite_file

    suite = load_suite_file(ctool.suite(tmp_path / "suites"))
    lines: list[str] = []
    first = obtain_tool(suite, "ctool@v1", allow_build=True, progress=lines.append)
    assert (first.action, first.commit, first.rev) == ("built", ctool.commits[0], "v1"), first.reason
    assert (first.bin_dir / "ctool").is_file() and first.build_seconds is not None
    again = obtain_tool(suite, "ctool@v1", allow_build=True)
    assert (again.action, again.seconds, again.bin_dir) == ("cached", 0.0, first.bin_dir)
    by_commit = obtain_tool(suite, f"ctool@{ctool.commits[0][:9]}", allow_build=True)
    assert (by_commit.action, by_commit.bin_dir) == ("cached", first.bin_dir)  # one commit, one build

    head = obtain_tool(suite, "ctool@main", allow_build=True)
    assert (head.action, head.commit) == ("built", ctool.commits[-1])
    moved = ctool.commit("a new head", version="2")
    after = obtain_tool(suite, "ctool@main", allow_build=True)
    assert (after.action, after.commit) == ("built", moved)  # the branch moved: a new build
    assert after.bin_dir != head.bin_dir

    ctool.commit("broken", version="3", broken=True)
    ctool.tag("v4")
    failed = obtain_tool(suite, "ctool@v4", allow_build=True, progress=lines.append)
    assert (failed.available, failed.action) == (False, "failed")
    assert "building ctool v4" in failed.reason and failed.log is not None and failed.log.is_file()
    assert "error" in failed.log.read_text()
    assert any(line.startswith("ctool@v4: unavailable — building ctool v4") for line in lines), lines

    store = Store()
    assert record_builds(store, [first, again, failed], suite="ctool", run_id="r1") == 3
    rows = store.query("SELECT tool, status, commit, seconds FROM builds ORDER BY recorded_at")
    assert rows["status"].to_list() == ["built", "cached", "failed"]
    assert rows["commit"].to_list()[2] == ctool.commits[-1]
    missing = obtain_tool(suite, "ctool@no-such-tag", allow_build=True)
    assert missing.action == "failed" and "names no commit" in missing.reason


# ---------------------------------------------------------------------------------------- the tag sensor
def _run_chain(defs, instance, request, overrides: dict) -> str:
    """Execute a requested measure_job run, then what measure_followup asks for (ingest per tool,
    report), as the daemon would; returns the bench run id."""
    from dagster import DagsterEventType, build_run_status_sensor_context

    from jobs.sensors import measure_followup

    config = request.run_config["ops"]["measurements"]["config"]
    run_config = {"ops": {"measurements": {"config": {**config, **overrides}}}}
    pending = [("measure_job", request.partition_key, run_config, request.tags)]
    bench_run = ""
    while pending:
        job_name, key, cfg, tags = pending.pop(0)
        result = defs.resolve_job_def(job_name).execute_in_process(
            run_config=cfg, partition_key=key, instance=instance, tags=tags
        )
        assert result.success
        if job_name == "measure_job":
            mat = result.asset_materializations_for_node("measurements")[0]
            bench_run = str(mat.metadata["run_id"].value)
        (entry,) = instance.all_logs(result.run_id, of_type=DagsterEventType.RUN_SUCCESS)
        follow = measure_followup(
            build_run_status_sensor_context(
                sensor_name="measure_followup",
                dagster_event=entry.dagster_event,
                dagster_instance=instance,
                dagster_run=instance.get_run_by_id(result.run_id),
            )
        )
        for r in follow if isinstance(follow, list) else []:
            pending.append((r.job_name, r.partition_key, r.run_config, r.tags))
    return bench_run


@pytest.fixture
def watched(tmp_path, git_required, bench_home, tool_cache, monkeypatch):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    repo = make_repo(tmp_path / "ctool-src", tag_v3=False)
    suites = tmp_path / "suites"
    # the busy loop computes: CPU time (user + sys), which other tenants of a shared 2-core machine
    # disturb least, decides when sampling stops (wall time's intervals on the same samples follow)
    repo.suite(suites, max_runs=400, min_runs=25, decide_on="cpu")
    monkeypatch.setenv("BENCH_PIPELINE_SUITES", str(suites))
    bench_home.mkdir(parents=True, exist_ok=True)
    (bench_home / "operations.yaml").write_text(
        f"watch:\n  repositories:\n    - {{url: '{repo.path}', suites: [ctool], tool: ctool}}\n"
    )
    return repo


def _machine_noise(store: Store, run_id: str) -> dict:
    """What a failed timing assertion should show: each cell's samples and CPU-time spread, the load,
    and the busiest processes of the machine (a leftover of an earlier test competes for the cores)."""
    cells = store.query(
        "SELECT tool || ' ' || operation AS cell, count(*) AS n, "
        "round(median(user_ns + sys_ns) / 1e6, 3) AS cpu_ms, "
        "round(stddev(user_ns + sys_ns) / avg(user_ns + sys_ns), 3) AS cpu_cv, "
        "round(median(wall_ns) / 1e6, 3) AS wall_ms FROM samples WHERE run_id = ? AND NOT warmup "
        "GROUP BY ALL ORDER BY 1",
        [run_id],
    )
    busiest = subprocess.run(
        ["ps", "-eo", "pcpu,etimes,comm", "--sort=-pcpu"], capture_output=True, text=True, check=False
    ).stdout.splitlines()[:6]
    return {"cells": cells.rows(), "load": os.getloadavg(), "busiest": busiest}


@pytest.mark.slow
def test_tag_sensor_builds_the_new_tag_and_compares_it_with_the_previous_one(watched, tmp_path):
    from dagster import SkipReason, build_sensor_context, instance_for_test

    from definitions import defs
    from jobs.sensors import git_tag_sensor

    (tmp_path / "dagster").mkdir()
    with instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        first = build_sensor_context(instance=instance, cursor=None, definitions=defs)
        assert isinstance(git_tag_sensor(first), SkipReason)  # v1, v2 recorded
        watched.tag("v3")
        second = build_sensor_context(instance=instance, cursor=first.cursor, definitions=defs)
        (request,) = git_tag_sensor(second)
        config = request.run_config["ops"]["measurements"]["config"]
        assert config["tools"] == ["ctool@v2", "ctool@v3"]
        assert (config["git_tag"], config["git_commit"], config["trigger"]) == (
            "v3",
            watched.commits[-1],
            "tag",
        )
        assert request.tags["bench/previous_tag"] == "v2"
        assert {"ctool@v2", "ctool@v3"} <= set(instance.get_dynamic_partitions("tools"))

        run_id = _run_chain(defs, instance, request, {"backend": "local"})
        store = Store()
        run = store.run(run_id)
        assert (run["git_tag"], run["git_commit"], run["trigger"]) == ("v3", watched.commits[-1], "tag")
        report = json.loads(
            (Path(store.path).parent / "reports" / "ctool" / run_id / "report.json").read_text()
        )
        built = {b["tool"]: b for b in report["builds"]}
        assert built["ctool@v3"]["commit"] == watched.commits[-1] and built["ctool@v3"]["status"] == "built"
        verdicts = {
            (c["operation"], c["metric"]): (c["verdict"], round(c["ratio"], 3), c["ci_low"], c["ci_high"])
            for c in report["revisions"]
        }
        assert {c["old"] for c in report["revisions"]} == {"ctool@v2"}
        # CPU time (user + sys) of the busy loop: what the other tenants of a shared 2-core machine
        # disturb least; the planted 30 % of the loop is ~25 % of the process (start-up included).
        # Unchanged subcommands are never called slower or faster; equivalent where the machine lets
        # a ±5 % interval form in the rounds wall time needed (a loaded one may leave them inconclusive)
        measuring = json.loads(
            store.query("SELECT measuring FROM runs WHERE run_id = ?", [run_id])["measuring"][0]
        )
        assert measuring["metric"] == "cpu", measuring  # the suite's decide_on
        why = (verdicts, measuring, _machine_noise(store, run_id))
        assert verdicts[("beta", "cpu")][0] == "slower" and verdicts[("beta", "cpu")][1] > 1.15, why
        assert verdicts[("alpha", "cpu")][0] in ("equivalent", "inconclusive"), why
        assert verdicts[("gamma", "cpu")][0] in ("equivalent", "inconclusive"), why
        # wall time says the same where the machine is quiet; on a loaded one it may stay inconclusive
        assert (
            verdicts[("beta", "wall")][0] in ("slower", "inconclusive") and verdicts[("beta", "wall")][1] > 1
        )
        assert verdicts[("alpha", "wall")][0] in ("equivalent", "inconclusive"), verdicts
        assert verdicts[("gamma", "wall")][0] in ("equivalent", "inconclusive"), verdicts
        md = (Path(store.path).parent / "reports" / "ctool" / run_id / "report.md").read_text()
        assert "**ctool@v3 vs ctool@v2**" in md and "tag `v3`" in md
        # the summary leads with the verdicts of the metric the run was sampled to a verdict on
        assert "Measured until decided on CPU time (user + sys)" in md
        assert "is slower than **ctool@v2** in CPU time on 1 of 3 operations" in md, md
        assert "ctool@v3 / ctool@v2: geometric mean of CPU time ratios" in md
        html = (Path(store.path).parent / "reports" / "ctool" / run_id / "report.html").read_text()
        assert "geometric mean of CPU time ratios" in html

        # a tag that does not build: a recorded failed build, one clear line, and the next tag goes on
        watched.commit("broken", version="4", broken=True)
        watched.tag("v4")
        third = build_sensor_context(instance=instance, cursor=second.cursor, definitions=defs)
        (broken,) = git_tag_sensor(third)
        assert broken.run_config["ops"]["measurements"]["config"]["tools"] == ["ctool@v3", "ctool@v4"]
        broken_run = _run_chain(defs, instance, broken, {"backend": "local", "quick": True})
        failed = store.query(
            "SELECT status, reason, log FROM builds WHERE run_id = ? AND tool = 'ctool@v4'", [broken_run]
        )
        assert set(failed["status"]) == {"failed"}
        assert "building ctool v4" in failed["reason"][0] and Path(failed["log"][0]).is_file()
        assert store.run(broken_run)["status"] == "succeeded"  # the run went on with v3
        md = (Path(store.path).parent / "reports" / "ctool" / broken_run / "report.md").read_text()
        assert "> **ctool@v4 was not measured** (failed): building ctool v4" in md
        history = json.loads(
            (Path(store.path).parent / "reports" / "ctool" / broken_run / "report.json").read_text()
        )
        assert {p["revision"] for p in history["releases"]} == {
            "ctool@v2",
            "ctool@v3",
        }  # per revision, full runs

        watched.commit("fixed", version="5")
        watched.tag("v5")
        fourth = build_sensor_context(instance=instance, cursor=third.cursor, definitions=defs)
        (fixed,) = git_tag_sensor(fourth)
        assert fixed.run_config["ops"]["measurements"]["config"]["tools"] == ["ctool@v3", "ctool@v5"]
        assert fixed.tags["bench/previous_tag"] == "v3"  # v4 did not build: compared with the last that did


# ---------------------------------------------------------------------------------------- bisect
def _cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    from tests.conftest import ROOT

    proc = subprocess.run(
        [sys.executable, "-m", "bench_pipeline", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
        env=os.environ,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr[-3000:]}")
    return proc


@pytest.mark.slow
def test_bisect_names_the_planted_commit(ctool, tool_cache, tmp_path, bench_home):
    suite = ctool.suite(tmp_path / "suites", max_runs=150)
    args = ["bisect", "--suite", str(suite), "--tool", "ctool", "--good", "v1", "--bad", "v3"]
    out = json.loads(_cli(*args, "--operation", "beta", "--metric", "cpu", "--json").stdout.splitlines()[-1])
    assert out["status"] == "found", out
    assert out["first_bad"]["commit"] == ctool.planted
    assert out["first_bad"]["subject"] == "slower beta: a more thorough check"
    evidence = out["first_bad"]["evidence"]
    assert evidence["verdict"] == "slower" and evidence["ratio"] > 1.15 and evidence["run_id"]
    assert (
        out["candidates"] == 9
        and out["good_commit"] == ctool.commits[0]
        and out["bad_commit"] == ctool.commits[9]
    )
    steps = out["steps"]
    assert steps[0]["commit"] == ctool.commits[9] and steps[0]["decision"] == "bad"  # bad confirmed first
    assert len(steps) <= 1 + 4  # ⌈log₂ 9⌉ = 4
    assert {s["decision"] for s in steps} == {"bad", "good"}

    store = Store()
    recorded = store.query("SELECT * FROM bisect_steps WHERE bisect_id = ? ORDER BY step", [out["bisect_id"]])
    assert recorded["commit"].to_list() == [s["commit"] for s in steps]
    assert recorded["decision"].to_list() == [s["decision"] for s in steps]
    head = store.query("SELECT status, first_bad FROM bisects WHERE bisect_id = ?", [out["bisect_id"]])
    assert head.row(0) == ("found", ctool.planted)
    runs = store.query(
        "SELECT trigger, git_commit, tools, measuring FROM runs WHERE run_id IN (SELECT run_id FROM bisect_steps WHERE bisect_id = ?)",
        [out["bisect_id"]],
    )
    assert set(runs["trigger"]) == {"bisect"} and set(runs["git_commit"]) == set(recorded["commit"])
    assert all(json.loads(t)[0] == "ctool@v1" for t in runs["tools"])  # each step: good build vs candidate
    # each step sampled until its CPU-time verdict was known, not its wall-time one
    assert {json.loads(m)["metric"] for m in runs["measuring"]} == {"cpu"}
    decided = store.query(
        "SELECT DISTINCT metric FROM run_decisions WHERE run_id IN (SELECT run_id FROM bisect_steps WHERE bisect_id = ?)",
        [out["bisect_id"]],
    )
    assert decided["metric"].to_list() == ["cpu"]

    human = _cli(*args, "--operation", "alpha", "--metric", "cpu", check=False)
    assert human.returncode == 1 and "not_regressed" in human.stdout  # alpha never regressed


# ---------------------------------------------------------------------------------------- runs, Dagster
@pytest.mark.slow
def test_two_revisions_are_two_tools_of_one_run_and_a_cached_build_costs_nothing(
    ctool, tool_cache, tmp_path, bench_home
):
    from bench_pipeline.interfaces.inprocess import run_pipeline

    suite = ctool.suite(tmp_path / "suites")
    first = run_pipeline(str(suite), tools=["ctool@v1", "ctool@v3"], quick=True, backend="local")
    second = run_pipeline(str(suite), tools=["ctool@v1", "ctool@v3"], quick=True, backend="local")
    store = Store()
    for result, status in ((first, "built"), (second, "cached")):
        report = json.loads(Path(result.reports["json"]).read_text())
        assert report["run"]["tools"] == ["ctool@v1", "ctool@v3"]
        assert report["run"]["tool_versions"] == {"ctool@v1": "ctool 1", "ctool@v3": "ctool 1.9"}
        builds = {b["tool"]: b for b in report["builds"]}
        assert {b["status"] for b in builds.values()} == {status}, builds
        assert builds["ctool@v3"]["commit"] == ctool.commits[9]
        spent = sum(b["seconds"] for b in builds.values())
        assert spent > 0 if status == "built" else spent == 0  # second run: zero build seconds
        assert {(c["old"], c["new"]) for c in report["revisions"]} == {("ctool@v1", "ctool@v3")}
        cells = store.query("SELECT DISTINCT tool FROM run_cells WHERE run_id = ?", [result.run_id])
        assert set(cells["tool"]) == {"ctool@v1", "ctool@v3"}

    from dagster import DagsterInstance

    instance = DagsterInstance.get()  # the project instance the CLI ran in: revisions are tool partitions
    assert {"ctool@v1", "ctool@v3"} <= set(instance.get_dynamic_partitions("tools"))


@pytest.mark.slow
def test_a_revisions_fixtures_and_measurements_materialize_as_from_the_ui(
    ctool, tool_cache, tmp_path, bench_home, monkeypatch
):
    from dagster import MultiPartitionKey, RunRequest, instance_for_test

    from assets.partitions import sync_partitions
    from definitions import defs
    from jobs.schedules import measure_run_config

    ctool.suite(tmp_path / "suites")
    monkeypatch.setenv("BENCH_PIPELINE_SUITES", str(tmp_path / "suites"))
    (tmp_path / "dagster").mkdir()
    with instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        sync_partitions(instance, {"ctool": ["ctool", "ctool@v2"]})  # as the UI's "add partition" does
        result = defs.resolve_job_def("fixtures_job").execute_in_process(
            partition_key=MultiPartitionKey({"suite": "ctool", "tool": "ctool@v2"}), instance=instance
        )
        meta = result.asset_materializations_for_node("fixtures")[0].metadata
        assert meta["status"].value == "built" and meta["commits"].value > 0
        # the launchpad: measure_job with tool@rev in the measurements config; the follow-up ingests
        # each revision's partition (added when missing) and reports
        request = RunRequest(
            partition_key="ctool",
            run_config=measure_run_config(trigger="manual", tools=["ctool@v2", "ctool@v3"], quick=True),
        )
        run_id = _run_chain(defs, instance, request, {"backend": "local"})
        assert "ctool@v3" in instance.get_dynamic_partitions("tools")
        samples = Store().query(
            "SELECT tool, count(*) AS n FROM samples_all WHERE run_id = ? GROUP BY tool", [run_id]
        )
        assert set(samples["tool"]) == {"ctool@v2", "ctool@v3"}
        assert Store().query("SELECT count(*) FROM comparisons WHERE run_id = ?", [run_id]).item() > 0


@pytest.mark.docker
@pytest.mark.slow
def test_the_docker_backend_runs_each_revision_in_an_image_of_its_build(
    ctool, tool_cache, tmp_path, bench_home
):
    from tests.conftest import docker_available

    if not docker_available():
        pytest.skip("no Docker engine answers")
    from bench_pipeline.execution import images
    from bench_pipeline.interfaces.inprocess import run_pipeline

    suite = ctool.suite(tmp_path / "suites")
    result = run_pipeline(str(suite), tools=["ctool@v1", "ctool@v3"], quick=True, backend="docker")
    assert result.backend == "docker" and not result.unavailable
    report = json.loads(Path(result.reports["json"]).read_text())
    # each container ran the executable of its own revision
    assert report["run"]["tool_versions"] == {"ctool@v1": "ctool 1", "ctool@v3": "ctool 1.9"}
    used = json.loads(Store().run(result.run_id)["host"])["backend"]
    tags = {used["images"][t] for t in ("ctool@v1", "ctool@v3")}
    assert len(tags) == 2 and all(t.startswith("bench-pipeline/built:") for t in tags)
    labels = [images.docker_client().images.get(t).labels for t in tags]
    assert all(lab["bench-pipeline.from-build"] == "1" for lab in labels)
