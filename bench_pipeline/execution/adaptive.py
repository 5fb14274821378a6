"""Adaptive run counts: each cell's next ``min_runs`` from how noisy its history has been.

The runner stops a cell once the 95% CI of its median is within ± target_ci (t) of the median. The
median's standard error is ≈ √(π/2)·σ/√n (normal asymptotics, Kendall & Stuart), and the runner's
order-statistic CI spans ≈ ±1.96 of them, so with a relative spread c the half-width reaches t at::

    n = ⌈(1.96 · √(π/2) · c / t)²⌉ = ⌈(2.4566 · c / t)²⌉,  clamped to [3, max_runs]

c is the cell's robust CV, 1.4826·MAD / median (the CV falls back when MAD is missing), as the
median over its newest 10 non-quick succeeded runs (≥ 3 needed): one noisy night does not double
its cost. E.g. t = 2 %: c = 1 % → 3 (clamped from 2), c = 2 % → 7, c = 3 % → 14, c = 5 % → 38 → max_runs.
"""

from __future__ import annotations

import math

from bench_pipeline.errors import BenchError
from bench_pipeline.store import Store

Z_MEDIAN = 1.959964 * math.sqrt(math.pi / 2)  # 2.4566
MIN_RUNS_FLOOR = 3
LOOKBACK = 10
MIN_HISTORY = 3

CV_HISTORY_SQL = """
WITH ranked AS (
    SELECT c.tool, c.operation, c.fixture,
           coalesce(1.4826 * c.mad / c.median, c.cv) AS rcv,
           row_number() OVER (PARTITION BY c.tool, c.operation, c.fixture
                              ORDER BY r.started_at DESC, c.run_id DESC) AS age
    FROM cell_stats_all c JOIN runs r USING (run_id)
    WHERE c.suite = ? AND c.metric = 'wall' AND r.status = 'succeeded' AND NOT coalesce(r.quick, FALSE)
      AND c.n >= 3 AND c.median > 0
)
SELECT tool, operation, fixture, median(rcv) AS cv, count(*) AS runs
FROM ranked WHERE age <= ? AND rcv IS NOT NULL
GROUP BY tool, operation, fixture
HAVING count(*) >= ?
"""


def suite_setting(suite: str, name: str, default: float) -> float:
    """A setting of the suite's file (``target_ci``, ``max_runs``, …); ``default`` for a suite without
    a file (an ingested one) or whose file does not load."""
    from bench_pipeline.suite import find_suite

    try:
        return getattr(find_suite(suite).settings, name)
    except BenchError:
        return default


def min_runs_for(cv: float, target_ci: float, max_runs: int, floor: int = MIN_RUNS_FLOOR) -> int:
    """n = ⌈(1.96·√(π/2)·cv / target_ci)²⌉ clamped to [floor, max_runs]."""
    if not cv >= 0 or not math.isfinite(cv):
        return max_runs
    n = math.ceil((Z_MEDIAN * cv / target_ci) ** 2 - 1e-9)
    return max(floor, min(max_runs, n))


def suggested_min_runs(
    store: Store,
    suite: str,
    *,
    target_ci: float | None = None,
    max_runs: int | None = None,
    lookback: int = LOOKBACK,
    min_history: int = MIN_HISTORY,
) -> dict[tuple[str, str, str], int]:
    """Each cell's next ``min_runs`` from its historical robust CV: {(tool, operation, fixture): n}.

    Cells with fewer than ``min_history`` non-quick runs are absent: use the suite's setting for them.
    ``target_ci`` and ``max_runs`` default to the suite's settings (2 % and 30 without a suite file).
    """
    target_ci = target_ci or suite_setting(suite, "target_ci", 0.02)
    max_runs = max_runs or int(suite_setting(suite, "max_runs", 30))
    rows = store.query(CV_HISTORY_SQL, [suite, lookback, min_history])
    return {
        (r["tool"], r["operation"], r["fixture"]): min_runs_for(r["cv"], target_ci, max_runs)
        for r in rows.iter_rows(named=True)
    }
