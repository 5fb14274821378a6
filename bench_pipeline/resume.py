"""Completing runs: a run reaches ``succeeded`` (or ``failed``) only once its samples, statistics and
reports are committed.

Measuring (``execution.suite_run``) and ingestion (``ingest.load``) leave a run ``running`` with a
*pending status* (``runs.pending_status``, migration 010). The pipeline's later stages — or, when
the process that should have run them died, the next ``bench-pipeline run``, ``ingest``, ``serve``
or the daemon's ``resume_sensor`` — complete it here: load its landing files, compute flags,
statistics and comparisons of what is missing, and for a measured run record history and patterns
and render its reports; only then does the run get its status. Every step is idempotent, so
completing a run twice, or one whose stages did run, changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_pipeline.analysis import analyse_runs
from bench_pipeline.errors import BenchError
from bench_pipeline.ingest.load import IngestResult, ingest_files
from bench_pipeline.store import Store

log = logging.getLogger(__name__)
INGEST_TRIGGERS = ("ingest", "api")


def complete_runs(
    store: Store, run_ids: list[str] | None = None, *, progress: Callable[[str], None] | None = None
) -> dict[str, str]:
    """Complete the pending runs (all, or those of ``run_ids``); returns run → status reached.

    A run that cannot be completed now (its suite file is gone, the store is busy) stays pending
    and is named in the log; it is tried again next time.
    """
    say = progress or (lambda _m: None)
    completing = store.completing_store()
    pending = store.pending_runs(run_ids)
    if not pending:
        return {}
    try:  # landing files, then flags, statistics and comparisons of all of them at once
        for run in pending:  # an ingested run's files were loaded with it; a measured run's may not be
            if run["trigger"] not in INGEST_TRIGGERS:
                completing.load_landing(run_id=run["run_id"])
        analyse_runs(completing, [run["run_id"] for run in pending])
    except BenchError as exc:
        log.warning("runs %s stay pending: %s", [r["run_id"] for r in pending], exc.render())
        say(f"{len(pending)} run(s) stay pending: {exc.message}")
        return {}
    done: dict[str, str] = {}
    for run in pending:
        try:
            done[run["run_id"]] = complete_run(completing, run, say)
        except BenchError as exc:
            log.warning("run %s stays pending: %s", run["run_id"], exc.render())
            say(f"run {run['run_id']} stays pending: {exc.message}")
    return done


def complete_run(store: Store, run: dict, say: Callable[[str], None]) -> str:
    """One pending run whose landing files are loaded and whose statistics are computed: its history,
    patterns and reports when it was measured here, then its status."""
    run_id, suite = run["run_id"], run["suite"]
    loaded = store.query("SELECT count(*) FROM run_cells WHERE run_id = ?", [run_id]).item(0, 0)
    if not loaded:
        with store.connect() as con:  # its landing files are gone: the truth is that it failed
            con.execute(
                "UPDATE runs SET status = 'failed', pending_status = NULL, message = "
                "'its samples never reached the store (landing files missing)' WHERE run_id = ?",
                [run_id],
            )
        say(f"run {run_id}: failed (its landing files are missing)")
        return "failed"
    if run["trigger"] not in INGEST_TRIGGERS:  # a measured run has history, patterns and reports too
        from bench_pipeline.patterns.record import record_history, record_patterns
        from bench_pipeline.report.render import render_run

        record_history(store, suite)
        record_patterns(store, suite)
        render_run(store, suite, run_id)
    status = store.complete_run(run_id) or run["pending_status"]
    say(f"run {run_id}: completed ({status})")
    return status


def ingest_and_complete(paths_: list[Path], store: Store | None = None, **options: Any) -> IngestResult:
    """``ingest_files`` and then the completion of the runs it stored or found pending (the
    ``ingest`` command, the drop folder): a re-ingestion that only says "already ingested; skipped"
    still finishes the analysis an earlier, killed one left undone."""
    store = store or Store()
    result = ingest_files(paths_, store=store, **options)
    complete_runs(store, list(result.run_ids))
    return result
