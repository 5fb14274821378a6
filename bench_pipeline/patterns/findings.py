"""What the pipeline learned about one run, gathered for reports, the ``findings`` command and the API:

* **recommendations** with their evidence (``recommend``): those the ``patterns`` asset stored for
  this run in the learning store (``recommendations``, when it recorded the run: a ``run_quality``
  row exists), else computed now from the same tables;
* **error clusters** of this run's failed samples (``errors.error_clusters`` with ``run_id``);
* the run's **quality** score with its components (``quality.run_quality``);
* the **most similar earlier runs** (``similarity.similar_runs``, runs that started before it), each
  with why (``similarity.why_similar``).
"""

from __future__ import annotations

import json

from pydantic import BaseModel, Field

from bench_pipeline.patterns.errors import ErrorCluster, error_clusters
from bench_pipeline.patterns.quality import RunQuality, run_quality
from bench_pipeline.patterns.recommend import Recommendation, recommend
from bench_pipeline.patterns.similarity import similar_runs, why_similar
from bench_pipeline.store import Store

SIMILAR = 3
STORED_SQL = """
SELECT kind, tool, operation, fixture, title, detail, score, evidence
FROM recommendations WHERE run_id = ? ORDER BY created_at, rowid  -- the order recommend() gave
"""
RECORDED_SQL = "SELECT count(*) FROM run_quality WHERE run_id = ?"


class SimilarRun(BaseModel):
    """An earlier run of the suite that is like this one (cosine of centred log-medians, wall time)."""

    run_id: str
    started_at: str
    git_tag: str | None = None
    cosine: float | None = Field(description="cosine of the two runs' centred log-median vectors, −1…1")
    shared_cells: int
    mean_abs_log_diff: float | None = Field(description="mean |difference| of the centred log-medians")
    why: str = Field(description="the cosine, the cells both runs deviate on the same way, host and tag")


class RunFindings(BaseModel):
    """Recommendations, error clusters, quality and similar earlier runs of one run."""

    run_id: str
    suite: str
    recommendations: list[Recommendation] = Field(default_factory=list)
    recommendations_source: str = Field(
        default="computed", description="learning store (recorded by the patterns asset) | computed"
    )
    error_clusters: list[ErrorCluster] = Field(default_factory=list)
    quality: RunQuality | None = None
    similar_runs: list[SimilarRun] = Field(default_factory=list)


def stored_recommendations(store: Store, run_id: str) -> list[Recommendation] | None:
    """The recommendations the learning store holds for ``run_id``; None when it never recorded the run."""
    if not store.query(RECORDED_SQL, [run_id]).item(0, 0):
        return None
    return [
        Recommendation(**{**r, "evidence": json.loads(r["evidence"] or "{}"), "score": r["score"] or 0.0})
        for r in store.query(STORED_SQL, [run_id]).iter_rows(named=True)
    ]


def earlier_similar_runs(store: Store, run_id: str, limit: int = SIMILAR) -> list[SimilarRun]:
    """The ``limit`` earlier runs most like ``run_id``, best first, each with why."""
    found = similar_runs(store, run_id, limit=limit, earlier=True)
    why = why_similar(store, run_id, found)
    return [
        SimilarRun(
            run_id=r["run_id"],
            started_at=r["started_at"].isoformat(),
            git_tag=r["git_tag"],
            cosine=r["cosine"],
            shared_cells=int(r["shared_cells"]),
            mean_abs_log_diff=r["mean_abs_log_diff"],
            why=why.get(r["run_id"], ""),
        )
        for r in found.iter_rows(named=True)
    ]


def run_findings(store: Store, suite: str, run_id: str) -> RunFindings:
    """Everything of the module docstring for ``run_id`` of ``suite`` (raises RunNotFound)."""
    stored = stored_recommendations(store, run_id)
    return RunFindings(
        run_id=run_id,
        suite=suite,
        recommendations=stored if stored is not None else recommend(store, suite, run_id),
        recommendations_source="learning store" if stored is not None else "computed",
        error_clusters=error_clusters(store, suite, run_id=run_id),
        quality=run_quality(store, run_id),
        similar_runs=earlier_similar_runs(store, run_id),
    )
