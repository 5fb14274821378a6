"""The moves themselves: hot → warm (aggregate each cell's raw samples into monthly files) and warm →
cold (compact old months into yearly read-only archives), and the public entry points that run them
in one locked session. The crash-safety steps are :mod:`bench_pipeline.ops.tiering.journal`'s."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

import duckdb

from bench_pipeline.errors import BenchError
from bench_pipeline.ops.tiering.files import TierFile, pause_at, sql_literal, tier_lock
from bench_pipeline.ops.tiering.journal import Journal, one_row
from bench_pipeline.ops.tiering.settings import TierError, TierSettings
from bench_pipeline.stats.sufficient import HIST_BINS_PER_OCTAVE, QUANTILES
from bench_pipeline.store import Store
from bench_pipeline.timestamps import TimestampError, check_date

FINISHED = ("succeeded", "failed", "interrupted")  # statuses whose runs may move (not `running`)


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
    if as_of is not None:
        try:
            check_date(as_of)
        except TimestampError as exc:
            raise TierError(
                str(exc), where="as of", fix="give a date between 1970 and 2200 (YYYY-MM-DD)"
            ) from None
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


def refresh_views(store: Store | None = None) -> None:
    """Rebuild ``tier_cells`` / ``tier_raw_samples`` over the registered files (after moving the home)."""
    with _session(store) as mover:
        mover.con.execute("BEGIN TRANSACTION")
        mover.rebuild_views()
        mover.con.execute("COMMIT")


def _today() -> date:
    return datetime.now(UTC).date()


def _cutoff(as_of: date, days: int) -> datetime:
    return datetime.combine(as_of - timedelta(days=days), dtime(0), tzinfo=UTC)


@contextmanager
def _session(store: Store | None) -> Iterator[Mover]:
    store = store or Store()
    home = store.path.parent  # tier files live beside the database: $BENCH_PIPELINE_HOME/tiers by default
    with tier_lock(home), store.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        yield Mover(con, home)


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


class Mover(Journal):
    """A tier session that moves: hot → warm, warm → cold, and what each tier holds afterwards."""

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
        pause_at("warm:before_write")

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

        files: list[TierFile] = []
        retired: list[str] = []
        cells = 0
        for (month,) in con.execute("SELECT DISTINCT month FROM _tier_new ORDER BY month").fetchall():
            new_rows = self._count("SELECT count(*) FROM _tier_new WHERE month = ?", [month])
            old = self._cells_files("warm", month)  # the month's file so far: merged into the new one
            sources = [f"SELECT {CELL_COLUMNS} FROM _tier_new WHERE month = ?"] + [
                f"SELECT {CELL_COLUMNS} FROM read_parquet({sql_literal(self.home / p)})" for p in old
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
        pause_at("warm:after_write")
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
        pause_at("cold:before_write")
        listing = ", ".join(sql_literal(self.home / p) for p in candidates)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _tier_src AS
                SELECT {CELL_COLUMNS}, strftime(started_at, '%Y-%m') AS month, strftime(started_at, '%Y') AS year
                FROM read_parquet([{listing}], union_by_name = true)"""
        )
        source_rows = self._count("SELECT count(*) FROM _tier_src")
        files: list[TierFile] = []
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
            ] + [f"SELECT {CELL_COLUMNS} FROM read_parquet({sql_literal(self.home / p)})" for p in old]
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
        pause_at("cold:after_write")
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
            rows, files, size = one_row(
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
