"""Similarity of runs: the runs of a suite most like a given one, computed in DuckDB.

Each run is the vector of its cells' log-medians, centred per cell on the mean over the suite's runs,
dᵣ,c = ln medianᵣ,c − mean_r' ln medianᵣ',c; the score of run r against run q is the cosine over their
shared cells::

    cos(r, q) = Σ_c dᵣ,c·d_q,c / (‖dᵣ‖·‖d_q‖)

Centring matters: raw log-medians share a large common offset (ln 10⁷ ≈ 16 for every cell), so
their cosines are all ≈ 1; the centred vectors compare which cells were slow or fast in a run.
"""

from __future__ import annotations

import polars as pl

from bench_pipeline.store import Store

SIMILAR_SQL = """
WITH v AS (
    SELECT run_id, tool, operation, fixture, ln(median) AS x
    FROM cell_stats_all
    WHERE suite = (SELECT suite FROM runs WHERE run_id = ?) AND metric = ? AND median > 0
),
d AS (SELECT run_id, tool, operation, fixture, x - avg(x) OVER (PARTITION BY tool, operation, fixture) AS dx FROM v),
me AS (SELECT tool, operation, fixture, dx FROM d WHERE run_id = ?)
SELECT d.run_id, r.started_at, r.git_tag,
       sum(d.dx * me.dx) / nullif(sqrt(sum(d.dx * d.dx)) * sqrt(sum(me.dx * me.dx)), 0) AS cosine,
       count(*) AS shared_cells,
       avg(abs(d.dx - me.dx)) AS mean_abs_log_diff
FROM d JOIN me USING (tool, operation, fixture) JOIN runs r ON r.run_id = d.run_id
WHERE d.run_id <> ?
GROUP BY d.run_id, r.started_at, r.git_tag
HAVING count(*) >= ?
ORDER BY cosine DESC NULLS LAST, mean_abs_log_diff, d.run_id
LIMIT ?
"""


def similar_runs(
    store: Store, run_id: str, *, metric: str = "wall", limit: int = 5, min_shared: int = 3
) -> pl.DataFrame:
    """The runs of ``run_id``'s suite most like it: run_id, started_at, git_tag, cosine, shared_cells,
    mean_abs_log_diff — best first."""
    store.run(run_id)  # RunNotFound for an unknown id
    return store.query(SIMILAR_SQL, [run_id, metric, run_id, run_id, min_shared, limit])
