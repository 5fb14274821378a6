"""Sensors (SPEC §8): new git tags in watched repositories, new files in the drop folder, failed runs
(alert record + optional webhook), and the follow-up that ingests and reports a finished measurement.

Settings: jobs.schedules.load_settings (operations.yaml / environment), read at every tick.
"""

import fnmatch
import hashlib
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from dagster import (
    DagsterEventType,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    RunsFilter,
    RunStatusSensorContext,
    SensorEvaluationContext,
    SkipReason,
    run_failure_sensor,
    run_status_sensor,
    sensor,
)

from assets.partitions import SUITES, suite_tool_key
from bench_pipeline import paths
from bench_pipeline.errors import BenchError
from bench_pipeline.store import Store
from jobs.ingest_files import ingest_files_job
from jobs.schedules import AT_LOAD, DropSettings, known_suites, load_settings, measure_run_config
from jobs.stages import ingest_job, measure_job, report_job

SKIPPED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp")


def _status(enabled: bool) -> DefaultSensorStatus:
    return DefaultSensorStatus.RUNNING if enabled else DefaultSensorStatus.STOPPED


# ---------------------------------------------------------------------------------------- names
_UNSAFE = re.compile(r"[^A-Za-z0-9_.@+-]")


def sanitize_key(name: str, max_len: int = 64) -> str:
    """A name from outside (a git tag) made safe for partition keys, run keys and file names.

    Keeps letters, digits and ``_ . @ + -``; anything else (``| , [ ] /`` spaces …) becomes ``_``,
    runs of dots collapse to one (no ``...``). When the result differs from ``name`` or is cut to
    ``max_len``, an 8-hex hash of the original keeps distinct names distinct.
    """
    safe = re.sub(r"\.{2,}", ".", _UNSAFE.sub("_", name)).strip("._-") or "tag"
    if safe == name and len(safe) <= max_len:
        return safe
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{safe[: max_len - 9]}-{digest}"


def redact(url: str) -> str:
    """A repository URL without credentials (``https://user:token@host`` → ``https://***@host``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def repository_key(url: str) -> str:
    """A stable, secret-free key of a repository for cursors and run keys: its name + a hash of the URL."""
    name = Path(urlsplit(url).path or url).name.removesuffix(".git") or "repo"
    return f"{sanitize_key(name, 32)}-{hashlib.sha256(url.encode()).hexdigest()[:10]}"


# ---------------------------------------------------------------------------------------- git tags
def list_tags(url: str, timeout: float = 60.0) -> dict[str, str]:
    """tag → commit of a repository (local path or remote), via ``git ls-remote --tags``.

    Annotated tags are peeled to the commit they point at (the ``^{}`` lines).
    """
    try:
        proc = subprocess.run(
            ["git", "ls-remote", "--tags", url],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchError(
            f"cannot list tags of {redact(url)}: {type(exc).__name__}",
            fix="check that git is installed and the repository is reachable",
        ) from None
    if proc.returncode != 0:
        raise BenchError(
            f"git ls-remote failed for {redact(url)}: {proc.stderr.strip()[-300:].replace(url, redact(url))}",
            fix="check the path or URL in watch.repositories (or BENCH_PIPELINE_WATCH_REPOS)",
        )
    tags: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        sha, _, ref = line.partition("\t")
        if not ref.startswith("refs/tags/"):
            continue
        name = ref[len("refs/tags/") :]
        if name.endswith("^{}"):
            peeled[name[:-3]] = sha
        else:
            tags[name] = sha
    return {name: peeled.get(name, sha) for name, sha in tags.items()}


def new_tag_requests(
    cursor: dict[str, dict[str, str]], settings=None, log=None
) -> tuple[list[RunRequest], dict[str, dict[str, str]], list[str]]:
    """RunRequests for tags not in ``cursor`` (or moved), the new cursor, and problems met.

    The first time a repository is seen, its existing tags are recorded without starting runs.
    A repository that cannot be read keeps its previous cursor entry.
    """
    watch = (settings or load_settings()).watch
    requests: list[RunRequest] = []
    new_cursor: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    for repo in watch.repositories:
        key = repository_key(repo.url)
        try:
            tags = list_tags(repo.url, watch.timeout_seconds)
        except BenchError as exc:
            problems.append(exc.message)
            if key in cursor:
                new_cursor[key] = cursor[key]
            continue
        pattern = repo.pattern or watch.pattern
        tags = {t: c for t, c in tags.items() if fnmatch.fnmatchcase(t, pattern)}
        new_cursor[key] = tags
        if key not in cursor:
            if log:
                log.info(f"{redact(repo.url)}: first look, {len(tags)} existing tag(s) recorded, no runs")
            continue
        suites, unknown = known_suites(repo.suites or watch.suites)
        if unknown:
            problems.append(f"unknown suites for {redact(repo.url)}: {', '.join(unknown)}")
        for tag, commit in sorted(tags.items()):
            if cursor[key].get(tag) == commit:
                continue
            for suite in suites:
                requests.append(
                    RunRequest(
                        run_key=f"tag-{key}-{sanitize_key(tag)}-{commit[:12]}-{suite}",
                        partition_key=suite,
                        run_config=measure_run_config(trigger="tag", git_tag=tag, git_commit=commit),
                        tags={
                            "bench/trigger": "tag",
                            "bench/git_tag": tag,
                            "bench/commit": commit,
                            "bench/repository": redact(repo.url),
                        },
                    )
                )
    return requests, new_cursor, problems


@sensor(
    name="git_tag_sensor",
    job=measure_job,
    minimum_interval_seconds=AT_LOAD.watch.interval_seconds,
    default_status=_status(AT_LOAD.watch.enabled),
    description="Starts measure_job for each suite when a watched repository gets a new tag.",
)
def git_tag_sensor(context: SensorEvaluationContext):
    settings = load_settings()
    if not settings.watch.repositories:
        return SkipReason("no repositories watched (watch.repositories / BENCH_PIPELINE_WATCH_REPOS)")
    cursor = json.loads(context.cursor) if context.cursor else {}
    requests, new_cursor, problems = new_tag_requests(cursor, settings, context.log)
    for problem in problems:
        context.log.warning(problem)
    context.update_cursor(json.dumps(new_cursor, sort_keys=True))
    if requests:
        return requests
    return SkipReason("; ".join(problems) if problems else "no new tags")


# ---------------------------------------------------------------------------------------- drop folder
def drop_folder(settings: DropSettings) -> Path:
    return Path(settings.folder).expanduser() if settings.folder else paths.home() / "drop"


def new_drop_files(
    folder: Path, seen: dict[str, list[int]], settle_seconds: float, now: float | None = None
) -> tuple[list[Path], dict[str, list[int]]]:
    """Files of ``folder`` that are new or changed since ``seen`` ({name: [mtime_ns, size]}), and the
    new cursor. Hidden and partial files are ignored; a file modified in the last ``settle_seconds``
    is left for a later tick (it may still be being written); vanished files leave the cursor."""
    now = time.time() if now is None else now
    fresh: list[Path] = []
    cursor: dict[str, list[int]] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.name.endswith(SKIPPED_SUFFIXES):
            continue
        st = path.stat()
        signature = [st.st_mtime_ns, st.st_size]
        if now - st.st_mtime < settle_seconds:
            if path.name in seen:
                cursor[path.name] = seen[path.name]
            continue
        cursor[path.name] = signature
        if seen.get(path.name) != signature:
            fresh.append(path)
    return fresh, cursor


@sensor(
    name="drop_folder_sensor",
    job=ingest_files_job,
    minimum_interval_seconds=AT_LOAD.drop.interval_seconds,
    default_status=_status(AT_LOAD.drop.enabled),
    description="Starts ingest_files_job for each new (or changed) file in the drop folder.",
)
def drop_folder_sensor(context: SensorEvaluationContext):
    drop = load_settings().drop
    folder = drop_folder(drop)
    if not folder.is_dir():
        return SkipReason(f"no drop folder at {folder}")
    seen = json.loads(context.cursor) if context.cursor else {}
    fresh, cursor = new_drop_files(folder, seen, drop.settle_seconds)
    context.update_cursor(json.dumps(cursor, sort_keys=True))
    if not fresh:
        return SkipReason("no new files")
    requests = []
    for path in fresh:
        mtime_ns, size = cursor[path.name]
        config = {"paths": [str(path)], "format": drop.format, "suite": drop.suite, "tool": drop.tool}
        requests.append(
            RunRequest(
                run_key=f"drop-{sanitize_key(path.name)}-{mtime_ns}-{size}",
                run_config={"ops": {"ingest_files": {"config": config}}},
                tags={"bench/trigger": "drop", "bench/file": path.name},
            )
        )
    return requests


# ---------------------------------------------------------------------------------------- alerts
def post_webhook(url: str, payload: dict, timeout: float) -> str:
    """POST ``payload`` as JSON; the outcome as text. The URL (it may hold a token) never appears in it."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, default=str).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "bench-pipeline"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (configured URL)
            return f"sent {response.status}"
    except urllib.error.HTTPError as exc:
        return f"failed: HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"failed: {type(exc).__name__}: {str(reason).replace(url, '<webhook>')}"[:300]


def record_alert(
    *,
    kind: str,
    message: str,
    dagster_run_id: str | None = None,
    job_name: str | None = None,
    partition_key: str | None = None,
    suite: str | None = None,
    details: dict | None = None,
    severity: str = "error",
    store: Store | None = None,
) -> dict:
    """Write an alert row (and POST it to the webhook, when one is configured); returns the alert."""
    alerts = load_settings().alerts
    alert = {
        "alert_id": uuid.uuid4().hex,
        "created_at": datetime.now(UTC),
        "kind": kind,
        "severity": severity,
        "dagster_run_id": dagster_run_id,
        "job_name": job_name,
        "partition_key": partition_key,
        "suite": suite,
        "message": message,
        "details": details or {},
    }
    webhook = None
    if alerts.enabled and alerts.webhook_url:
        webhook = post_webhook(
            alerts.webhook_url, {**alert, "source": "bench-pipeline"}, alerts.timeout_seconds
        )
    alert["webhook_status"] = webhook
    with (store or Store()).connect() as con:
        con.execute(
            "INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                alert["alert_id"],
                alert["created_at"],
                kind,
                severity,
                dagster_run_id,
                job_name,
                partition_key,
                suite,
                message,
                json.dumps(alert["details"], default=str),
                webhook,
            ],
        )
    return alert


@run_failure_sensor(
    name="run_failure_alert",
    default_status=_status(AT_LOAD.alerts.enabled),
    description="Records an alert (DuckDB table alerts) for every failed run; POSTs it to the webhook if set.",
)
def run_failure_alert(context: RunFailureSensorContext):
    run = context.dagster_run
    tags = run.tags
    partition = tags.get("dagster/partition")
    suite = tags.get("dagster/partition/suite") or (partition if partition in SUITES else None)
    steps = [e.step_key for e in context.get_step_failure_events() if e.step_key]
    alert = record_alert(
        kind="run_failure",
        message=(context.failure_event.message or "run failed")[:2000],
        dagster_run_id=run.run_id,
        job_name=run.job_name,
        partition_key=partition,
        suite=suite,
        details={"failed_steps": steps, "tags": {k: v for k, v in tags.items() if k.startswith("bench/")}},
    )
    webhook = f"; webhook {alert['webhook_status']}" if alert["webhook_status"] else ""
    context.log.error(
        f"alert {alert['alert_id']}: {run.job_name} run {run.run_id} failed"
        f"{f' (partition {partition})' if partition else ''}{webhook}"
    )


# ---------------------------------------------------------------------------------------- follow-up
def _bench_run_id(instance, dagster_run_id: str) -> str | None:
    """The bench run id recorded by the ``measurements`` materialization of a measure_job run."""
    for record in instance.get_records_for_run(
        dagster_run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
    ).records:
        mat = record.event_log_entry.asset_materialization
        if mat is not None and "run_id" in mat.metadata:
            return str(mat.metadata["run_id"].value)
    return None


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    name="measure_followup",
    monitored_jobs=[measure_job, ingest_job],
    request_jobs=[ingest_job, report_job],
    default_status=DefaultSensorStatus.RUNNING,
    description="After measure_job: ingest_job for each tool of the suite; after those: report_job.",
)
def measure_followup(context: RunStatusSensorContext):
    run = context.dagster_run
    tags = run.tags
    if "bench/pid" in tags:  # started in-process by `bench-pipeline run`, which runs the next stages itself
        return SkipReason(f"run {run.run_id} belongs to a CLI invocation that continues it")
    passed = {k: v for k, v in tags.items() if k in ("bench/trigger", "bench/git_tag", "bench/commit")}
    if run.job_name == measure_job.name:
        suite = tags.get("dagster/partition")
        if suite not in SUITES:
            return SkipReason(f"measure run {run.run_id} has no known suite partition")
        run_config = run.run_config if isinstance(run.run_config, dict) else {}
        config = (run_config.get("ops", {}).get("measurements", {}) or {}).get("config", {}) or {}
        tools = SUITES[suite].select_tools(config.get("tools") or None)
        bench_run = _bench_run_id(context.instance, run.run_id) or "latest"
        return [
            RunRequest(
                job_name=ingest_job.name,
                partition_key=suite_tool_key(suite, tool),
                run_key=f"ingest-{run.run_id}-{tool}",
                tags={
                    **passed,
                    "bench/after": run.run_id,
                    "bench/expected": str(len(tools)),
                    "bench/run_id": bench_run,
                    "bench/suite": suite,
                },
            )
            for tool in tools
        ]
    parent = tags.get("bench/after")
    if run.job_name != ingest_job.name or not parent:
        return SkipReason("not part of a measured suite run")
    done = context.instance.get_runs_count(
        RunsFilter(
            job_name=ingest_job.name, tags={"bench/after": parent}, statuses=[DagsterRunStatus.SUCCESS]
        )
    )
    if done < int(tags.get("bench/expected", "1")):
        return SkipReason(f"{done} of {tags.get('bench/expected')} tools ingested for {parent}")
    return RunRequest(
        job_name=report_job.name,
        partition_key=tags["bench/suite"],
        run_key=f"report-{parent}",
        run_config={"ops": {"report": {"config": {"run": tags.get("bench/run_id", "latest")}}}},
        tags={**passed, "bench/after": parent},
    )


SENSORS = [git_tag_sensor, drop_folder_sensor, run_failure_alert, measure_followup]
JOBS = [ingest_files_job]
