"""The FastAPI application: submissions (through the landing area, like local runs) and reads.

DuckDB has one writer per file, and one process may not hold the file open read-only and
read-write at once: every store access of this process is serialised by one lock (reads are
short). Other processes (a CLI ingest, Dagster) are waited for by the store's lock retry.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, Field

from bench_pipeline.errors import BenchError, IngestError, StoreError
from bench_pipeline.ingest.payload import BatchSubmission, RunSubmission
from bench_pipeline.interfaces.http import dashboard, findings
from bench_pipeline.interfaces.http.guard import DEFAULT_MAX_BODY, ErrorIds, Guard
from bench_pipeline.interfaces.http.submissions import Conflict, Submitter
from bench_pipeline.jsonable import finite
from bench_pipeline.store import Store, queries

bearer = HTTPBearer(
    auto_error=False,
    description="`Authorization: Bearer <token>`; the token is BENCH_PIPELINE_API_TOKEN on the server",
)


class Submitted(BaseModel):
    """Answer to a submission: what was stored (201) or found already stored (200)."""

    status: str = Field(description="created | exists")
    run_id: str
    run_ids: list[str]
    batch_id: str | None = None
    samples: int = Field(description="samples stored by this request (0 when everything existed)")
    operations: int
    warnings: list[str]


class Problem(BaseModel):
    detail: Any


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.start()  # the submissions' writer and analysis threads
    yield


def create_app(
    store: Store | None = None,
    *,
    token: str | None = None,
    max_body_bytes: int | None = None,
    anonymous_reads: bool | None = None,
) -> FastAPI:
    """The API over ``store`` (default: $BENCH_PIPELINE_HOME). ``token`` None reads
    BENCH_PIPELINE_API_TOKEN; an empty token disables submissions. ``anonymous_reads`` (None:
    BENCH_PIPELINE_API_ANONYMOUS_READS, default on; ``serve`` turns it off beyond loopback): reads
    without a token; anonymous readers never see a run's host details."""
    if token is None:
        token = os.environ.get("BENCH_PIPELINE_API_TOKEN", "")
    if anonymous_reads is None:
        anonymous_reads = os.environ.get("BENCH_PIPELINE_API_ANONYMOUS_READS", "1").lower() not in (
            "0",
            "false",
            "no",
        )
    if max_body_bytes is None:
        max_body_bytes = int(os.environ.get("BENCH_PIPELINE_API_MAX_BYTES", DEFAULT_MAX_BODY))
    app = FastAPI(
        title="bench-pipeline results API",
        version="1",
        description=(
            "Submit results of benchmark and agent-evaluation harnesses (bearer token), read runs, "
            "batches and aggregates. Submissions are idempotent by run id. See docs/api.md."
        ),
        lifespan=_lifespan,
    )
    app.state.store = store or Store()
    app.state.anonymous_reads = anonymous_reads
    app.state.lock = threading.Lock()
    app.add_middleware(
        Guard,
        token=token.encode() if token else None,
        max_body_bytes=max_body_bytes,
        anonymous_reads=anonymous_reads,
    )
    app.add_middleware(ErrorIds)  # outermost of ours: a crash anywhere is one JSON 500 with an id

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default echoes the input (NaN cannot even be serialised): locations and messages only
        errors = [
            {
                "loc": list(e.get("loc", ())),
                "msg": str(e.get("msg", "")).removeprefix("Value error, "),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": errors})

    @app.exception_handler(RecursionError)
    async def _deep(_request: Request, _exc: RecursionError) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": "JSON nested too deeply"})

    @app.exception_handler(IngestError)
    async def _bad_payload(_request: Request, exc: IngestError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": exc.render()})

    @app.exception_handler(StoreError)
    async def _store(_request: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": exc.render()})

    @app.exception_handler(BenchError)
    async def _bench(_request: Request, exc: BenchError) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": exc.render()})

    app.state.migrated = False

    def store_() -> Store:
        """The store, migrated once per process (read-only connections do not migrate)."""
        if not app.state.migrated:
            app.state.store.schema_version()
            app.state.migrated = True
        return app.state.store

    app.state.submitter = None
    app.state.start = lambda: _start_submitter()

    def _start_submitter() -> None:  # ready before the first request; completes what a killed server left
        with app.state.lock:
            if app.state.submitter is None:
                app.state.submitter = Submitter(store_())

    async def submit(
        runs: list[RunSubmission], batch_id: str | None, metadata: dict[str, Any]
    ) -> tuple[int, Submitted]:
        # committed with whatever else is waiting (one transaction), awaited without holding a
        # thread; analysed after the response
        if app.state.submitter is None:  # an app used without its startup event
            _start_submitter()
        try:
            committed = app.state.submitter.enqueue(runs, batch_id, metadata)
            new, _same, result = await asyncio.wrap_future(committed)
        except Conflict as exc:
            raise HTTPException(
                409,
                f"run {exc.args[0]} already exists with different content; nothing was stored "
                "(use a new run id for new results)",
            ) from None
        body = Submitted(
            status="created" if new else "exists",
            run_id=runs[0].run_id,
            run_ids=[r.run_id for r in runs],
            batch_id=batch_id,
            samples=result.samples,
            operations=result.operations,
            warnings=result.warnings,
        )
        return (201 if new else 200), body

    responses: dict[int | str, dict[str, Any]] = {
        200: {"model": Submitted, "description": "already stored (same content): nothing changed"},
        401: {"model": Problem, "description": "no bearer token"},
        403: {"model": Problem, "description": "wrong token"},
        409: {"model": Problem, "description": "the run id exists with other content"},
        413: {"model": Problem, "description": "body over the size limit"},
    }

    @app.post(
        "/api/results",
        status_code=201,
        response_model=Submitted,
        responses=responses,
        dependencies=[Depends(bearer)],
        tags=["submit"],
        summary="Submit one run (samples, evaluations, telemetry)",
    )
    async def post_result(payload: RunSubmission) -> JSONResponse:
        status, body = await submit([payload], payload.batch_id, {})
        return JSONResponse(status_code=status, content=body.model_dump())

    @app.post(
        "/api/results/batch",
        status_code=201,
        response_model=Submitted,
        responses=responses,
        dependencies=[Depends(bearer)],
        tags=["submit"],
        summary="Submit a batch of runs (all or nothing)",
    )
    async def post_batch(payload: BatchSubmission) -> JSONResponse:
        status, body = await submit(payload.runs, payload.batch_id, payload.metadata)
        return JSONResponse(status_code=status, content=body.model_dump())

    def read(fn: Any, *args: Any, **kwargs: Any) -> Any:
        with app.state.lock:
            return finite(jsonable_encoder(fn(store_(), *args, **kwargs)))

    @app.get("/api/runs", tags=["read"], summary="Runs, newest first")
    def runs(
        suite: str | None = Query(None, max_length=256),
        tool: str | None = Query(None, max_length=256),
        status: str | None = Query(None, max_length=32),
        trigger: str | None = Query(None, max_length=32),
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=10**9),
    ) -> dict[str, Any]:
        found = read(
            queries.list_runs,
            suite=suite,
            status=status,
            trigger=trigger,
            tool=tool,
            limit=limit,
            offset=offset,
        )
        return {"runs": found, "limit": limit, "offset": offset}

    @app.get("/api/runs/{run_id}", tags=["read"], summary="One run: metadata, cells, wall times, metrics")
    def run(run_id: str, request: Request) -> dict[str, Any]:
        found = read(queries.get_run, run_id)
        if found is None:
            raise HTTPException(404, "no such run")
        if not request.scope.get("bench_authenticated"):  # host details are for token holders
            found.pop("host", None)
        return found

    @app.get("/api/runs/{run_id}/samples", tags=["read"], summary="Samples of a run, with their metrics")
    def run_samples(
        run_id: str,
        limit: int = Query(1000, ge=1, le=100_000),
        offset: int = Query(0, ge=0, le=10**12),
    ) -> dict[str, Any]:
        from bench_pipeline.ingest.export import samples_with_metrics

        if read(queries.get_run, run_id) is None:
            raise HTTPException(404, "no such run")
        total = read(lambda s: int(s.query(queries.SAMPLE_COUNT_SQL, [run_id]).item(0, 0)))
        samples = read(samples_with_metrics, run_id, limit=limit, offset=offset)
        return {"run_id": run_id, "total": total, "limit": limit, "offset": offset, "samples": samples}

    @app.get("/api/batches", tags=["read"], summary="Batches, newest first, with score and telemetry totals")
    def batches(
        limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=10**9)
    ) -> dict[str, Any]:
        return {"batches": read(queries.list_batches, batch_id=None, limit=limit, offset=offset)}

    @app.get("/api/batches/{batch_id}", tags=["read"], summary="One batch and its runs")
    def batch(batch_id: str) -> dict[str, Any]:
        found = read(queries.get_batch, batch_id)
        if found is None:
            raise HTTPException(404, "no such batch")
        return found

    @app.get("/api/stats", tags=["read"], summary="Aggregates over everything stored")
    def stats() -> dict[str, Any]:
        return read(queries.stats)

    @app.get("/api/stats/tools", tags=["read"], summary="Aggregates per tool (agent)")
    def tool_stats() -> dict[str, Any]:
        return {"tools": read(queries.tool_stats)}

    @app.get("/health", tags=["read"], summary="Liveness and schema version")
    def health() -> dict[str, Any]:
        return {"status": "ok", "schema_version": read(queries.schema_version)}

    for extra in (findings.router(), dashboard.router()):  # read-only: a run's findings, the dashboard
        app.include_router(extra)
    return app
