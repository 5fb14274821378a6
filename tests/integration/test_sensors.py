"""Schedules and sensors: git tags in a real repository, the drop folder, failed-run alerts, the
follow-up chain, and the Dagster daemon ticking the tag sensor of `bench-pipeline ui`."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    Definitions,
    SkipReason,
    build_run_status_sensor_context,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
    job,
    op,
    partition_loading_context,
    validate_run_config,
)

from bench_pipeline.store import Store
from tests.conftest import ROOT, git

pytestmark = pytest.mark.integration

FORBIDDEN = ("|", ",", "[", "]", "...")


@pytest.fixture
def repo(tmp_path: Path, git_required) -> Path:
    path = tmp_path / "watched"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "f").write_text("1\n")
    git(path, "add", "f")
    git(path, "commit", "-q", "-m", "one")
    git(path, "tag", "v1.0")
    git(path, "tag", "-a", "v1.1", "-m", "annotated")
    return path


def _commit(repo: Path, text: str) -> str:
    (repo / "f").write_text(text)
    git(repo, "commit", "-q", "-am", text)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def defs():
    from definitions import defs

    return defs


@pytest.fixture
def instance(tmp_path):
    (tmp_path / "dagster").mkdir()
    with instance_for_test(temp_dir=str(tmp_path / "dagster")) as inst:
        yield inst


# ---------------------------------------------------------------------------------------- git tags
def test_git_tag_sensor_cursor_new_tags_and_sanitised_keys(repo, bench_home, monkeypatch, instance, defs):
    from bench_pipeline.ops.watch import list_tags
    from jobs.sensors import git_tag_sensor

    monkeypatch.setenv("BENCH_PIPELINE_WATCH_REPOS", f"{repo}, {repo.parent / 'missing-repo'}")
    monkeypatch.setenv("BENCH_PIPELINE_WATCH_SUITES", "vcs")
    annotated = git(repo, "rev-parse", "v1.1^{commit}")
    assert list_tags(str(repo)) == {"v1.0": annotated, "v1.1": annotated}  # annotated tag peeled

    first = build_sensor_context(instance=instance, cursor=None, definitions=defs)
    result = git_tag_sensor(first)
    assert isinstance(result, SkipReason)  # first look: existing tags recorded, no runs
    cursor = json.loads(first.cursor)
    (seen,) = cursor.values()
    assert seen == {"v1.0": annotated, "v1.1": annotated}
    assert str(repo) not in first.cursor  # keys are name + hash (URLs may hold credentials)

    head = _commit(repo, "2\n")
    git(repo, "tag", "v2.0")
    git(repo, "tag", "rel|1,2]")  # legal in git, not in a Dagster key
    second = build_sensor_context(instance=instance, cursor=first.cursor, definitions=defs)
    requests = git_tag_sensor(second)
    by_tag = {r.tags["bench/git_tag"]: r for r in requests}
    assert set(by_tag) == {"v2.0", "rel|1,2]"}
    job_def = defs.resolve_job_def("measure_job")
    for tag, request in by_tag.items():
        assert request.partition_key == "vcs"
        assert request.tags["bench/commit"] == head and request.tags["bench/trigger"] == "tag"
        assert not any(bad in request.run_key for bad in FORBIDDEN), request.run_key
        cfg = request.run_config["ops"]["measurements"]["config"]
        assert (cfg["git_tag"], cfg["git_commit"], cfg["trigger"]) == (tag, head, "tag")
        validate_run_config(job_def, request.run_config)
    assert by_tag["v2.0"].run_key != by_tag["rel|1,2]"].run_key

    # the daemon's own validation of the tick (partition keys against measure_job's partitions)
    with partition_loading_context(dynamic_partitions_store=instance):  # dynamic partitions: as the daemon
        data = git_tag_sensor.evaluate_tick(
            build_sensor_context(instance=instance, cursor=first.cursor, definitions=defs)
        )
    assert len(data.run_requests) == 2

    third = build_sensor_context(instance=instance, cursor=second.cursor, definitions=defs)
    assert isinstance(git_tag_sensor(third), SkipReason)  # nothing new
    assert third.cursor == second.cursor

    moved = _commit(repo, "3\n")
    git(repo, "tag", "-f", "v2.0")
    git(repo, "tag", "-d", "v1.0")
    fourth = build_sensor_context(instance=instance, cursor=third.cursor, definitions=defs)
    (request,) = git_tag_sensor(fourth)
    assert (request.tags["bench/git_tag"], request.tags["bench/commit"]) == ("v2.0", moved)
    assert "v1.0" not in json.loads(fourth.cursor)[next(iter(cursor))]


def test_sanitize_key():
    from bench_pipeline.ops.watch import redact, repository_key, sanitize_key

    assert sanitize_key("v1.2.3") == "v1.2.3"
    for name in ("a|b", "x,y", "[rc]", "a...b", "release/2025", "v1" * 60):
        key = sanitize_key(name)
        assert not any(bad in key for bad in FORBIDDEN) and "/" not in key and len(key) <= 64
    assert sanitize_key("a|b") != sanitize_key("a,b")  # distinct tags stay distinct
    assert redact("https://user:s3cret@example.com/x.git") == "https://***@example.com/x.git"
    assert "s3cret" not in repository_key("https://user:s3cret@example.com/x.git")


# ---------------------------------------------------------------------------------------- schedules
def test_schedules(bench_home, monkeypatch, instance, defs):
    from jobs.schedules import daily_tiering, nightly_suites

    when = datetime(2025, 7, 20, 2, 0, tzinfo=UTC)
    monkeypatch.setenv("BENCH_PIPELINE_NIGHTLY_SUITES", "vcs,nope")
    requests = nightly_suites(build_schedule_context(instance=instance, scheduled_execution_time=when))
    assert [(r.partition_key, r.run_key) for r in requests] == [("vcs", "nightly-vcs-2025-07-20")]
    assert requests[0].run_config["ops"]["measurements"]["config"]["trigger"] == "schedule"
    validate_run_config(defs.resolve_job_def("measure_job"), requests[0].run_config)

    request = daily_tiering(build_schedule_context(instance=instance, scheduled_execution_time=when))
    assert request.run_key == "tier-2025-07-20"
    assert request.run_config["ops"]["warm_tier"]["config"]["as_of"] == "2025-07-20"
    validate_run_config(defs.resolve_job_def("tier_job"), request.run_config)


def test_schedule_cron_and_timezone_come_from_settings(bench_home, tmp_path):
    code = (
        "from jobs.schedules import nightly_suites as n, daily_tiering as t; "
        "print(n.cron_schedule, n.execution_timezone, t.cron_schedule, n.default_status.value, sep=';')"
    )
    env = {**os.environ, "BENCH_PIPELINE_HOME": str(bench_home)}
    bench_home.mkdir(parents=True, exist_ok=True)
    (bench_home / "operations.yaml").write_text(
        "schedules:\n  timezone: Europe/Berlin\n  nightly: {cron: '15 1 * * *', enabled: false}\n"
    )
    env["BENCH_PIPELINE_TIER_CRON"] = "0 5 * * 1"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.stdout.strip().split(";") == ["15 1 * * *", "Europe/Berlin", "0 5 * * 1", "STOPPED"], (
        out.stderr
    )
    env["BENCH_PIPELINE_NIGHTLY_CRON"] = "every night"  # invalid: defaults, and a logged error
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.stdout.strip().split(";")[:2] == ["0 2 * * *", "UTC"] and "not a cron expression" in out.stderr


def test_settings_errors_are_bench_errors(bench_home, monkeypatch):
    from bench_pipeline.ops.settings import OperationsConfigError, load_settings

    monkeypatch.setenv("BENCH_PIPELINE_TIMEZONE", "Mars/Olympus")
    with pytest.raises(OperationsConfigError, match="time zone"):
        load_settings()
    monkeypatch.delenv("BENCH_PIPELINE_TIMEZONE")
    monkeypatch.setenv("BENCH_PIPELINE_WATCH_REPOS", '["/a", "https://h/b.git"]')
    assert [r.url for r in load_settings().watch.repositories] == ["/a", "https://h/b.git"]
    monkeypatch.setenv("BENCH_PIPELINE_WATCH_REPOS", "--upload-pack=evil")
    with pytest.raises(OperationsConfigError, match="repositories"):
        load_settings()


# ---------------------------------------------------------------------------------------- drop folder
def test_drop_folder_cursor(tmp_path):
    from bench_pipeline.ops.drop import new_drop_files

    folder = tmp_path / "drop"
    folder.mkdir()
    a = folder / "a.json"
    a.write_text("{}")
    (folder / ".hidden").write_text("x")
    (folder / "b.json.part").write_text("x")
    old = time.time() - 60
    os.utime(a, (old, old))
    fresh, cursor = new_drop_files(folder, {}, settle_seconds=2)
    assert fresh == [a] and set(cursor) == {"a.json"}
    assert new_drop_files(folder, cursor, settle_seconds=2)[0] == []  # seen: not again

    c = folder / "c.json"
    c.write_text("{}")  # just written: waits until it settles
    fresh, cursor2 = new_drop_files(folder, cursor, settle_seconds=2)
    assert fresh == [] and "c.json" not in cursor2
    fresh, cursor3 = new_drop_files(folder, cursor2, settle_seconds=2, now=time.time() + 10)
    assert fresh == [c]

    a.write_text('{"changed": true}')  # a changed file is taken again
    os.utime(a, (old + 1, old + 1))
    fresh, cursor4 = new_drop_files(folder, cursor3, settle_seconds=2)
    assert fresh == [a]
    a.unlink()
    assert "a.json" not in new_drop_files(folder, cursor4, settle_seconds=2)[1]  # vanished: forgotten


HYPERFINE = {
    "results": [
        {
            "command": "sleep 0.01",
            "mean": 0.0105,
            "stddev": 0.0002,
            "median": 0.0105,
            "user": 0.001,
            "system": 0.001,
            "min": 0.0102,
            "max": 0.0109,
            "times": [0.0102, 0.0104, 0.0105, 0.0106, 0.0109],
            "exit_codes": [0, 0, 0, 0, 0],
        }
    ]
}


def test_drop_folder_sensor_starts_an_ingestion_that_stores_samples(bench_home, instance, defs):
    from jobs.sensors import drop_folder_sensor

    folder = bench_home / "drop"
    folder.mkdir(parents=True)
    assert isinstance(
        drop_folder_sensor(build_sensor_context(instance=instance, definitions=defs)), SkipReason
    )
    result_file = folder / "hyperfine.json"
    result_file.write_text(json.dumps(HYPERFINE))
    old = time.time() - 60
    os.utime(result_file, (old, old))
    ctx = build_sensor_context(instance=instance, definitions=defs)
    (request,) = drop_folder_sensor(ctx)
    assert request.run_config["ops"]["ingest_files"]["config"]["paths"] == [str(result_file)]
    assert isinstance(
        drop_folder_sensor(build_sensor_context(instance=instance, cursor=ctx.cursor, definitions=defs)),
        SkipReason,
    )
    config = request.run_config["ops"]["ingest_files"]["config"]
    config.update(suite="adhoc", tool="sleep")
    result = defs.resolve_job_def("ingest_files_job").execute_in_process(
        run_config=request.run_config, instance=instance
    )
    assert result.success
    out = result.output_for_node("ingest_files")
    assert out["samples"] == 5
    assert Store().query("SELECT count(*) FROM samples_all WHERE run_id = ?", [out["run_id"]]).item() == 5


# ---------------------------------------------------------------------------------------- alerts
class _Hook(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append((self.path, json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@op
def _explode():
    raise RuntimeError("planned failure for the alert test")


@job(tags={"dagster/partition": "vcs"})
def exploding_job():
    _explode()


def _failure_context(instance: DagsterInstance):
    result = exploding_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    (entry,) = instance.all_logs(result.run_id, of_type=DagsterEventType.RUN_FAILURE)
    return build_run_status_sensor_context(
        sensor_name="run_failure_alert",
        dagster_event=entry.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()


def test_run_failure_sensor_writes_alert_and_posts_webhook(bench_home, monkeypatch, instance, caplog):
    from jobs.sensors import run_failure_alert

    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret = uuid.uuid4().hex
    monkeypatch.setenv(
        "BENCH_PIPELINE_ALERT_WEBHOOK", f"http://127.0.0.1:{server.server_port}/hook?token={secret}"
    )
    try:
        ctx = _failure_context(instance)
        run_failure_alert(ctx)
    finally:
        server.shutdown()
    alerts = Store().query("SELECT * FROM alerts")
    assert alerts.height == 1
    alert = alerts.row(0, named=True)
    assert alert["kind"] == "run_failure" and alert["job_name"] == "exploding_job"
    assert alert["suite"] == "vcs" and alert["webhook_status"] == "sent 200"
    assert "planned failure" in alert["message"] or "_explode" in alert["details"]
    ((path, payload),) = _Hook.received
    assert path == f"/hook?token={secret}" and payload["dagster_run_id"] == ctx.dagster_run.run_id
    assert secret not in caplog.text and secret not in json.dumps(alert, default=str)

    # an unreachable webhook: the alert is still recorded, with the failure
    monkeypatch.setenv("BENCH_PIPELINE_ALERT_WEBHOOK", f"http://127.0.0.1:9/hook?token={secret}")
    run_failure_alert(_failure_context(instance))
    statuses = Store().query("SELECT webhook_status FROM alerts ORDER BY created_at")["webhook_status"]
    assert statuses[1].startswith("failed") and secret not in statuses[1]


# ---------------------------------------------------------------------------------------- follow-up
@op
def _fine():
    return 1


@job
def fine_job():
    _fine()


def _run_status_evaluator(instance, sensor, name: str):
    """``evaluate(run)``: what the run-status ``sensor`` asks for when ``run`` (stored first) finished."""
    result = fine_job.execute_in_process(instance=instance)
    (entry,) = instance.all_logs(result.run_id, of_type=DagsterEventType.RUN_SUCCESS)

    def evaluate(run: DagsterRun):
        if instance.get_run_by_id(run.run_id) is None:
            instance.add_run(run)
        return sensor(
            build_run_status_sensor_context(
                sensor_name=name,
                dagster_event=entry.dagster_event,
                dagster_instance=instance,
                dagster_run=run,
            )
        )

    return evaluate


def test_measure_followup_ingests_every_tool_then_reports(instance):
    from jobs.sensors import measure_followup

    evaluate = _run_status_evaluator(instance, measure_followup, "measure_followup")

    measured = DagsterRun(
        job_name="measure_job",
        run_id=str(uuid.uuid4()),
        status=DagsterRunStatus.SUCCESS,
        tags={"dagster/partition": "vcs", "bench/git_tag": "v9", "bench/run_id": "r1"},
        run_config={"ops": {"measurements": {"config": {"tools": ["git", "jj"]}}}},
    )
    requests = evaluate(measured)
    assert [r.job_name for r in requests] == ["ingest_job", "ingest_job"]
    assert {str(r.partition_key) for r in requests} == {"vcs|git", "vcs|jj"}
    assert all(r.tags["bench/git_tag"] == "v9" and r.tags["bench/run_id"] == "r1" for r in requests)

    outcomes = []
    for r in requests:
        ingest = DagsterRun(
            job_name="ingest_job", run_id=str(uuid.uuid4()), status=DagsterRunStatus.SUCCESS, tags=r.tags
        )
        outcomes.append(evaluate(ingest))
    assert isinstance(outcomes[0], SkipReason)  # one of two tools ingested
    (report,) = outcomes[1]
    assert report.job_name == "report_job" and report.partition_key == "vcs"
    assert report.run_key == "report-r1"
    assert report.run_config["ops"]["report"]["config"]["run"] == "r1"
    assert isinstance(evaluate(measured), SkipReason)  # its ingest runs exist: nothing is started twice


def test_fleet_followup_ingests_each_delivered_run_once_whether_launched_by_the_ui_or_the_cli(instance):
    """A finished fleet_job run starts ingest_job per tool for every bench run it delivered: from the
    launchpad (bench run ids derived from its ops' config and root run) and from the CLI (its
    ``bench/fleet_runs`` tag); a bench run whose stages exist already is not started twice."""
    from jobs.fleet import build_fleet_followup, build_fleet_job, fleet_run_id

    sensor = build_fleet_followup(build_fleet_job())
    evaluate = _run_status_evaluator(instance, sensor, "fleet_followup")

    root = uuid.uuid4().hex
    launched = DagsterRun(
        job_name="fleet_job",
        run_id=root,
        status=DagsterRunStatus.SUCCESS,
        run_config={
            "ops": {
                "measure_on_bench_a": {
                    "config": {"suite": "vcs", "tools": ["git", "jj"], "sizes": ["small"]}
                },
                "measure_on_bench_b": {
                    "config": {"suite": "vcs", "tools": ["git", "jj"], "sizes": ["medium"]}
                },
            }
        },
    )
    requests = evaluate(launched)
    runs = {fleet_run_id("vcs", "bench-a", root), fleet_run_id("vcs", "bench-b", root)}
    assert sensor.job_name == "ingest_job" and len(requests) == 4  # the sensor's request_job
    assert {(r.tags["bench/run_id"], str(r.partition_key)) for r in requests} == {
        (run, key) for run in runs for key in ("vcs|git", "vcs|jj")
    }
    assert all(r.tags["bench/stage"] == "ingest" and r.tags["bench/tools"] == "git,jj" for r in requests)
    assert len({r.run_key for r in requests}) == 4

    done = fleet_run_id("vcs", "bench-a", root)  # bench-a's ingest runs exist, for both tools
    for r in requests:
        if r.tags["bench/run_id"] == done:
            instance.add_run(DagsterRun(job_name="ingest_job", run_id=str(uuid.uuid4()),
                                        status=DagsterRunStatus.SUCCESS, tags=r.tags))  # fmt: skip
    left = evaluate(launched)
    assert {r.tags["bench/run_id"] for r in left} == runs - {done} and len(left) == 2

    by_cli = DagsterRun(
        job_name="fleet_job",
        run_id=uuid.uuid4().hex,
        status=DagsterRunStatus.SUCCESS,
        tags={"bench/suite": "vcs", "bench/tools": "git", "bench/fleet_runs": "bench-a=cli-r1"},
    )
    (cli_request,) = evaluate(by_cli)
    assert cli_request.tags["bench/run_id"] == "cli-r1" and str(cli_request.partition_key) == "vcs|git"
    instance.add_run(DagsterRun(job_name="ingest_job", run_id=str(uuid.uuid4()), status=DagsterRunStatus.SUCCESS,
                                tags=cli_request.tags))  # fmt: skip
    assert isinstance(evaluate(by_cli), SkipReason)  # `bench-pipeline fleet` ran its stages: skipped
    empty = DagsterRun(job_name="fleet_job", run_id=uuid.uuid4().hex, status=DagsterRunStatus.SUCCESS)
    assert "carries no bench runs" in str(evaluate(empty).skip_message)


def test_definitions_load():
    from definitions import defs

    Definitions.validate_loadable(defs)
    names = {s.name for s in defs.sensors} | {s.name for s in defs.schedules}
    assert names >= {
        "git_tag_sensor",
        "drop_folder_sensor",
        "run_failure_alert",
        "nightly_suites",
        "daily_tiering",
    }


# ---------------------------------------------------------------------------------------- the daemon
SENSOR_QUERY = """
query($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) {
  ... on Sensor { sensorState { status ticks(limit: 5) { status cursor } } } } }
"""
RUNS_QUERY = """
{ runsOrError(filter: {tags: [{key: "bench/git_tag", value: "v7.0"}]}) {
    ... on Runs { results { runId status jobName tags { key value } } } } }
"""


@pytest.mark.e2e
@pytest.mark.slow
def test_daemon_ticks_tag_sensor_and_a_run_starts(repo, bench_home, tmp_path, monkeypatch):
    from dagster_graphql import DagsterGraphQLClient

    from tests.e2e.dagster_server import dagster_ui

    monkeypatch.setenv("BENCH_PIPELINE_WATCH_REPOS", str(repo))
    monkeypatch.setenv("BENCH_PIPELINE_WATCH_SUITES", "vcs")
    monkeypatch.setenv("BENCH_PIPELINE_TAG_INTERVAL", "5")
    log = tmp_path / "dagster.log"
    with dagster_ui(bench_home, log) as (_url, port):
        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        selector = {
            "repositoryLocationName": "bench_pipeline",
            "repositoryName": "__repository__",
            "sensorName": "git_tag_sensor",
        }

        def ticks() -> list:
            state = client._execute(SENSOR_QUERY, {"selector": selector})["sensorOrError"]["sensorState"]
            assert state["status"] == "RUNNING"  # on by default: the daemon of `bench-pipeline ui` runs it
            return state["ticks"]

        deadline = time.monotonic() + 180
        while not any(t["cursor"] for t in ticks()):  # the first tick records the existing tags
            assert time.monotonic() < deadline, f"no sensor tick:\n{log.read_text()[-3000:]}"
            time.sleep(2)
        commit = _commit(repo, "tagged\n")
        git(repo, "tag", "v7.0")
        runs: list = []
        while not runs:
            assert time.monotonic() < deadline, f"no run for the tag:\n{log.read_text()[-3000:]}"
            time.sleep(2)
            runs = client._execute(RUNS_QUERY)["runsOrError"]["results"]
        (run,) = runs
        tags = {t["key"]: t["value"] for t in run["tags"]}
        assert run["jobName"] == "measure_job"
        assert tags["bench/commit"] == commit and tags["dagster/partition"] == "vcs"
        assert tags["bench/trigger"] == "tag"
        if run["status"] in ("QUEUED", "STARTING", "STARTED", "NOT_STARTED"):
            import contextlib

            from dagster_graphql import DagsterGraphQLClientError

            # measuring the whole suite is not this test's job; a run not started yet has nothing to stop
            with contextlib.suppress(DagsterGraphQLClientError):
                client.terminate_run(run["runId"])
