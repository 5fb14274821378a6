"""Hot, warm and cold storage tiers (SPEC §7): old raw samples leave DuckDB as per-cell aggregates.

- **hot**: raw samples and ``cell_stats`` of runs younger than ``hot_days`` (default 7), in DuckDB.
- **warm**: for older runs, one row per run × tool × operation × fixture × metric with sufficient
  statistics (n, mean, M2 = Σ(x − mean)², min, max), quantiles p5/p25/p50/p75/p95/p99, the
  statistics ``cell_stats`` had (CI of the median, MAD, trimmed mean, …) and a compact log-spaced
  histogram; ZSTD Parquet, one file per month of the runs' start (``tiers/warm/YYYY-MM/``).
- **cold**: the same rows for runs older than ``warm_days`` (default 90), compacted into one
  read-only archive per year (``tiers/cold/YYYY/``, ZSTD level 19) with ``tiers/cold/manifest.json``
  (row counts, bytes, SHA-256 of every file).
- **raw**: raw samples of moved runs whose suite sets ``keep_raw: true``, ZSTD Parquet per month
  (``tiers/raw/YYYY-MM/``); ``samples_all`` reads them.

A run moves as a whole, by its ``started_at``; runs still ``running`` never move.

What stays exact: every per-cell quantile is computed from the raw samples at move time with the
definition ``cell_stats`` uses (linear interpolation, Hyndman & Fan type 7), so a cell's median,
p5…p99, min, max, n and mean are exact in every tier; mean-based tests (Welch) and pooled means
and variances of several cells are exact from (n, mean, M2) (Chan, Golub & LeVeque 1979). What is
approximate: quantiles of a *pooled* set of cells (e.g. the median of a week of runs) come from
the merged histograms. Bin b holds values in [2^(b/32), 2^((b+1)/32)) (32 bins per octave, bin −1
holds values below 1), and a quantile is interpolated log-linearly inside its bin, so its relative
error is below one bin width, 2^(1/32) − 1 ≈ 2.2 % (typically a few tenths of a percent).

Crash safety (every move): journal row ``started`` → write each file to a temporary name → fsync →
rename → verify its row count against the source and its SHA-256 → journal ``written`` → one DuckDB
transaction deletes the source rows, registers the new files (retiring the ones they replace),
rebuilds the views over the registered files and marks the move ``done``. Files are read only when
registered, and source rows are deleted only by the transaction that registers their copy, so a
move killed at any point loses and duplicates nothing: the next run marks it ``abandoned``, deletes
its files, and moves again. ``BENCH_PIPELINE_TIER_PAUSE=<point>`` makes a move stop at a named
point (tests kill it there; see :data:`PAUSE_POINTS`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bench_pipeline import paths
from bench_pipeline.errors import BenchError
from bench_pipeline.store import Store

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
HIST_BINS_PER_OCTAVE = 32
#: upper bound of the relative error of a quantile read from a histogram (one bin width)
HIST_RELATIVE_ERROR = 2 ** (1 / HIST_BINS_PER_OCTAVE) - 1
FINISHED = ("succeeded", "failed", "interrupted")  # statuses whose runs may move (not `running`)
PAUSE_ENV = "BENCH_PIPELINE_TIER_PAUSE"
PAUSE_FILE_ENV = "BENCH_PIPELINE_TIER_PAUSE_FILE"
PAUSE_POINTS = (
    "warm:before_write",  # journal row written, no file yet
    "warm:during_write",  # a temporary file exists, not renamed
    "warm:after_write",  # every file renamed and verified, nothing registered, source intact
    "warm:during_delete",  # inside the transaction: source rows deleted, not committed
    "warm:after_commit",  # committed; retired files not yet deleted, manifests not yet written
    "cold:before_write",
    "cold:during_write",
    "cold:after_write",
    "cold:during_delete",
    "cold:after_commit",
)
LOCK_TIMEOUT_S = 600.0


class TierError(BenchError):
    """Tier settings are invalid, or a tier file failed its verification."""


# ---------------------------------------------------------------------------------------- settings
def operations_file() -> Path:
    """The operations settings file: ``$BENCH_PIPELINE_OPERATIONS`` or ``$BENCH_PIPELINE_HOME/operations.yaml``."""
    explicit = os.environ.get("BENCH_PIPELINE_OPERATIONS")
    return Path(explicit) if explicit else paths.home() / "operations.yaml"


def read_config_section(name: str) -> dict[str, Any]:
    """One top-level section of the operations file (tiering, schedules, watch, drop, alerts); {} if absent."""
    path = operations_file()
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise TierError(f"not valid YAML: {exc}", where=str(path), fix="fix the YAML syntax") from None
    if not isinstance(data, dict):
        raise TierError(
            "expected a mapping of sections", where=str(path), fix="see docs/schedules-and-sensors.md"
        )
    section = data.get(name) or {}
    if not isinstance(section, dict):
        raise TierError(f"section {name!r} must be a mapping", where=str(path), fix="see docs/tiering.md")
    return section


class TierSettings(BaseModel):
    """Retention of the tiers. Precedence: explicit values > environment > operations file > defaults."""

    model_config = ConfigDict(extra="forbid")

    hot_days: int = Field(7, ge=0, le=36_500, description="raw samples younger than this stay in DuckDB")
    warm_days: int = Field(90, ge=1, le=36_500, description="older than this: yearly cold archives")
    warm_level: int = Field(3, ge=1, le=22, description="ZSTD level of warm files")
    cold_level: int = Field(19, ge=1, le=22, description="ZSTD level of cold archives")
    raw_level: int = Field(9, ge=1, le=22, description="ZSTD level of kept raw samples")
    keep_raw_suites: list[str] = Field(
        default_factory=list, description="keep raw samples of these suites too (besides keep_raw: true)"
    )

    @model_validator(mode="after")
    def _ordered(self) -> TierSettings:
        if self.warm_days <= self.hot_days:
            raise ValueError(f"warm_days ({self.warm_days}) must be greater than hot_days ({self.hot_days})")
        return self

    ENV: ClassVar[dict[str, str]] = {
        "hot_days": "BENCH_PIPELINE_HOT_DAYS",
        "warm_days": "BENCH_PIPELINE_WARM_DAYS",
        "keep_raw_suites": "BENCH_PIPELINE_KEEP_RAW_SUITES",
    }

    @classmethod
    def load(cls, **overrides: Any) -> TierSettings:
        values: dict[str, Any] = dict(read_config_section("tiering"))
        for key, var in cls.ENV.items():
            raw = os.environ.get(var)
            if raw:
                values[key] = (
                    [s.strip() for s in raw.split(",") if s.strip()] if key == "keep_raw_suites" else raw
                )
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'tiering'}: {e['msg']}" for e in exc.errors()
            )
            raise TierError(
                f"invalid tier settings: {problems}",
                where=f"{operations_file()} (section tiering) or BENCH_PIPELINE_HOT_DAYS/WARM_DAYS",
                fix="hot_days >= 0, warm_days > hot_days (whole days)",
            ) from None


# ---------------------------------------------------------------------------------------- results
@dataclass
class TierResult:
    """Counts moved by one ``tier`` call, and what each tier holds afterwards."""

    as_of: date
    hot_days: int
    warm_days: int
    warm: dict[str, int] = field(default_factory=lambda: {"runs": 0, "samples": 0, "cells": 0, "files": 0})
    raw: dict[str, int] = field(default_factory=lambda: {"samples": 0, "files": 0})
    cold: dict[str, int] = field(default_factory=lambda: {"runs": 0, "cells": 0, "files": 0})
    discarded: int = 0  # hot rows of already tiered cells (duplicates), dropped
    recovered: list[str] = field(default_factory=list)  # interrupted moves cleaned up
    totals: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        out["seconds"] = round(self.seconds, 3)
        return out


# ---------------------------------------------------------------------------------------- public API
def tier(
    as_of: date | None = None, settings: TierSettings | None = None, *, store: Store | None = None
) -> TierResult:
    """Move hot → warm, then warm → cold, as of ``as_of`` (default: today, UTC). Idempotent."""
    return _moves(("warm", "cold"), as_of, settings, store)


def move_to_warm(
    as_of: date | None = None, settings: TierSettings | None = None, *, store: Store | None = None
) -> TierResult:
    """Only the hot → warm move (the ``warm_tier`` asset)."""
    return _moves(("warm",), as_of, settings, store)


def move_to_cold(
    as_of: date | None = None, settings: TierSettings | None = None, *, store: Store | None = None
) -> TierResult:
    """Only the warm → cold compaction (the ``cold_tier`` asset)."""
    return _moves(("cold",), as_of, settings, store)


def _moves(
    steps: tuple[str, ...], as_of: date | None, settings: TierSettings | None, store: Store | None
) -> TierResult:
    started = time.perf_counter()
    settings = settings or TierSettings.load()
    result = TierResult(as_of or _today(), settings.hot_days, settings.warm_days)
    try:
        with _session(store) as mover:
            result.recovered = mover.recover()
            if "warm" in steps:
                mover.move_to_warm(result, settings)
            if "cold" in steps:
                mover.move_to_cold(result, settings)
            result.totals = mover.totals()
    except (duckdb.Error, OSError) as exc:  # e.g. a damaged or missing tier file, a full disk
        raise TierError(
            f"tier move failed, its source was left as it was: {exc}",
            fix="`bench-pipeline tier --verify` checks the tier files; fix the cause and run it again",
        ) from exc
    result.seconds = time.perf_counter() - started
    return result


def verify_tiers(store: Store | None = None) -> list[str]:
    """Problems with the registered tier files (missing, wrong size, checksum or row count); [] if none."""
    store = store or Store()
    home = store.path.parent
    problems = []
    with store.connect(read_only=True) as con:
        rows = con.execute("SELECT path, rows, bytes, sha256 FROM tier_files ORDER BY path").fetchall()
        for rel, n_rows, n_bytes, digest in rows:
            path = home / rel
            if not path.exists():
                problems.append(f"{rel}: missing")
                continue
            if path.stat().st_size != n_bytes or _sha256(path) != digest:
                problems.append(f"{rel}: checksum mismatch")
                continue
            found = _one(con, "SELECT count(*) FROM read_parquet(?)", [str(path)])[0]
            if found != n_rows:
                problems.append(f"{rel}: {found} rows, {n_rows} registered")
    return problems


def refresh_views(store: Store | None = None) -> None:
    """Rebuild ``tier_cells`` / ``tier_raw_samples`` over the registered files (after moving the home)."""
    with _session(store) as mover:
        mover.con.execute("BEGIN TRANSACTION")
        mover.rebuild_views()
        mover.con.execute("COMMIT")


# ---------------------------------------------------------------------------------------- reading tiers
@dataclass(frozen=True)
class Moments:
    """Sufficient statistics of a sample for means and variances: n, mean and M2 = Σ(x − mean)²."""

    n: int
    mean: float
    m2: float

    @property
    def variance(self) -> float:
        return self.m2 / (self.n - 1) if self.n > 1 else math.nan


def merge_moments(parts: Sequence[Moments]) -> Moments:
    """Moments of the union of several samples, exact (Chan, Golub & LeVeque 1979, pairwise update):
    n = n_a + n_b, δ = mean_b − mean_a, mean = mean_a + δ·n_b/n, M2 = M2_a + M2_b + δ²·n_a·n_b/n."""
    n, mean, m2 = 0, 0.0, 0.0
    for p in parts:
        if p.n == 0:
            continue
        total = n + p.n
        delta = p.mean - mean
        mean += delta * p.n / total
        m2 += p.m2 + delta * delta * n * p.n / total
        n = total
    return Moments(n, mean if n else math.nan, m2)


@dataclass(frozen=True)
class WelchResult:
    t: float
    df: float
    p_value: float
    mean_ratio: float  # mean_b / mean_a


def welch_test(a: Moments, b: Moments) -> WelchResult:
    """Welch's two-sided t-test from sufficient statistics (Welch 1947; Welch–Satterthwaite df).

    t = (mean_b − mean_a) / √(s²_a/n_a + s²_b/n_b), df = (s²_a/n_a + s²_b/n_b)² /
    ((s²_a/n_a)²/(n_a − 1) + (s²_b/n_b)²/(n_b − 1)). Identical to
    ``scipy.stats.ttest_ind(x_a, x_b, equal_var=False)`` on the raw samples.
    """
    from scipy import stats as sps

    if a.n < 2 or b.n < 2:
        return WelchResult(math.nan, math.nan, math.nan, b.mean / a.mean if a.mean else math.nan)
    va, vb = a.variance / a.n, b.variance / b.n
    se2 = va + vb
    ratio = b.mean / a.mean if a.mean else math.nan
    if se2 == 0:
        return WelchResult(math.nan, math.nan, math.nan, ratio)
    t = (b.mean - a.mean) / math.sqrt(se2)
    df = se2 * se2 / (va * va / (a.n - 1) + vb * vb / (b.n - 1))
    return WelchResult(t, df, float(2 * sps.t.sf(abs(t), df)), ratio)


def histogram_bin(x: float) -> int:
    """The bin of a value: ⌊log2(x)·32⌋ for x ≥ 1, −1 below (the SQL of the warm move uses the same rule)."""
    return math.floor(math.log2(x) * HIST_BINS_PER_OCTAVE) if x >= 1 else -1


def merge_histograms(hists: Sequence[tuple[Sequence[int], Sequence[int]]]) -> dict[int, int]:
    """Sum of sparse histograms given as (bins, counts) pairs."""
    merged: dict[int, int] = {}
    for bins, counts in hists:
        if bins is None or counts is None:  # a cell without successful samples
            continue
        for b, c in zip(bins, counts, strict=True):
            merged[int(b)] = merged.get(int(b), 0) + int(c)
    return merged


def histogram_quantile(hist: dict[int, int], q: float) -> float:
    """Quantile q of the values counted in ``hist`` (type 7, as the exact quantiles), approximately.

    The k-th smallest value (0-based) of a bin holding c values, of which ``before`` are in lower bins,
    is placed at 2^((b + (k − before + ½)/c)/32): the values of a bin are spread evenly in log space.
    Relative error below one bin width (:data:`HIST_RELATIVE_ERROR`).
    """
    n = sum(hist.values())
    if n == 0:
        return math.nan
    h = (n - 1) * q
    lo, frac = int(math.floor(h)), h - math.floor(h)
    ordered = sorted(hist.items())

    def order_stat(k: int) -> float:
        before = 0
        for b, c in ordered:
            if k < before + c:
                if b < 0:
                    return 0.0
                return 2 ** ((b + (k - before + 0.5) / c) / HIST_BINS_PER_OCTAVE)
            before += c
        raise AssertionError("rank beyond the histogram")

    x_lo = order_stat(lo)
    return x_lo if frac == 0 else x_lo + frac * (order_stat(min(lo + 1, n - 1)) - x_lo)


# ---------------------------------------------------------------------------------------- internals
def _today() -> date:
    return datetime.now(UTC).date()


def _cutoff(as_of: date, days: int) -> datetime:
    return datetime.combine(as_of - timedelta(days=days), dtime(0), tzinfo=UTC)


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> tuple[Any, ...]:
    """The single row of an aggregate query."""
    row = con.execute(sql, params or []).fetchone()
    assert row is not None, sql
    return row


def _literal(value: str | Path) -> str:
    """A SQL string literal of one of *our* paths (COPY targets and view definitions take no parameters)."""
    return "'" + str(value).replace("'", "''") + "'"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pause(point: str) -> None:
    """Test hook: stop at ``point`` when ``BENCH_PIPELINE_TIER_PAUSE`` names it (comma-separated)."""
    wanted = os.environ.get(PAUSE_ENV, "")
    if not wanted or point not in wanted.split(","):
        return
    marker = os.environ.get(PAUSE_FILE_ENV)
    if marker:
        Path(marker).write_text(point)
    sys.stderr.write(f"tier: paused at {point}\n")
    sys.stderr.flush()
    time.sleep(3600)


@contextmanager
def _tier_lock(home: Path) -> Iterator[None]:
    """One tier move per home at a time (a CLI call and the daily schedule may meet)."""
    lock_dir = home / "tiers"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / ".lock").open("w") as fh:
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TierError(
                        "another tier move has been running for 10 minutes",
                        where=str(lock_dir / ".lock"),
                        fix="wait for it to finish (or stop it: a killed move is cleaned up by the next one)",
                    ) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def _session(store: Store | None) -> Iterator[_Mover]:
    store = store or Store()
    home = store.path.parent  # tier files live beside the database: $BENCH_PIPELINE_HOME/tiers by default
    with _tier_lock(home), store.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        yield _Mover(con, home)


@dataclass
class _File:
    rel: str
    tier: str
    kind: str
    period: str
    rows: int
    bytes: int
    sha256: str
    min_started_at: datetime | None
    max_started_at: datetime | None


# The aggregation of one move's hot samples: one row per cell × metric over timed samples (warmups
# excluded), `ok` ones counted in n and the statistics, the others in n_failed — the rules of
# bench_pipeline.stats.summary.cell_stats as bench_pipeline.analysis applies them.
_AGGREGATE_SQL = f"""
CREATE OR REPLACE TEMP TABLE _tier_agg AS
WITH s AS (
    SELECT s.run_id, s.suite, s.tool, s.operation, s.fixture, s.ok,
           CAST(s.wall_ns AS DOUBLE) AS wall, CAST(s.user_ns + s.sys_ns AS DOUBLE) AS cpu,
           CAST(s.peak_rss_bytes AS DOUBLE) AS rss
    FROM samples s JOIN _tier_moving m USING (run_id)
    WHERE NOT s.warmup
), long AS (
    SELECT s.run_id, s.suite, s.tool, s.operation, s.fixture, s.ok, k.metric,
           CASE k.metric WHEN 'wall' THEN s.wall WHEN 'cpu' THEN s.cpu ELSE s.rss END AS x
    FROM s CROSS JOIN (VALUES ('wall'), ('cpu'), ('rss')) k(metric)
)
SELECT run_id, suite, tool, operation, fixture, metric,
       count(x) FILTER (WHERE ok) AS n,
       count(*) FILTER (WHERE NOT ok) AS n_failed,
       avg(x) FILTER (WHERE ok) AS mean,
       var_pop(x) FILTER (WHERE ok) * count(x) FILTER (WHERE ok) AS m2,
       min(x) FILTER (WHERE ok) AS min,
       max(x) FILTER (WHERE ok) AS max,
       quantile_cont(x, {list(QUANTILES)}) FILTER (WHERE ok) AS q,
       histogram(CASE WHEN x >= 1 THEN CAST(floor(log2(x) * {HIST_BINS_PER_OCTAVE}) AS SMALLINT)
                      ELSE CAST(-1 AS SMALLINT) END) FILTER (WHERE ok AND x IS NOT NULL) AS h
FROM long GROUP BY ALL
"""

# Statistics from the raw samples where the hot tables have them, the rest carried over from
# cell_stats (cells with statistics but no samples keep everything they had).
_CELLS_SQL = """
CREATE OR REPLACE TEMP TABLE _tier_new AS
WITH c AS (SELECT c.* FROM cell_stats c JOIN _tier_moving m USING (run_id))
SELECT run_id, suite, tool, operation, fixture, metric,
       CAST(coalesce(a.n, c.n) AS BIGINT) AS n,
       CAST(coalesce(a.n_failed, c.n_failed) AS BIGINT) AS n_failed,
       coalesce(a.mean, c.mean) AS mean,
       coalesce(a.m2, CASE WHEN c.n > 1 THEN c.std * c.std * (c.n - 1) WHEN c.n = 1 THEN 0.0 END) AS m2,
       coalesce(a.min, c.min) AS min, coalesce(a.max, c.max) AS max,
       coalesce(a.q[1], c.p5) AS p5, a.q[2] AS p25, coalesce(a.q[3], c.median) AS p50, a.q[4] AS p75,
       coalesce(a.q[5], c.p95) AS p95, coalesce(a.q[6], c.p99) AS p99,
       CASE WHEN a.q[2] IS NULL THEN c.iqr END AS iqr,
       c.trimmed_mean, c.mad, c.ci_low, c.ci_high, c.ci_coverage, c.outlier_share, c.first_run_ratio,
       c.warnings, c.computed_at,
       CAST(map_keys(a.h) AS SMALLINT[]) AS hist_bins, CAST(map_values(a.h) AS INTEGER[]) AS hist_counts,
       m.started_at, 'warm' AS tier, m.month
FROM _tier_agg a FULL OUTER JOIN c USING (run_id, suite, tool, operation, fixture, metric)
JOIN _tier_moving m USING (run_id)
"""

#: columns of the warm and cold files (migration 007 declares the same in the empty ``tier_cells``)
CELL_COLUMN_NAMES = (
    "run_id", "suite", "tool", "operation", "fixture", "metric", "n", "n_failed", "mean", "m2", "min", "max",
    "p5", "p25", "p50", "p75", "p95", "p99", "iqr", "trimmed_mean", "mad", "ci_low", "ci_high", "ci_coverage",
    "outlier_share", "first_run_ratio", "warnings", "computed_at", "hist_bins", "hist_counts", "started_at",
)  # fmt: skip
CELL_COLUMNS = ", ".join(CELL_COLUMN_NAMES) + ", tier"
CELL_ORDER = "suite, tool, operation, fixture, metric, started_at, run_id"


class _Mover:
    """One tier session: the DuckDB write connection and the tier directory, under the tier lock."""

    def __init__(self, con: duckdb.DuckDBPyConnection, home: Path) -> None:
        self.con = con
        self.home = home
        self.root = home / "tiers"

    # ------------------------------------------------------------------ journal and recovery
    def recover(self) -> list[str]:
        """Clean up after interrupted moves: delete their files, mark them abandoned; finish retirements."""
        recovered = []
        for move_id, state, retired in self.con.execute(
            "SELECT move_id, state, retired FROM tier_moves "
            "WHERE state IN ('started', 'written') OR (state = 'done' AND retired IS NOT NULL) ORDER BY move_id"
        ).fetchall():
            if state == "done":  # killed after its commit: finish deleting the files it replaced
                self._delete_retired(json.loads(retired) if retired else [])
                self.con.execute("UPDATE tier_moves SET retired = NULL WHERE move_id = ?", [move_id])
                continue
            for path in self.root.rglob(f"*{move_id}*"):
                path.unlink(missing_ok=True)
            self.con.execute(
                "UPDATE tier_moves SET state = 'abandoned', finished_at = ?, "
                "message = 'interrupted; its files were removed, its source rows were never deleted' "
                "WHERE move_id = ?",
                [datetime.now(UTC), move_id],
            )
            recovered.append(move_id)
        for tmp in self.root.rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        return recovered

    def _delete_retired(self, retired: list[str]) -> None:
        registered = {r[0] for r in self.con.execute("SELECT path FROM tier_files").fetchall()}
        for rel in retired:
            if rel not in registered:
                (self.home / rel).unlink(missing_ok=True)

    def _start(self, kind: str, as_of: date) -> str:
        move_id = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{kind}-{uuid.uuid4().hex[:8]}"
        self.con.execute(
            "INSERT INTO tier_moves (move_id, kind, as_of, state, started_at) VALUES (?, ?, ?, 'started', ?)",
            [move_id, kind, as_of, datetime.now(UTC)],
        )
        return move_id

    # ------------------------------------------------------------------ files
    def _write(
        self,
        select_sql: str,
        params: list[Any],
        rel: str,
        *,
        tier: str,
        kind: str,
        period: str,
        level: int,
        expected_rows: int,
        pause: str,
        read_only: bool = False,
    ) -> _File:
        """COPY a query to ``rel``: temporary file → fsync → rename → verify rows and SHA-256."""
        dest = self.home / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        self.con.execute(
            f"COPY ({select_sql}) TO {_literal(tmp)} "
            f"(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL {int(level)})",
            params,
        )
        _pause(pause)
        _fsync(tmp)
        digest = _sha256(tmp)
        os.replace(tmp, dest)
        _fsync(dest.parent)
        if read_only:
            dest.chmod(0o444)
        rows, lo, hi = self._file_rows(dest, kind)
        if rows != expected_rows or _sha256(dest) != digest:
            raise TierError(
                f"{rel}: verification failed ({rows} rows written, {expected_rows} expected)",
                fix="nothing was moved; check the disk and run `bench-pipeline tier` again",
            )
        return _File(rel, tier, kind, period, rows, dest.stat().st_size, digest, lo, hi)

    def _file_rows(self, path: Path, kind: str) -> tuple[int, datetime | None, datetime | None]:
        if kind == "cells":
            sql = "SELECT count(*), min(started_at), max(started_at) FROM read_parquet(?)"
        else:
            sql = "SELECT count(*), NULL, NULL FROM read_parquet(?)"
        rows, lo, hi = _one(self.con, sql, [str(path)])
        return int(rows), lo, hi

    def _register(self, files: list[_File], move_id: str) -> None:
        now = datetime.now(UTC)
        for f in files:
            self.con.execute(
                "INSERT INTO tier_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    f.rel,
                    f.tier,
                    f.kind,
                    f.period,
                    f.rows,
                    f.bytes,
                    f.sha256,
                    f.min_started_at,
                    f.max_started_at,
                    move_id,
                    now,
                ],
            )

    def _cells_files(self, tier: str, period: str) -> list[str]:
        return [
            r[0]
            for r in self.con.execute(
                "SELECT path FROM tier_files WHERE tier = ? AND kind = 'cells' AND period = ? ORDER BY path",
                [tier, period],
            ).fetchall()
        ]

    def rebuild_views(self) -> None:
        """Point ``tier_cells`` / ``tier_raw_samples`` at exactly the registered files (inside a transaction)."""
        for view, kind in (("tier_cells", "cells"), ("tier_raw_samples", "samples")):
            files = [
                self.home / r[0]
                for r in self.con.execute(
                    "SELECT path FROM tier_files WHERE kind = ? ORDER BY path", [kind]
                ).fetchall()
            ]
            if not files:
                continue  # the migration's empty definition stays
            listing = ", ".join(_literal(p) for p in files)
            self.con.execute(
                f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM read_parquet([{listing}], union_by_name = true)"
            )

    def _finish(
        self,
        move_id: str,
        *,
        files: list[_File],
        retired: list[str],
        counts: dict[str, int],
        statements: list[tuple[str, list[Any], int | None]],
        pause: str,
    ) -> None:
        """The one transaction: delete the source rows, register the new files, retire the ones they
        replace, rebuild the views and mark the move done. ``statements`` are (sql, params, expected
        count of affected rows or None)."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            for sql, params, expected in statements:
                affected = _one(self.con, sql, params)[0]
                if expected is not None and affected != expected:
                    raise TierError(
                        f"the source changed during the move ({affected} rows affected, {expected} expected)",
                        fix="nothing was moved; run `bench-pipeline tier` again",
                    )
            if retired:
                self.con.execute("DELETE FROM tier_files WHERE list_contains(?, path)", [retired])
            self._register(files, move_id)
            self.con.execute(
                "UPDATE tier_moves SET state = 'done', finished_at = ?, runs = ?, cells = ?, samples = ?, "
                "raw_samples = ?, retired = ? WHERE move_id = ?",
                [
                    datetime.now(UTC),
                    counts.get("runs", 0),
                    counts.get("cells", 0),
                    counts.get("samples", 0),
                    counts.get("raw_samples", 0),
                    json.dumps(retired) if retired else None,
                    move_id,
                ],
            )
            self.rebuild_views()
            _pause(pause)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def _after_commit(self, move_id: str, retired: list[str], pause: str) -> None:
        _pause(pause)
        self._delete_retired(retired)
        if retired:
            self.con.execute("UPDATE tier_moves SET retired = NULL WHERE move_id = ?", [move_id])
        self.write_manifests()

    def write_manifests(self) -> None:
        """``tiers/<tier>/manifest.json``: every registered file of the tier with rows, bytes, SHA-256."""
        for tier in ("warm", "cold", "raw"):
            rows = self.con.execute(
                "SELECT path, kind, period, rows, bytes, sha256, move_id, created_at FROM tier_files "
                "WHERE tier = ? ORDER BY path",
                [tier],
            ).fetchall()
            if not rows and not (self.root / tier).exists():
                continue
            manifest = {
                "tier": tier,
                "generated_at": datetime.now(UTC).isoformat(),
                "rows": sum(r[3] for r in rows),
                "files": [
                    {
                        "path": str(Path(r[0]).relative_to(f"tiers/{tier}")),
                        "kind": r[1],
                        "period": r[2],
                        "rows": r[3],
                        "bytes": r[4],
                        "sha256": r[5],
                        "move_id": r[6],
                        "created_at": r[7].isoformat(),
                    }
                    for r in rows
                ],
            }
            target = self.root / tier / "manifest.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(".manifest.json.tmp")
            tmp.write_text(json.dumps(manifest, indent=2) + "\n")
            _fsync(tmp)
            os.replace(tmp, target)

    def _has_table(self, name: str) -> bool:
        return bool(
            self._count("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary", [name])
        )

    def _count(self, sql: str, params: list[Any] | None = None) -> int:
        return int(_one(self.con, sql, params)[0])

    def _rows_in(self, rels: list[str]) -> int:
        return sum(self._count("SELECT count(*) FROM read_parquet(?)", [str(self.home / r)]) for r in rels)

    # ------------------------------------------------------------------ hot → warm
    def move_to_warm(self, result: TierResult, settings: TierSettings) -> None:
        """Aggregate the hot samples of runs older than ``hot_days`` into the monthly warm files."""
        con = self.con
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _tier_moving AS
               SELECT r.run_id, r.suite, r.started_at, strftime(r.started_at, '%Y-%m') AS month,
                      FALSE AS keep_raw, r.run_id IN (SELECT run_id FROM tier_runs) AS retiered
               FROM runs r
               WHERE list_contains(?, r.status) AND r.started_at < ?
                 AND (EXISTS (SELECT 1 FROM samples s WHERE s.run_id = r.run_id)
                      OR (EXISTS (SELECT 1 FROM cell_stats c WHERE c.run_id = r.run_id)
                          AND r.run_id NOT IN (SELECT run_id FROM tier_runs)))""",
            [list(FINISHED), _cutoff(result.as_of, settings.hot_days)],
        )
        runs = self._count("SELECT count(*) FROM _tier_moving")
        if runs == 0:
            return
        suites = [r[0] for r in con.execute("SELECT DISTINCT suite FROM _tier_moving").fetchall()]
        keep = _keep_raw_suites(suites, settings)
        if keep:
            con.execute("UPDATE _tier_moving SET keep_raw = list_contains(?, suite)", [sorted(keep)])
        move_id = self._start("warm", result.as_of)
        _pause("warm:before_write")

        con.execute(_AGGREGATE_SQL)
        con.execute(_CELLS_SQL)
        # A run tiered before and back in the hot tables (late samples, statistics recomputed from kept
        # raw samples): the cells the tiers already hold are dropped, never written twice.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _tier_dup (run_id VARCHAR, tool VARCHAR, operation VARCHAR, fixture VARCHAR)"
        )
        if self._count("SELECT count(*) FROM _tier_moving WHERE retiered"):
            con.execute(
                """INSERT INTO _tier_dup SELECT DISTINCT t.run_id, t.tool, t.operation, t.fixture FROM tier_cells t
                   WHERE t.run_id IN (SELECT run_id FROM _tier_moving WHERE retiered)"""
            )
        discarded = self._count(
            "SELECT count(*) FROM _tier_new n SEMI JOIN _tier_dup d USING (run_id, tool, operation, fixture)"
        )
        if discarded:
            con.execute(
                "DELETE FROM _tier_new n USING _tier_dup d WHERE n.run_id = d.run_id AND n.tool = d.tool "
                "AND n.operation = d.operation AND n.fixture = d.fixture"
            )
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _tier_counts AS
               SELECT m.run_id, coalesce(s.samples, 0) AS samples, coalesce(n.cells, 0) AS cells
               FROM _tier_moving m
               LEFT JOIN (SELECT run_id, count(*) AS samples FROM samples
                          WHERE run_id IN (SELECT run_id FROM _tier_moving) GROUP BY run_id) s USING (run_id)
               LEFT JOIN (SELECT run_id, count(*) AS cells FROM _tier_new GROUP BY run_id) n USING (run_id)"""
        )
        hot_samples = self._count("SELECT coalesce(sum(samples), 0) FROM _tier_counts")
        # Runs whose raw samples are kept also keep their hot cell_stats rows (hidden by cell_stats_all
        # once the run is tiered): the statistics asset sees them and does not recompute the run from
        # the kept raw samples every day.
        hot_cells = self._count(
            "SELECT count(*) FROM cell_stats WHERE run_id IN (SELECT run_id FROM _tier_moving WHERE NOT keep_raw)"
        )

        files: list[_File] = []
        retired: list[str] = []
        cells = 0
        for (month,) in con.execute("SELECT DISTINCT month FROM _tier_new ORDER BY month").fetchall():
            new_rows = self._count("SELECT count(*) FROM _tier_new WHERE month = ?", [month])
            old = self._cells_files("warm", month)  # the month's file so far: merged into the new one
            sources = [f"SELECT {CELL_COLUMNS} FROM _tier_new WHERE month = ?"] + [
                f"SELECT {CELL_COLUMNS} FROM read_parquet({_literal(self.home / p)})" for p in old
            ]
            files.append(
                self._write(
                    f"SELECT * FROM ({' UNION ALL BY NAME '.join(sources)}) ORDER BY {CELL_ORDER}",
                    [month],
                    f"tiers/warm/{month}/cells-{move_id}.parquet",
                    tier="warm",
                    kind="cells",
                    period=month,
                    level=settings.warm_level,
                    expected_rows=new_rows + self._rows_in(old),
                    pause="warm:during_write",
                )
            )
            retired += old
            cells += new_rows

        raw_samples = 0
        raw_select = """SELECT s.* FROM samples s JOIN _tier_moving m USING (run_id)
                        WHERE m.keep_raw AND m.month = ?
                          AND NOT EXISTS (SELECT 1 FROM _tier_dup d WHERE d.run_id = s.run_id AND d.tool = s.tool
                                          AND d.operation = s.operation AND d.fixture = s.fixture)"""
        for (month,) in con.execute(
            "SELECT DISTINCT month FROM _tier_moving WHERE keep_raw ORDER BY month"
        ).fetchall():
            expected = self._count(f"SELECT count(*) FROM ({raw_select})", [month])
            if expected == 0:
                continue
            files.append(
                self._write(
                    raw_select + " ORDER BY s.run_id, s.tool, s.operation, s.fixture, s.round, s.iteration",
                    [month],
                    f"tiers/raw/{month}/samples-{move_id}.parquet",
                    tier="raw",
                    kind="samples",
                    period=month,
                    level=settings.raw_level,
                    expected_rows=expected,
                    pause="warm:during_write",
                )
            )
            raw_samples += expected

        con.execute(
            "UPDATE tier_moves SET state = 'written', written = ? WHERE move_id = ?",
            [json.dumps([f.rel for f in files]), move_id],
        )
        _pause("warm:after_write")
        moving = "SELECT run_id FROM _tier_moving"
        now = datetime.now(UTC)
        statements: list[tuple[str, list[Any], int | None]] = [
            (f"DELETE FROM samples WHERE run_id IN ({moving})", [], hot_samples),
            (f"DELETE FROM cell_stats WHERE run_id IN ({moving} WHERE NOT keep_raw)", [], hot_cells),
            (
                """UPDATE tier_runs t SET cells = t.cells + c.cells, samples = t.samples + c.samples,
                          move_id = ?, moved_at = ?
                   FROM _tier_counts c WHERE t.run_id = c.run_id""",
                [move_id, now],
                None,
            ),
            (
                """INSERT INTO tier_runs
                   SELECT m.run_id, 'warm', m.started_at, c.samples, c.cells, m.keep_raw, ?, ?
                   FROM _tier_moving m JOIN _tier_counts c USING (run_id) WHERE NOT m.retiered""",
                [move_id, now],
                None,
            ),
        ]
        if self._has_table("sample_flags"):  # flags of kept raw samples stay with them
            statements.append(
                (f"DELETE FROM sample_flags WHERE run_id IN ({moving} WHERE NOT keep_raw)", [], None)
            )
        if self._has_table("sample_metrics"):
            # extra per-sample metrics are raw values too: they leave hot with their samples (their
            # cell_stats rows went to warm above) and stay, in DuckDB, only where raw samples are kept
            statements.append(
                (f"DELETE FROM sample_metrics WHERE run_id IN ({moving} WHERE NOT keep_raw)", [], None)
            )
        self._finish(
            move_id,
            files=files,
            retired=retired,
            counts={"runs": runs, "cells": cells, "samples": hot_samples, "raw_samples": raw_samples},
            statements=statements,
            pause="warm:during_delete",
        )
        result.warm["runs"] += runs
        result.warm["samples"] += hot_samples
        result.warm["cells"] += cells
        result.warm["files"] += sum(1 for f in files if f.tier == "warm")
        result.raw["samples"] += raw_samples
        result.raw["files"] += sum(1 for f in files if f.tier == "raw")
        result.discarded += discarded
        self._after_commit(move_id, retired, "warm:after_commit")

    # ------------------------------------------------------------------ warm → cold
    def move_to_cold(self, result: TierResult, settings: TierSettings) -> None:
        """Move warm rows of runs older than ``warm_days`` into the yearly, read-only cold archives."""
        con = self.con
        cutoff = _cutoff(result.as_of, settings.warm_days)
        candidates = [
            r[0]
            for r in con.execute(
                "SELECT path FROM tier_files WHERE tier = 'warm' AND kind = 'cells' AND min_started_at < ? "
                "ORDER BY path",
                [cutoff],
            ).fetchall()
        ]
        if not candidates:
            return
        move_id = self._start("cold", result.as_of)
        _pause("cold:before_write")
        listing = ", ".join(_literal(self.home / p) for p in candidates)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _tier_src AS
                SELECT {CELL_COLUMNS}, strftime(started_at, '%Y-%m') AS month, strftime(started_at, '%Y') AS year
                FROM read_parquet([{listing}], union_by_name = true)"""
        )
        source_rows = self._count("SELECT count(*) FROM _tier_src")
        files: list[_File] = []
        moved = self._count("SELECT count(*) FROM _tier_src WHERE started_at < ?", [cutoff])
        runs = self._count("SELECT count(DISTINCT run_id) FROM _tier_src WHERE started_at < ?", [cutoff])
        retired = list(candidates)
        for (year,) in con.execute(
            "SELECT DISTINCT year FROM _tier_src WHERE started_at < ? ORDER BY year", [cutoff]
        ).fetchall():
            old = self._cells_files("cold", year)
            new_rows = self._count(
                "SELECT count(*) FROM _tier_src WHERE started_at < ? AND year = ?", [cutoff, year]
            )
            sources = [
                f"SELECT {', '.join(CELL_COLUMN_NAMES)}, 'cold' AS tier FROM _tier_src "
                "WHERE started_at < ? AND year = ?"
            ] + [f"SELECT {CELL_COLUMNS} FROM read_parquet({_literal(self.home / p)})" for p in old]
            files.append(
                self._write(
                    f"SELECT * FROM ({' UNION ALL BY NAME '.join(sources)}) ORDER BY {CELL_ORDER}",
                    [cutoff, year],
                    f"tiers/cold/{year}/cells-{year}-{move_id}.parquet",
                    tier="cold",
                    kind="cells",
                    period=year,
                    level=settings.cold_level,
                    expected_rows=new_rows + self._rows_in(old),
                    pause="cold:during_write",
                    read_only=True,
                )
            )
            retired += old
        kept = 0
        for (month,) in con.execute(
            "SELECT DISTINCT month FROM _tier_src WHERE started_at >= ? ORDER BY month", [cutoff]
        ).fetchall():
            expected = self._count(
                "SELECT count(*) FROM _tier_src WHERE started_at >= ? AND month = ?", [cutoff, month]
            )
            files.append(
                self._write(
                    f"SELECT {CELL_COLUMNS} FROM _tier_src WHERE started_at >= ? AND month = ? ORDER BY {CELL_ORDER}",
                    [cutoff, month],
                    f"tiers/warm/{month}/cells-{move_id}.parquet",
                    tier="warm",
                    kind="cells",
                    period=month,
                    level=settings.warm_level,
                    expected_rows=expected,
                    pause="cold:during_write",
                )
            )
            kept += expected
        if moved + kept != source_rows:  # every warm row is in exactly one new file
            raise TierError(
                f"cold move: {moved} + {kept} rows written, {source_rows} read",
                fix="nothing was moved; run `bench-pipeline tier` again",
            )
        con.execute(
            "UPDATE tier_moves SET state = 'written', written = ? WHERE move_id = ?",
            [json.dumps([f.rel for f in files]), move_id],
        )
        _pause("cold:after_write")
        self._finish(
            move_id,
            files=files,
            retired=retired,
            counts={"runs": runs, "cells": moved},
            statements=[
                (
                    "UPDATE tier_runs SET tier = 'cold' WHERE run_id IN "
                    "(SELECT DISTINCT run_id FROM _tier_src WHERE started_at < ?)",
                    [cutoff],
                    None,
                )
            ],
            pause="cold:during_delete",
        )
        result.cold["runs"] += runs
        result.cold["cells"] += moved
        result.cold["files"] += sum(1 for f in files if f.tier == "cold")
        self._after_commit(move_id, retired, "cold:after_commit")

    # ------------------------------------------------------------------ totals
    def totals(self) -> dict[str, dict[str, int]]:
        """What each tier holds now: rows, files and bytes."""
        out = {
            "hot": {
                "samples": self._count("SELECT count(*) FROM samples"),
                "cells": self._count("SELECT count(*) FROM cell_stats"),
            }
        }
        for tier in ("warm", "cold", "raw"):
            rows, files, size = _one(
                self.con,
                "SELECT coalesce(sum(rows), 0), count(*), coalesce(sum(bytes), 0) FROM tier_files WHERE tier = ?",
                [tier],
            )
            unit = "samples" if tier == "raw" else "cells"
            out[tier] = {unit: int(rows), "files": int(files), "bytes": int(size)}
        return out


def _keep_raw_suites(suites: list[str], settings: TierSettings) -> set[str]:
    """Suites among ``suites`` whose raw samples are kept: ``keep_raw: true`` in the suite file, or listed."""
    from bench_pipeline.suite import available_suites, load_suite_file

    keep = {s for s in suites if s in settings.keep_raw_suites}
    known = available_suites()
    for name in suites:
        if name in known and name not in keep:
            try:
                if load_suite_file(known[name]).settings.keep_raw:
                    keep.add(name)
            except BenchError:
                pass  # an invalid suite file: its raw samples are not kept (the default)
    return keep
