"""Gates: when a run's newest result should stop a pipeline or a merge.

**Same-run gate**: is the newest run's median plausible given the cell's last N runs?

Model
    the log-medians of the last N runs of the current regime, y_1 … y_N, and the newest y_new are
    draws from one normal distribution N(μ, σ²) (log-medians of runs are close to normal: each is a
    median of ≥ 5 samples and logs remove the skew).

Prediction interval (e.g. Hahn & Meeker 1991, *Statistical Intervals*, §4.7): with ȳ and s the mean and
standard deviation (ddof 1) of the N reference points::

    ȳ ± t_{1−α/2, N−1} · s · √(1 + 1/N)

holds y_new with probability 1 − α when nothing changed. ``p_value`` is the two-sided tail probability of
T = (y_new − ȳ) / (s·√(1 + 1/N)) under t_{N−1}. Defaults: N = 10 (two weeks of nightly runs: recent
enough to follow a drifting machine, long enough that t_{9} is not much wider than normal) and
α = 0.01: a suite has hundreds of cells per run, so a 95 % interval would put a dozen of them
outside by chance every night. ``alert`` additionally needs |ratio − 1| > δ (the practical margin
of SPEC §5), so a quiet cell with a tiny s cannot alert on a 1 % wobble.

Reference points: the up-to-N runs before the newest one, but not earlier than the last confirmed
change point (mixing two levels would widen the interval), and never fewer than the last 3.

**Regression gate**: a run-vs-baseline regression, confirmed by the cell's history.

A suite runs nightly, so one baseline run is a single draw: when the baseline night happened to
be fast, a candidate at the usual level looks like a regression. The gate therefore asks two
questions of every cell (SPEC §5 verdicts, §6 same-run gate):

1. **Baseline comparison** (``stats.compare_runs``): is the candidate's ratio to the baseline run
   a ``regression`` (BH-adjusted p < α and the whole ratio CI above 1 + δ)?
2. **History**: is the candidate's median also more than δ above the cell's recent level, the
   geometric mean of up to ``WINDOW`` earlier runs of its current regime (since the last confirmed
   change point; the same reference as ``history.gate.same_run_gate``)?

A cell **fails the gate** when (1) says regression and (2) agrees, or when it has fewer than
``MIN_REFERENCE`` earlier runs (then (1) alone decides: a new suite is still gated). A baseline
regression that history contradicts is reported as *not confirmed* and does not block. A cell
whose newest median is outside the same-run gate's 99% prediction interval and above its level
by more than δ, while the baseline comparison did not call it a regression, is reported as a
*history alert* (a warning: the baseline run itself may have been slow).

Earlier runs: succeeded, not quick, same host as the candidate's series (``history.load_series``),
started no later than the candidate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import stats as sps

from bench_pipeline.history import changepoints
from bench_pipeline.history.series import load_series
from bench_pipeline.store import Store

WINDOW = 10
ALPHA = 0.01
MIN_REFERENCE = 3


@dataclass(frozen=True)
class GateResult:
    reference_points: int
    newest: float | None = None  # the newest median (metric units)
    expected: float | None = None  # exp(ȳ)
    low: float | None = None  # prediction interval, metric units
    high: float | None = None
    ratio: float | None = None  # newest / expected
    p_value: float | None = None
    outside: bool = False
    alert: bool = False
    direction: str | None = None  # "higher" / "lower" than expected, when outside


def same_run_gate(
    log_medians: np.ndarray,
    *,
    window: int = WINDOW,
    alpha: float = ALPHA,
    delta: float = 0.03,
    regime_start: int = 0,
) -> GateResult:
    """Judge the last point of ``log_medians`` against up to ``window`` points before it."""
    y = np.asarray(log_medians, dtype=float)
    if len(y) < MIN_REFERENCE + 1 or not np.all(np.isfinite(y)):
        return GateResult(reference_points=max(len(y) - 1, 0))
    newest = y[-1]
    start = max(len(y) - 1 - window, min(regime_start, len(y) - 1 - MIN_REFERENCE), 0)
    ref = y[start:-1]
    mean, s = float(ref.mean()), float(ref.std(ddof=1))
    k = len(ref)
    ratio = math.exp(newest - mean)
    if not s > 0:  # identical reference medians: anything else is outside
        outside = newest != mean
        return GateResult(
            k, math.exp(newest), math.exp(mean), math.exp(mean), math.exp(mean), ratio,
            0.0 if outside else 1.0, outside, outside and abs(ratio - 1) > delta,
            ("higher" if newest > mean else "lower") if outside else None,
        )  # fmt: skip
    scale = s * math.sqrt(1 + 1 / k)
    half = float(sps.t.ppf(1 - alpha / 2, k - 1)) * scale
    p = float(2 * sps.t.sf(abs(newest - mean) / scale, k - 1))
    outside = abs(newest - mean) > half
    return GateResult(
        reference_points=k,
        newest=math.exp(newest),
        expected=math.exp(mean),
        low=math.exp(mean - half),
        high=math.exp(mean + half),
        ratio=ratio,
        p_value=p,
        outside=outside,
        alert=outside and abs(ratio - 1) > delta,
        direction=("higher" if newest > mean else "lower") if outside else None,
    )


# ---------------------------------------------------------------------------------------- regression gate
KEYS = ["tool", "operation", "fixture"]
HISTORY_COLUMNS = {
    "history_runs": pl.Int64,  # earlier runs in the reference (0: no usable history)
    "history_level": pl.Float64,  # geometric mean of their medians
    "history_ratio": pl.Float64,  # candidate median / history_level
    "history_outside": pl.Boolean,  # outside the same-run gate's prediction interval
    "history_alert": pl.Boolean,  # outside and beyond δ (either direction)
}


@dataclass
class GateDecision:
    """The gate over one candidate run: cells that block, and those reported without blocking."""

    failed: list[dict] = field(default_factory=list)  # confirmed regressions (or no history yet)
    unconfirmed: list[dict] = field(default_factory=list)  # baseline regression, history disagrees
    history_alerts: list[dict] = field(default_factory=list)  # history says slower, baseline did not


def history_levels(
    store: Store, suite: str, run_id: str, metric: str = "wall", *, delta: float = 0.03
) -> pl.DataFrame:
    """Per cell of ``run_id``: its median against the level of the earlier runs (``HISTORY_COLUMNS``)."""
    empty = pl.DataFrame(schema={**dict.fromkeys(KEYS, pl.String), **HISTORY_COLUMNS})
    series = load_series(store, suite, None, metric, of_run=run_id)  # the runs of its host class only
    if series.is_empty() or run_id not in set(series["run_id"].to_list()):
        return empty
    started = series.filter(pl.col("run_id") == run_id)["started_at"][0]
    series = series.filter(pl.col("started_at") <= started)
    rows = []
    for cell in series.partition_by(KEYS, maintain_order=True):
        if cell["run_id"][-1] != run_id:  # the candidate did not measure this cell
            continue
        y = np.log(cell["median"].to_numpy().astype(float))
        judged = same_run_gate(y, window=WINDOW, delta=delta)
        if (judged.outside or (judged.ratio or 1) > 1 + delta) and len(y) > 2 * changepoints.MIN_SIZE + 1:
            # it may matter: reference only the current regime (change points cost a permutation test)
            found = changepoints.detect_changes(y[:-1], delta=delta).changes
            if found:
                judged = same_run_gate(y, window=WINDOW, delta=delta, regime_start=found[-1].index)
        key = cell.select(KEYS).row(0, named=True)
        if judged.expected is None:
            rows.append({**key, "history_runs": judged.reference_points if len(y) > 1 else 0})
            continue
        rows.append(
            {
                **key,
                "history_runs": judged.reference_points,
                "history_level": judged.expected,
                "history_ratio": judged.ratio,
                "history_outside": judged.outside,
                "history_alert": judged.alert,
            }
        )
    if not rows:
        return empty
    return pl.DataFrame(rows, schema={**dict.fromkeys(KEYS, pl.String), **HISTORY_COLUMNS})


def with_history(frame: pl.DataFrame, levels: pl.DataFrame, *, delta: float) -> pl.DataFrame:
    """``compare_runs`` rows with the history columns and ``history_confirmed``: for a regression
    verdict, whether the gate counts it (history agrees, or there is too little history); null for
    other verdicts."""
    enough = (pl.col("history_runs") >= MIN_REFERENCE) & pl.col("history_ratio").is_not_null()
    return (
        frame.join(levels, on=KEYS, how="left")
        .with_columns(pl.col("history_runs").fill_null(0))
        .with_columns(
            pl.when(pl.col("verdict") == "regression")
            .then(~enough.fill_null(False) | (pl.col("history_ratio") > 1 + delta).fill_null(False))
            .otherwise(None)
            .alias("history_confirmed"),
            (enough & pl.col("history_alert") & (pl.col("history_ratio") > 1 + delta))
            .fill_null(False)
            .alias("_alert"),
        )
    )


def decide(frame: pl.DataFrame) -> GateDecision:
    """Split ``with_history`` rows into blocking and reported cells (rules in the module docstring)."""
    regression = pl.col("verdict") == "regression"

    def rows(expr: pl.Expr) -> list[dict]:
        return frame.filter(expr).drop("_alert").to_dicts()

    return GateDecision(
        failed=rows(regression & pl.col("history_confirmed")),
        unconfirmed=rows(regression & ~pl.col("history_confirmed")),
        history_alerts=rows(~regression & pl.col("_alert")),
    )


def describe(row: dict) -> str:
    """One cell of the gate, for check messages and logs."""
    text = f"{row['tool']}/{row['operation']} ({row['fixture']})"
    if row.get("ratio") is not None and row.get("ci_low") is not None:
        text += f" ×{row['ratio']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}] vs baseline"
    level = row.get("history_ratio")
    if level is not None and math.isfinite(level):
        text += f"; ×{level:.3f} vs the level of its last {row['history_runs']} runs"
    elif row.get("verdict") == "regression":
        text += "; too little history to confirm (gated on the baseline alone)"
    return text
