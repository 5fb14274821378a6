"""Submissions of the API: committed in groups by one writer thread, analysed behind the response.

A request's thread hands its runs to :class:`Submitter` and waits for its commit only. The writer
takes every submission waiting at that moment and stores them in one landing directory and one load
transaction (``ingest.load.ingest_groups``) — under load, one commit serves many requests, so
latency stays low. Each submission is checked first (a run id stored with other content: 409, the
same content: 200 ``exists``); if a group's commit fails, its submissions are committed one by one,
so a bad one fails alone. The runs are stored *pending* (``runs.pending_status``); an analysis
thread then computes their statistics and gives them their status (``resume.complete_runs``),
also for runs a killed server left pending (at start).
"""

from __future__ import annotations

import logging
import queue
import tempfile
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from bench_pipeline.ingest.load import IngestResult, ingest_groups, link_batch, payload_sha256
from bench_pipeline.ingest.payload import RunSubmission
from bench_pipeline.ingest.plan import identity_of
from bench_pipeline.resume import complete_runs
from bench_pipeline.store import Store, queries
from bench_pipeline.store.landing import write_landing
from bench_pipeline.store.schema import SAMPLE_SCHEMA

log = logging.getLogger("bench_pipeline.http")
MAX_GROUP = 200  # submissions per commit
QUIET_SECONDS = 0.5  # the analysis waits for a pause in submissions: commits first, statistics after


class Conflict(Exception):
    """A run id already stored with other content (HTTP 409)."""


@dataclass
class Submission:
    runs: list[RunSubmission]
    batch_id: str | None
    metadata: dict[str, Any]
    done: Future = field(default_factory=Future)
    new: list[RunSubmission] = field(default_factory=list)
    same: list[RunSubmission] = field(default_factory=list)


class Submitter:
    def __init__(self, store: Store) -> None:
        self.store = store
        _warm_up(store)
        self.todo: queue.Queue[Submission] = queue.Queue()
        self.analyse: queue.Queue[list[str] | None] = queue.Queue()
        threading.Thread(target=self._write, name="api-writer", daemon=True).start()
        threading.Thread(target=self._analyse, name="api-analysis", daemon=True).start()
        self.analyse.put(None)  # first: whatever a killed server left pending

    def enqueue(self, runs: list[RunSubmission], batch_id: str | None, metadata: dict[str, Any]) -> Future:
        """A future of this submission's commit: ``(new, same, IngestResult)``, or its exception."""
        item = Submission(runs, batch_id, metadata)
        self.todo.put(item)
        return item.done

    # ------------------------------------------------------------------ the writer
    def _write(self) -> None:
        while True:
            group = [self.todo.get()]
            while len(group) < MAX_GROUP:
                try:
                    group.append(self.todo.get_nowait())
                except queue.Empty:
                    break
            try:
                self._commit(group)
            except Exception as exc:  # never leave a request waiting
                for item in group:
                    if not item.done.done():
                        item.done.set_exception(exc)

    def _commit(self, group: list[Submission]) -> None:
        ids = [run.run_id for item in group for run in item.runs]
        found = queries.existing_runs(self.store, ids)
        claimed: dict[str, str] = {}  # run id -> payload identity, earlier in this group
        ready = []
        for item in group:
            try:
                for run in item.runs:
                    identity = identity_of(payload_sha256(run))
                    row = found.get(run.run_id)
                    if run.run_id in claimed:
                        if claimed[run.run_id] != identity:
                            raise Conflict(run.run_id)
                        item.same.append(run)
                    elif row is None:
                        item.new.append(run)
                    elif row["trigger"] == "api" and identity in (row["shas"] or []):
                        item.same.append(run)
                    else:
                        raise Conflict(run.run_id)
                for run in item.new:
                    claimed[run.run_id] = identity_of(payload_sha256(run))
                ready.append(item)
            except Conflict as exc:
                item.done.set_exception(exc)
        with_new = [item for item in ready if item.new]
        try:
            results = {id(with_new[0]): self._store(with_new)} if len(with_new) == 1 else {}
            if len(with_new) > 1:
                shared = self._store(with_new)
                results = {id(item): shared for item in with_new}
        except Exception:  # one bad submission must not fail the others: one by one
            results = {}
            for item in with_new:
                try:
                    results[id(item)] = self._store([item])
                except Exception as exc:
                    item.done.set_exception(exc)
        for item in ready:
            if item.done.done():
                continue
            try:
                if item.batch_id and item.same:
                    link_batch(
                        self.store, item.batch_id, [(r.run_id, r.suite) for r in item.same], item.metadata
                    )
                result = results.get(id(item)) or IngestResult(run_id=item.runs[0].run_id)
                item.done.set_result((item.new, item.same, _own(result, item)))
            except Exception as exc:
                item.done.set_exception(exc)
        stored = [run.run_id for item in with_new if id(item) in results for run in item.new]
        if stored:
            self.analyse.put(stored)

    def _store(self, items: list[Submission]) -> IngestResult:
        return ingest_groups([(item.new, item.batch_id, item.metadata) for item in items], store=self.store)

    # ------------------------------------------------------------------ the analysis
    def _analyse(self) -> None:
        while True:
            first = self.analyse.get()
            run_ids: list[str] | None = None if first is None else list(first)
            while True:  # gather what arrives until submissions pause: one analysis for all of it
                try:
                    more = self.analyse.get(timeout=QUIET_SECONDS)
                except queue.Empty:
                    if self.todo.empty():
                        break
                    continue
                run_ids = None if more is None or run_ids is None else [*run_ids, *more]
            try:
                complete_runs(self.store, run_ids)  # None: every pending run
            except Exception:
                log.exception("analysis of submitted runs %s failed; they stay pending", run_ids)


def _warm_up(store: Store) -> None:
    """Take the first-use costs of the commit path (Parquet writer, DuckDB's Parquet reader, the
    first queries) at start, not in the first client's request."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write_landing(
            pl.DataFrame(schema=SAMPLE_SCHEMA), Path(tmp), run_id="w", kind="samples", suite="w", tool="w"
        )
        with duckdb.connect() as con:
            con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchall()
    queries.existing_runs(store, ["-"])


def _own(result: IngestResult, item: Submission) -> IngestResult:
    """The part of a group's result that belongs to one submission."""
    mine = {run.run_id for run in item.new}
    samples = sum(len(run.as_samples()) for run in item.new)
    return IngestResult(
        run_id=item.runs[0].run_id,
        run_ids=[r for r in result.run_ids if r in mine],
        samples=samples if len(result.run_ids) > len(mine) else result.samples,
        operations=len({s.operation for run in item.new for s in run.as_samples()}),
        warnings=[w for w in result.warnings if any(r in w for r in mine)],
        batch_id=item.batch_id,
    )
