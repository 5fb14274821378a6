"""Run quality: one 0–1 score of how trustworthy a run's measurements are, the mean of the components
that can be computed for the run:

* noise = mean over cells (wall) of max(0, 1 − CV / 10 %) — 1 for a perfectly steady cell, 0 at the
  CV at which a cell gets the ``high_cv`` warning;
* completeness = measured cells with ≥ 1 successful sample / planned cells that are not n/a
  (``run_cells``);
* significance = the share of the run's tool comparisons (wall) that reached a verdict (faster,
  slower or equivalent, not inconclusive); for a run with one tool, the share of cells whose median
  CI half-width met the suite's target (default 2 %).
"""

from __future__ import annotations

from pydantic import BaseModel

from bench_pipeline.execution.adaptive import suite_setting
from bench_pipeline.store import Store

CV_MAX = 0.10


class RunQuality(BaseModel):
    run_id: str
    suite: str
    quality: float | None
    noise: float | None
    completeness: float | None
    significance: float | None
    detail: dict


def run_quality(
    store: Store, run_id: str, *, cv_max: float = CV_MAX, target_ci: float | None = None
) -> RunQuality:
    """The 0–1 quality score of a run (the module docstring), with its components and their counts."""
    run = store.run(run_id)
    if target_ci is None:
        target_ci = suite_setting(run["suite"], "target_ci", 0.02)
    cells = store.query(
        """SELECT count(*) AS cells,
                  avg(greatest(0, 1 - cv / ?)) AS noise,
                  avg(CASE WHEN (ci_high - ci_low) / 2 <= ? * median THEN 1.0 ELSE 0.0 END) AS precise
           FROM cell_stats_all WHERE run_id = ? AND metric = 'wall' AND median > 0 AND cv IS NOT NULL""",
        [cv_max, target_ci, run_id],
    ).row(0, named=True)
    planned = store.query(
        """SELECT count(*) FILTER (WHERE status <> 'na') AS planned,
                  count(*) FILTER (WHERE status = 'measured' AND coalesce(n_ok, 0) > 0) AS measured
           FROM run_cells WHERE run_id = ?""",
        [run_id],
    ).row(0, named=True)
    verdicts = store.query(
        """SELECT count(*) AS compared, count(*) FILTER (WHERE verdict <> 'inconclusive') AS conclusive
           FROM comparisons WHERE run_id = ? AND metric = 'wall'""",
        [run_id],
    ).row(0, named=True)
    noise = cells["noise"] if cells["cells"] else None
    completeness = planned["measured"] / planned["planned"] if planned["planned"] else None
    if verdicts["compared"]:
        significance = verdicts["conclusive"] / verdicts["compared"]
    else:
        significance = cells["precise"] if cells["cells"] else None
    parts = [v for v in (noise, completeness, significance) if v is not None]
    return RunQuality(
        run_id=run_id,
        suite=run["suite"],
        quality=sum(parts) / len(parts) if parts else None,
        noise=noise,
        completeness=completeness,
        significance=significance,
        detail={"cells": cells["cells"], **planned, **verdicts, "cv_max": cv_max, "target_ci": target_ci},
    )
