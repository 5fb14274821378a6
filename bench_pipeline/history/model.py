"""What a cell's history analysis returns (pydantic; ``model_dump(mode="json")`` is the CLI's JSON)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SeriesPoint(BaseModel):
    run_id: str
    started_at: datetime
    median: float
    ci_low: float | None = None
    ci_high: float | None = None
    n: int
    git_tag: str | None = None


class ChangePoint(BaseModel):
    """A persistent level shift; ``run_id`` is the first run at the new level."""

    run_id: str
    started_at: datetime
    index: int = Field(description="position of run_id in the series, 0 = oldest")
    before_median: float
    after_median: float
    ratio: float = Field(description="after_median / before_median")
    direction: str = Field(description="regression (higher: slower, more memory) or improvement")
    p_value: float = Field(
        description="two-sided z-test of the level shift with the long-run noise sd (nominal: the "
        "location was searched, so it understates the chance of a spurious shift)"
    )
    methods: list[str] = Field(default_factory=list)


class Trend(BaseModel):
    """Theil–Sen / Mann–Kendall over the current regime (the runs since the last change point)."""

    points: int
    since_run_id: str | None = None
    slope_per_run: float | None = Field(None, description="relative change per run: exp(b) − 1")
    slope_low: float | None = None
    slope_high: float | None = None
    slope_abs_per_run: float | None = Field(None, description="metric units per run at the fitted level")
    tau: float | None = None
    p_value: float | None = Field(None, description="Mann–Kendall (Kendall's τ against run index)")
    significant: bool = False
    forecast: float | None = Field(None, description="the next run's median, metric units")
    forecast_low: float | None = None
    forecast_high: float | None = None


class Gate(BaseModel):
    """The newest run's median against a prediction interval from the runs before it."""

    run_id: str | None = None
    reference_points: int = 0
    newest: float | None = None
    expected: float | None = None
    low: float | None = None
    high: float | None = None
    ratio: float | None = None
    p_value: float | None = None
    outside: bool = False
    alert: bool = False
    direction: str | None = None


class NoiseFit(BaseModel):
    """The model the change-point detector fitted to the cell's log-medians (``changepoints.py``)."""

    sigma: float | None = Field(None, description="sd of the run-to-run noise, log units (≈ CV)")
    phi: float | None = Field(None, description="lag-1 autocorrelation of the noise, AR(1)")
    long_run_sigma: float | None = Field(None, description="sd that a mean of n runs has × √n")
    slope_per_run: float | None = Field(None, description="common drift under the level shifts: exp(b) − 1")
    season_period: float | None = Field(None, description="period of the fitted season, in runs")


class CellHistory(BaseModel):
    suite: str
    operation: str
    fixture: str
    tool: str
    metric: str
    points: int = Field(description="runs in the series")
    status: str = Field(
        "ok",
        description="ok; too-short (fewer than 5 usable runs: no change points sought); constant "
        "(no variation); no-valid-runs",
    )
    reason: str | None = Field(None, description="why runs were skipped or the series not analysed")
    excluded_runs: list[str] = Field(
        default_factory=list, description="runs whose median is missing, infinite or ≤ 0: skipped"
    )
    noise: NoiseFit | None = None
    latest_median: float | None = None
    series: list[SeriesPoint] = Field(default_factory=list)
    change_points: list[ChangePoint] = Field(default_factory=list)
    trend: Trend
    gate: Gate

    @property
    def cell(self) -> str:
        return f"{self.tool}/{self.operation} ({self.fixture})"
