"""How cost grows with workload size: a growth class per (tool, operation), and where tools differ.

Model
    median(n) = a + b·g(n),  a, b ≥ 0,  g ∈ {1 (constant), ln n (log), n (linear), n·ln n, n²}
    measured with relative standard error sᵢ: median_i = (a + b·g(nᵢ))·(1 + sᵢ·εᵢ).

``a`` is the fixed cost (process start, reading config), ``b·g(n)`` the part that grows. A pure power
law on log–log axes would misread "5 ms + linear" as sub-linear; the affine form keeps the overhead
apart. Sizes n: a generated fixture's commit count (``fixtures.fixture_for(size).commits``; files for
``basis="files"``), or the value of a parameterised operation's single numeric parameter
(``log-n[n=100]`` → n = 100, from ``run_cells.params``).

Objective: weighted non-negative least squares on relative residuals (``scipy.optimize.nnls``)::

    χ²(g) = Σᵢ ((medianᵢ − a − b·g(nᵢ)) / (sᵢ·medianᵢ))²

sᵢ is the median's relative standard error from its 95% CI ((ci_high − ci_low)/(2·1.96·median)),
floored at 2 % because run-to-run variation exceeds a single run's CI. Model choice: Akaike's
criterion with known variance, AIC = χ² + 2k (k = 1 for constant, 2 otherwise; Burnham & Anderson
2002, §2.2): the simplest class within 2 of the lowest AIC wins (parsimony: Burnham & Anderson's
"substantial support" band); a growing class whose fitted curve rises by less
than 10 % over the whole size range is called constant (a practical margin, as δ is for ratios:
at 3 % noise AIC alone lets χ²₁ > 2 pick a spurious slope in ~15 % of constant cells). ``aic_margin`` is the next class's AIC minus
the winner's: ≥ 2 is "clearly better" (Burnham & Anderson's rule of thumb), below that the class is
a best guess. Fit quality: ``r_squared`` of the chosen curve on log(median) (1 − SS_res/SS_tot; null
for the constant class, whose SS_tot is only noise) and ``fit_p``, the χ² goodness-of-fit p-value
with m − k degrees of freedom. ``exponent`` is the ordinary least-squares slope of log(median) on
log(n), for the log–log plot. Needs ≥ 3 sizes to classify (2 give only the exponent).

Cost: five 2-column NNLS fits per (tool, operation): negligible.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from pydantic import BaseModel, Field
from scipy import optimize
from scipy import stats as sps

from bench_pipeline.errors import FixtureError
from bench_pipeline.store import Store

GROWTH: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "constant": lambda n: np.zeros_like(n),
    "log": np.log,
    "linear": lambda n: n,
    "n log n": lambda n: n * np.log(n),
    "quadratic": lambda n: n**2,
}
RANK = {name: i for i, name in enumerate(GROWTH)}
NOISE_FLOOR = 0.02
MIN_GROWTH = 0.10
CLEAR_MARGIN = 2.0
Z95 = 1.959964


@dataclass(frozen=True)
class GrowthFit:
    growth: str  # a key of GROWTH, or "unknown"
    exponent: float | None = None
    r_squared: float | None = None
    fit_p: float | None = None
    aic_margin: float | None = None
    fixed: float | None = None  # a
    slope: float | None = None  # b (per unit of g(n))
    aic: dict[str, float] = field(default_factory=dict)


def _exponent(n: np.ndarray, y: np.ndarray) -> float | None:
    if len(np.unique(n)) < 2:
        return None
    return float(np.polyfit(np.log(n), np.log(y), 1)[0])


def classify_growth(
    n: np.ndarray | list[float],
    median: np.ndarray | list[float],
    rel_se: np.ndarray | list[float] | None = None,
    *,
    noise_floor: float = NOISE_FLOOR,
    min_growth: float = MIN_GROWTH,
) -> GrowthFit:
    """The growth class of ``median`` against ``n`` (see the module docstring), with fit quality."""
    n_all = np.asarray(n, dtype=float)
    y_all = np.asarray(median, dtype=float)
    ok = np.isfinite(n_all) & np.isfinite(y_all) & (n_all > 0) & (y_all > 0)
    x, y = n_all[ok], y_all[ok]
    s = np.full(len(y), noise_floor) if rel_se is None else np.asarray(rel_se, dtype=float)[ok]
    s = np.maximum(np.nan_to_num(s, nan=noise_floor), noise_floor)
    exponent = _exponent(x, y)
    if len(np.unique(x)) < 3:
        return GrowthFit("unknown", exponent)
    w = 1.0 / (s * y)
    aic, params, chi2 = {}, {}, {}
    for name, g in GROWTH.items():
        if name == "constant":
            a = float(np.sum(w * w * y) / np.sum(w * w))
            coef = np.array([a, 0.0])
            k = 1
        else:
            gn = g(x)
            scale = float(np.max(np.abs(gn))) or 1.0
            design = np.column_stack([w, w * gn / scale])
            coef, _ = optimize.nnls(design, w * y)
            coef = np.array([coef[0], coef[1] / scale])
            k = 2
        fitted = coef[0] + coef[1] * g(x)
        chi2[name] = float(np.sum(((y - fitted) * w) ** 2))
        aic[name] = chi2[name] + 2 * k
        params[name] = (coef, k, fitted)
    lowest = min(aic.values())
    best = min((name for name in GROWTH if aic[name] <= lowest + CLEAR_MARGIN), key=RANK.__getitem__)
    coef, k, fitted = params[best]
    if best != "constant" and fitted.max() / fitted.min() - 1 < min_growth:
        best = "constant"  # growth smaller than min_growth over the whole range: constant in practice
        coef, k, fitted = params[best]
    others = [v for name, v in aic.items() if name != best]
    dof = len(y) - k
    r2 = None
    if best != "constant" and np.all(fitted > 0):
        ly = np.log(y)
        ss_tot = float(np.sum((ly - ly.mean()) ** 2))
        r2 = 1 - float(np.sum((ly - np.log(fitted)) ** 2)) / ss_tot if ss_tot > 0 else None
    return GrowthFit(
        growth=best,
        exponent=exponent,
        r_squared=r2,
        fit_p=float(sps.chi2.sf(chi2[best], dof)) if dof > 0 else None,
        aic_margin=min(others) - aic[best],
        fixed=float(coef[0]),
        slope=float(coef[1]),
        aic={name: round(v, 3) for name, v in aic.items()},
    )


# ------------------------------------------------------------------------------ from the store
class ScalingPoint(BaseModel):
    fixture: str
    n: float
    median: float
    label: str = Field(description="the cell's operation name (with parameters) or fixture")
    run_id: str


class ScalingFit(BaseModel):
    """One (tool, operation) against size; ``fixture`` is set when the sizes are parameter values."""

    tool: str
    operation: str
    fixture: str | None = None
    metric: str
    basis: str = Field(description="commits | files (fixture tiers) or a parameter name")
    sizes: list[ScalingPoint]
    growth: str
    exponent: float | None = None
    r_squared: float | None = None
    fit_p: float | None = None
    aic_margin: float | None = None
    clear: bool = Field(False, description="aic_margin ≥ 2: the class is clearly better than the next")
    fixed: float | None = None
    slope: float | None = None


class GrowthDifference(BaseModel):
    """An operation whose growth class differs between tools (only clear fits count)."""

    operation: str
    fixture: str | None = None
    basis: str
    metric: str
    growth: dict[str, str]
    exponent: dict[str, float | None]
    fastest_growing: str
    detail: str


CELLS_SQL = """
WITH eligible AS (
    SELECT run_id, started_at, json_extract_string(host, '$.fingerprint') AS host
    FROM runs WHERE suite = ? AND status = 'succeeded' AND (? IS NULL OR run_id = ?)
),
newest AS (SELECT host FROM eligible ORDER BY started_at DESC, run_id DESC LIMIT 1),
ranked AS (
    SELECT c.tool, c.operation, c.fixture, c.median, c.ci_low, c.ci_high, c.run_id,
           rc.base_operation, rc.params,
           row_number() OVER (PARTITION BY c.tool, c.operation, c.fixture
                              ORDER BY e.started_at DESC, c.run_id DESC) AS age
    FROM cell_stats_all c JOIN eligible e USING (run_id)
    LEFT JOIN run_cells rc
           ON rc.run_id = c.run_id AND rc.tool = c.tool AND rc.operation = c.operation AND rc.fixture = c.fixture
    WHERE c.suite = ? AND c.metric = ? AND c.median > 0
      AND e.host IS NOT DISTINCT FROM (SELECT host FROM newest)
)
SELECT * EXCLUDE (age) FROM ranked WHERE age = 1 ORDER BY tool, operation, fixture
"""


def fixture_sizes(names: list[str]) -> dict[str, tuple[int, int]]:
    """(commits, files) of each name that is a generated fixture tier; other names are left out."""
    from bench_pipeline.fixtures import fixture_for

    sizes = {}
    for name in names:
        try:
            spec = fixture_for(name)
        except FixtureError:
            continue
        sizes[name] = (spec.commits, spec.files)
    return sizes


def _single_numeric_param(params: str | None) -> tuple[str, float] | None:
    if not params:
        return None
    try:
        values = json.loads(params)
    except ValueError:
        return None
    if not isinstance(values, dict) or len(values) != 1:
        return None
    ((key, value),) = values.items()
    try:
        return key, float(value)
    except (TypeError, ValueError):
        return None


def _fit(
    tool: str, operation: str, fixture: str | None, metric: str, basis: str, rows: list[dict]
) -> ScalingFit:
    rows = sorted(rows, key=lambda r: r["n"])
    n = np.array([r["n"] for r in rows])
    med = np.array([r["median"] for r in rows])
    rel_se = np.array(
        [
            (r["ci_high"] - r["ci_low"]) / (2 * Z95 * r["median"])
            if r["ci_low"] is not None and r["ci_high"] is not None
            else math.nan
            for r in rows
        ]
    )
    fit = classify_growth(n, med, rel_se)
    return ScalingFit(
        tool=tool,
        operation=operation,
        fixture=fixture,
        metric=metric,
        basis=basis,
        sizes=[
            ScalingPoint(
                fixture=r["fixture"], n=r["n"], median=r["median"], label=r["label"], run_id=r["run_id"]
            )
            for r in rows
        ],
        growth=fit.growth,
        exponent=fit.exponent,
        r_squared=fit.r_squared,
        fit_p=fit.fit_p,
        aic_margin=fit.aic_margin,
        clear=fit.aic_margin is not None and fit.aic_margin >= CLEAR_MARGIN,
        fixed=fit.fixed,
        slope=fit.slope,
    )


def scaling_fits(
    store: Store, suite: str, metric: str = "wall", *, run_id: str | None = None, basis: str = "commits"
) -> list[ScalingFit]:
    """Growth fits of every (tool, operation) with ≥ 2 sizes: over fixture tiers (``basis``: commits or
    files) and over parameter values (per fixture). Each cell contributes its newest median among the
    suite's succeeded runs on the newest run's host (or only ``run_id``'s)."""
    frame = store.query(CELLS_SQL, [suite, run_id, run_id, suite, metric])
    if frame.is_empty():
        return []
    sizes = fixture_sizes(frame["fixture"].unique().to_list())
    column = 0 if basis == "commits" else 1
    by_fixture: dict[tuple[str, str], list[dict]] = {}
    by_param: dict[tuple[str, str, str, str], list[dict]] = {}
    for row in frame.iter_rows(named=True):
        if row["fixture"] in sizes:
            point = {**row, "n": float(sizes[row["fixture"]][column]), "label": row["fixture"]}
            by_fixture.setdefault((row["tool"], row["operation"]), []).append(point)
        param = _single_numeric_param(row["params"])
        if param is not None and param[1] > 0:
            base = row["base_operation"] or row["operation"]
            point = {**row, "n": param[1], "label": row["operation"]}
            by_param.setdefault((row["tool"], base, row["fixture"], param[0]), []).append(point)
    fits = [
        _fit(tool, op, None, metric, basis, rows)
        for (tool, op), rows in by_fixture.items()
        if len({r["n"] for r in rows}) >= 2
    ]
    fits += [
        _fit(tool, op, fixture, metric, key, rows)
        for (tool, op, fixture, key), rows in by_param.items()
        if len({r["n"] for r in rows}) >= 2
    ]
    return sorted(fits, key=lambda f: (f.operation, f.basis, f.fixture or "", f.tool))


def growth_differences(fits: list[ScalingFit]) -> list[GrowthDifference]:
    """Operations whose clear growth classes differ between tools (same basis and fixture)."""
    groups: dict[tuple[str, str | None, str, str], list[ScalingFit]] = {}
    for f in fits:
        if f.clear and f.growth in RANK:
            groups.setdefault((f.operation, f.fixture, f.basis, f.metric), []).append(f)
    out = []
    for (operation, fixture, basis, metric), group in groups.items():
        classes = {f.tool: f.growth for f in group}
        if len(set(classes.values())) < 2:
            continue
        fastest = max(group, key=lambda f: (RANK[f.growth], f.exponent or 0))
        slowest = min(group, key=lambda f: (RANK[f.growth], f.exponent or 0))
        where = f" on {fixture}" if fixture else ""
        out.append(
            GrowthDifference(
                operation=operation,
                fixture=fixture,
                basis=basis,
                metric=metric,
                growth=classes,
                exponent={f.tool: f.exponent for f in group},
                fastest_growing=fastest.tool,
                detail=f"{operation}{where}: {fastest.tool} grows {fastest.growth} in {basis}, "
                f"{slowest.tool} {slowest.growth}",
            )
        )
    return out


def report_scaling(fits: list[ScalingFit]) -> list[dict]:
    """The fits in the shape of the report's ``scaling`` field (``report.model.ScalingFit``)."""
    return [
        {
            "tool": f.tool,
            "operation": f.operation if f.fixture is None else f"{f.operation} ({f.fixture})",
            "metric": f.metric,
            "basis": f.basis,
            "sizes": [
                {"fixture": p.fixture if f.fixture is None else p.label, "n": p.n, "median": p.median}
                for p in f.sizes
            ],
            "growth": f.growth,
            "exponent": f.exponent,
            "r_squared": f.r_squared,
        }
        for f in fits
    ]


def fits_frame(fits: list[ScalingFit]) -> pl.DataFrame:
    """One row per fit (no points), for previews and the learning store."""
    return pl.DataFrame(
        [f.model_dump(exclude={"sizes"}) | {"sizes": len(f.sizes)} for f in fits],
        infer_schema_length=None,
    )
