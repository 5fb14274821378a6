"""Results bundles (bench-pipeline's own submission format, see ``bench_pipeline.ingest.payload``).

A file holds one run (the body of ``POST /api/results``) or a batch of runs (the body of
``POST /api/results/batch``). Everything in the schema is kept: samples raw, evaluator scores as
``score.<evaluator>`` (0–1) and ``passed.<evaluator>``, the overall ``score``, telemetry as
``tokens_in``, ``tokens_out``, ``tool_calls``, ``cost_usd``; the batch links its runs. Lost:
evaluators' free-text ``details``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from bench_pipeline.ingest.model import Parsed, validation_error
from bench_pipeline.ingest.payload import SCHEMA, BatchIn, RunIn, to_run_data
from bench_pipeline.ingest.source import Source

NAME = "bundle"
FIX = "see docs/api.md for the results bundle schema (a run, or {batch_id, runs: [...]})"
_RUN_KEYS = {"samples", "evaluations", "telemetry"}


def _is_run(doc: Any) -> bool:
    return isinstance(doc, dict) and bool(_RUN_KEYS & doc.keys()) and ("suite" in doc or "run_id" in doc)


def detect(src: Source) -> bool:
    doc = src.json_doc()
    if not isinstance(doc, dict):
        return False
    if doc.get("schema") == SCHEMA:
        return True
    runs = doc.get("runs")
    return _is_run(doc) or (isinstance(runs, list) and bool(runs) and all(_is_run(r) for r in runs))


def parse(src: Source) -> Parsed:
    doc = src.json
    try:
        if isinstance(doc, dict) and "runs" in doc:
            batch = BatchIn.model_validate(doc)
            runs = [
                to_run_data(r, batch_id=batch.batch_id, batch_metadata=batch.metadata) for r in batch.runs
            ]
        else:
            runs = [to_run_data(RunIn.model_validate(doc))]
    except ValidationError as exc:
        raise validation_error(exc, src.where, fix=FIX) from None
    return Parsed(NAME, src.name, src.sha256, runs)
