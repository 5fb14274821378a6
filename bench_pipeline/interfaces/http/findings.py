"""``GET /api/runs/{run_id}/findings``: recommendations with evidence, error clusters, the quality score
and the most similar earlier runs of one run (``bench_pipeline.patterns.findings``); read-only."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request

from bench_pipeline.interfaces.http.reads import read
from bench_pipeline.patterns.findings import RunFindings, run_findings
from bench_pipeline.store import Store


def _findings(store: Store, run_id: str) -> RunFindings:
    return run_findings(store, store.run(run_id)["suite"], run_id)


def router() -> APIRouter:
    api = APIRouter(tags=["read"])

    @api.get(
        "/api/runs/{run_id}/findings",
        summary="What the pipeline learned about a run: recommendations, error clusters, quality, similar runs",
        response_model=RunFindings,
        responses={404: {"description": "no such run"}},
    )
    def findings(run_id: str, request: Request) -> Any:
        # pydantic writes NaN/inf as null: the body is valid JSON whatever the statistics gave
        return json.loads(read(request, _findings, run_id).model_dump_json())

    return api
