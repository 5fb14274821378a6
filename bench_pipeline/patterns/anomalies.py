"""Anomalies of the newest run, read off the cells' histories.

* ``gate``: the newest median is outside the same-run gate's prediction interval and beyond δ
  (``history.gate``) — a one-night jump, confirmed or not by later runs;
* ``fresh-change``: a confirmed change point among the newest 3 runs — a level shift that has
  just persisted for the required 2 runs, so it is news tonight;
* ``drift``: a significant Mann–Kendall trend over the current regime whose Theil–Sen slope
  compounds to more than δ over 10 runs — slow decay that no single night shows.
"""

from __future__ import annotations

from pydantic import BaseModel

from bench_pipeline.history.model import CellHistory

FRESH_RUNS = 3
DRIFT_HORIZON = 10


class Anomaly(BaseModel):
    kind: str  # gate | fresh-change | drift
    tool: str
    operation: str
    fixture: str
    metric: str
    run_id: str
    ratio: float | None = None  # newest/expected, after/before, or the 10-run compounded drift
    detail: str


def find_anomalies(cells: list[CellHistory], delta: float = 0.03) -> list[Anomaly]:
    out = []
    for c in cells:
        keys = {"tool": c.tool, "operation": c.operation, "fixture": c.fixture, "metric": c.metric}
        if c.gate.alert and c.gate.run_id:
            out.append(
                Anomaly(
                    kind="gate",
                    run_id=c.gate.run_id,
                    ratio=c.gate.ratio,
                    detail=f"{c.cell} {c.metric}: newest median ×{c.gate.ratio:.3f} of expected, outside "
                    f"[{c.gate.low:.4g}, {c.gate.high:.4g}] (p = {c.gate.p_value:.2g})",
                    **keys,
                )
            )
        for cp in c.change_points:
            if cp.index >= c.points - FRESH_RUNS:
                out.append(
                    Anomaly(
                        kind="fresh-change",
                        run_id=cp.run_id,
                        ratio=cp.ratio,
                        detail=f"{c.cell} {c.metric}: {cp.direction} ×{cp.ratio:.3f} since run {cp.run_id}",
                        **keys,
                    )
                )
        t = c.trend
        if t.significant and t.slope_per_run is not None:
            compounded = (1 + t.slope_per_run) ** DRIFT_HORIZON
            if abs(compounded - 1) > delta and c.series:
                out.append(
                    Anomaly(
                        kind="drift",
                        run_id=c.series[-1].run_id,
                        ratio=compounded,
                        detail=f"{c.cell} {c.metric}: drifting {t.slope_per_run:+.2%} per run "
                        f"(Mann–Kendall p = {t.p_value:.2g}) since run {t.since_run_id}",
                        **keys,
                    )
                )
    return out
