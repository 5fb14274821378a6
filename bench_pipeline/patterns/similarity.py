"""Similarity of runs: the runs of a suite most like a given one, computed in DuckDB.

Each run is the vector of its cells' log-medians, centred per cell on the mean over the suite's runs,
dᵣ,c = ln medianᵣ,c − mean_r' ln medianᵣ',c; the score of run r against run q is the cosine over their
shared cells::

    cos(r, q) = Σ_c dᵣ,c·d_q,c / (‖dᵣ‖·‖d_q‖)

Centring matters: raw log-medians share a large common offset (ln 10⁷ ≈ 16 for every cell), so
their cosines are all ≈ 1; the centred vectors compare which cells were slow or fast in a run.

Why two runs are alike (:func:`why_similar`): the shared cells with the largest products dᵣ,c·d_q,c
are the ones that pull the cosine up — cells that were slow (or fast) against the suite's mean in
both runs — stated with each run's deviation, exp(d) − 1.
"""

from __future__ import annotations

import math

import polars as pl

from bench_pipeline.store import Store

# the centred log-median of every cell of every run of the run's suite (d), and the run's own (me)
_CENTRED = """
WITH v AS (
    SELECT run_id, tool, operation, fixture, ln(median) AS x
    FROM cell_stats_all
    WHERE suite = (SELECT suite FROM runs WHERE run_id = $run) AND metric = $metric AND median > 0
),
d AS (SELECT run_id, tool, operation, fixture, x - avg(x) OVER (PARTITION BY tool, operation, fixture) AS dx FROM v),
me AS (SELECT tool, operation, fixture, dx FROM d WHERE run_id = $run)
"""
SIMILAR_SQL = (
    _CENTRED
    + """
SELECT d.run_id, r.started_at, r.git_tag,
       sum(d.dx * me.dx) / nullif(sqrt(sum(d.dx * d.dx)) * sqrt(sum(me.dx * me.dx)), 0) AS cosine,
       count(*) AS shared_cells,
       avg(abs(d.dx - me.dx)) AS mean_abs_log_diff
FROM d JOIN me USING (tool, operation, fixture) JOIN runs r ON r.run_id = d.run_id
WHERE d.run_id <> $run
  AND (NOT $earlier OR r.started_at < (SELECT started_at FROM runs WHERE run_id = $run))
GROUP BY d.run_id, r.started_at, r.git_tag
HAVING count(*) >= $min_shared
ORDER BY cosine DESC NULLS LAST, mean_abs_log_diff, d.run_id
LIMIT $limit
"""
)
AGREEING_SQL = (
    _CENTRED
    + """
SELECT d.run_id, d.tool, d.operation, d.fixture, me.dx AS dx_run, d.dx AS dx_other
FROM d JOIN me USING (tool, operation, fixture)
WHERE list_contains($others, d.run_id) AND d.dx * me.dx > 0
QUALIFY row_number() OVER (PARTITION BY d.run_id ORDER BY d.dx * me.dx DESC, d.tool, d.operation, d.fixture) <= $top
ORDER BY d.run_id, d.dx * me.dx DESC
"""
)
HOSTS_SQL = """SELECT run_id, json_extract_string(host, '$.fingerprint') AS host FROM runs
               WHERE list_contains($ids, run_id)"""


def similar_runs(
    store: Store,
    run_id: str,
    *,
    metric: str = "wall",
    limit: int = 5,
    min_shared: int = 3,
    earlier: bool = False,
) -> pl.DataFrame:
    """The runs of ``run_id``'s suite most like it (``earlier``: only runs that started before it):
    run_id, started_at, git_tag, cosine, shared_cells, mean_abs_log_diff — best first."""
    store.run(run_id)  # RunNotFound for an unknown id
    params = {"run": run_id, "metric": metric, "earlier": earlier, "min_shared": min_shared, "limit": limit}
    return store.query(SIMILAR_SQL, params)


def _deviation(dx: float) -> str:
    return f"{math.expm1(dx):+.1%}"


def why_similar(
    store: Store, run_id: str, similar: pl.DataFrame, *, metric: str = "wall", top: int = 2
) -> dict[str, str]:
    """One sentence per row of :func:`similar_runs`: the cosine and its cells, the typical difference,
    the cells both runs deviate on the same way (largest products first), host and tag."""
    if similar.is_empty():
        return {}
    others = similar["run_id"].to_list()
    agreeing = store.query(AGREEING_SQL, {"run": run_id, "metric": metric, "others": others, "top": top})
    hosts = dict(store.query(HOSTS_SQL, {"ids": [run_id, *others]}).iter_rows())
    cells: dict[str, list[str]] = {}
    for r in agreeing.iter_rows(named=True):
        cells.setdefault(r["run_id"], []).append(
            f"{r['tool']}/{r['operation']} ({r['fixture']}) {_deviation(r['dx_run'])} here, "
            f"{_deviation(r['dx_other'])} there"
        )
    out = {}
    for r in similar.iter_rows(named=True):
        cosine = "–" if r["cosine"] is None else f"{r['cosine']:.2f}"
        parts = [
            f"cosine {cosine} over {r['shared_cells']} shared cells",
            f"medians differ by {math.expm1(r['mean_abs_log_diff'] or 0):.1%} on average (relative to each cell's mean)",
        ]
        if cells.get(r["run_id"]):
            parts.append("both off the suite's mean in " + "; ".join(cells[r["run_id"]]))
        parts.append("same host" if hosts.get(r["run_id"]) == hosts.get(run_id) else "another host")
        if r["git_tag"]:
            parts.append(f"tag {r['git_tag']}")
        out[r["run_id"]] = ", ".join(parts)
    return out
