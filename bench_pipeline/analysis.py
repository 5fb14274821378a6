"""Statistics of stored runs: glue between the store and ``bench_pipeline.stats``.

The pipeline's side (which runs need work; read, compute, write ``sample_flags``, ``cell_stats``,
``comparisons``) and the ``compare`` command's side (tool vs tool within a run, or a candidate run
vs a baseline run, read-only). Each ``compare`` call is its own Benjamini–Hochberg family (the rows
it returns); the report's family is all comparisons of the run. Runs measured on different hosts
are compared but flagged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import polars as pl

from bench_pipeline import stats
from bench_pipeline.errors import BenchError
from bench_pipeline.store import Store
from bench_pipeline.store.landing import DECISIONS_TOOL
from bench_pipeline.suite import suite_delta

# the tables' column order: the keys, then what the statistics compute (stats.STAT_COLUMNS,
# stats.TOOL_COLUMNS), then bookkeeping
STAT_TABLE_COLUMNS = [
    *("run_id", "suite", "tool", "operation", "fixture", "metric"),
    *stats.STAT_COLUMNS,
    "computed_at",
]
COMPARISON_COLUMNS = [
    "run_id",
    *(c for c in stats.TOOL_COLUMNS if c != "run_id"),
    "delta",
    "computed_at",
    # how the row's interval was made (migration 030): the fixed-n bootstrap of the ratio of
    # medians, or the sequential design the run stopped on (wall time of runs sampled to a verdict)
    "estimator",
    "ci_level",
    "decision",
    "n_rounds",
]
ESTIMATOR_BCA = "median-ratio-bca"
ESTIMATOR_SEQUENTIAL = "paired-hl-sequential"
DECISIONS_SQL = """SELECT operation, fixture, metric, tool_a, tool_b, ratio, ci_low, ci_high, level,
                          p_value, p_adjusted, decision, verdict, n_rounds
                   FROM run_decisions WHERE run_id = ?"""
FLIPPED = {"slower": "faster", "faster": "slower"}

SAMPLES_SQL = """SELECT run_id, suite, tool, operation, fixture, round, iteration, wall_ns, user_ns, sys_ns,
                        peak_rss_bytes, exit_code, timed_out, ok, FALSE AS warmup
                 FROM samples_all WHERE run_id = ?"""


# extra metrics of samples (sample_metrics: tokens, cost, evaluator scores, instructions, ...)
EXTRA_SQL = """SELECT run_id, tool, operation, fixture, round, iteration, key, value
               FROM sample_metrics_all WHERE run_id = ?"""
SAMPLE_KEYS = ["run_id", "tool", "operation", "fixture", "round", "iteration"]
BUILTIN_METRICS = tuple(stats.METRICS)


# A run × tool with more samples than this is read a batch of whole cells at a time (flags and statistics
# are per cell), its constant keys as literal columns: memory follows the batch, not the run (issue 17:
# 4 million samples of one ingested file)
BATCH_ROWS = 500_000
CELLS_SQL = """SELECT operation, fixture, sum(n) AS n FROM (
                   SELECT operation, fixture, count(*) AS n FROM samples_all WHERE run_id = ? AND tool = ?
                   GROUP BY ALL
                   UNION ALL
                   SELECT operation, fixture, 0 AS n FROM sample_metrics_all WHERE run_id = ? AND tool = ?
                   GROUP BY ALL)
               GROUP BY ALL ORDER BY ALL"""
KEYLESS_SQL = """SELECT operation, fixture, round, iteration, wall_ns, user_ns, sys_ns, peak_rss_bytes, exit_code,
                        timed_out, ok, FALSE AS warmup
                 FROM samples_all WHERE run_id = ?"""
EXTRA_KEYS_SQL = """SELECT DISTINCT key FROM sample_metrics_all WHERE run_id = ? AND tool = ? AND isfinite(value)
                    ORDER BY key"""
CELLS_CLAUSE = " AND tool = ? AND list_contains(?, operation || chr(31) || fixture)"


def cell_batches(store: Store, run_id: str, tool: str) -> list[list[str] | None]:
    """The cells of a run × tool grouped so that a batch holds at most BATCH_ROWS samples (a larger
    cell alone); ``[None]`` — everything at once — when the whole run × tool fits."""
    cells = store.query(CELLS_SQL, [run_id, tool, run_id, tool])
    if cells.is_empty() or cells["n"].sum() <= BATCH_ROWS:
        return [None]
    batches: list[list[str] | None] = []
    batch: list[str] = []
    rows = 0
    for operation, fixture, n in cells.iter_rows():
        if batch and rows + n > BATCH_ROWS:
            batches.append(batch)
            batch, rows = [], 0
        batch.append(f"{operation}\x1f{fixture}")  # names hold no control characters
        rows += n
    return [*batches, batch]


def _samples(store: Store, run_id: str, tool: str, cells: list[str] | None) -> pl.DataFrame:
    """SAMPLES_SQL for one tool; for a batch of ``cells``, with run_id, suite and tool as literals."""
    if cells is None:
        return store.query(SAMPLES_SQL + " AND tool = ?", [run_id, tool])
    suite = store.query("SELECT suite FROM runs WHERE run_id = ?", [run_id])
    frame = store.query(KEYLESS_SQL + CELLS_CLAUSE, [run_id, tool, cells])
    return frame.with_columns(
        run_id=pl.lit(run_id),
        suite=pl.lit(suite.item() if suite.height else None, pl.Utf8),
        tool=pl.lit(tool),
    ).select(["run_id", "suite", "tool", *[c for c in frame.columns]])


def _concat(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """The results of a run's batches as one frame (empty when every batch was)."""
    full = [p for p in parts if not p.is_empty()]
    return pl.concat(full, how="diagonal_relaxed") if full else pl.DataFrame()


def read_samples(
    store: Store, run_id: str, tools: Sequence[str] | None = None, cells: list[str] | None = None
) -> pl.DataFrame:
    """A run's samples (SAMPLES_SQL), optionally of some tools (of one tool's ``cells``: a batch of
    :func:`cell_batches`), with one ``metric:<key>`` column per extra metric it has
    (``stats.extra_column``): extra metrics are analysed like wall, cpu and rss."""
    if cells is not None and tools and len(tools) == 1:
        samples = _samples(store, run_id, tools[0], cells)
        clause, params = CELLS_CLAUSE, [run_id, tools[0], cells]
    else:
        clause = f" AND tool IN ({', '.join('?' for _ in tools)})" if tools else ""
        params = [run_id, *(tools or [])]
        samples = store.query(SAMPLES_SQL + clause, params)
    extra = store.query(EXTRA_SQL + clause, params).filter(
        ~pl.col("key").is_in([*BUILTIN_METRICS, *SAMPLE_KEYS]) & pl.col("value").is_finite()
    )
    if extra.is_empty():
        return samples
    wide = extra.pivot(on="key", index=SAMPLE_KEYS, values="value", aggregate_function="first")
    wide = wide.rename({k: stats.extra_column(k) for k in wide.columns if k not in SAMPLE_KEYS})
    wide = wide.cast({"round": samples["round"].dtype, "iteration": samples["iteration"].dtype})
    joined = samples.join(wide, on=SAMPLE_KEYS, how="left")
    # samples that carry only extra metrics (instruction counts, asv's tracked values, BMF without
    # latency) have no timing row: they count as successful samples without wall, cpu or rss
    alone = wide.join(samples.select(SAMPLE_KEYS), on=SAMPLE_KEYS, how="anti")
    if alone.is_empty():
        return joined
    suite = store.query("SELECT suite FROM runs WHERE run_id = ?", [run_id])
    alone = alone.with_columns(
        suite=pl.lit(suite.item() if suite.height else None, pl.Utf8),
        exit_code=pl.lit(0, samples["exit_code"].dtype),
        timed_out=pl.lit(False),
        ok=pl.lit(True),
        warmup=pl.lit(False),
    )
    return pl.concat([joined, alone], how="diagonal_relaxed")


def stats_frame(samples: pl.DataFrame) -> pl.DataFrame:
    """Samples as the statistics expect them: success is ``ok`` (the expected exit code, in time),
    so an expected non-zero exit (a merge stopping on a conflict) counts as success and an
    unexpected zero as failure."""
    return samples.with_columns(
        exit_code=pl.when(pl.col("ok")).then(pl.lit(0)).otherwise(pl.col("exit_code").replace(0, 1)),
        timed_out=pl.col("timed_out") & ~pl.col("ok"),
    )


def cell_stats_frame(samples: pl.DataFrame) -> pl.DataFrame:
    """Per cell × metric summaries (long format) with the columns of the ``cell_stats`` table."""
    if samples.is_empty():
        return pl.DataFrame()
    metrics = [*BUILTIN_METRICS, *stats.extra_metric_names(samples.columns)]
    out = stats.cell_stats(stats_frame(samples), metrics)
    return out.with_columns(computed_at=pl.lit(datetime.now(UTC))).select(
        [c for c in STAT_TABLE_COLUMNS if c in out.columns or c == "computed_at"]
    )


FLAG_COLUMNS = [
    "run_id",
    "tool",
    "operation",
    "fixture",
    "round",
    "iteration",
    "failed",
    "modified_z",
    "outlier",
    "tukey_mild",
    "tukey_extreme",
    "slow_first",
    "computed_at",
]


def flags_frame(samples: pl.DataFrame) -> pl.DataFrame:
    """Cleaning flags of every timed sample (outliers are flagged, never dropped)."""
    if samples.is_empty():
        return pl.DataFrame()
    out = stats.clean_samples(stats_frame(samples))
    return out.with_columns(computed_at=pl.lit(datetime.now(UTC))).select(FLAG_COLUMNS)


def update_flags(store: Store, suite: str, tool: str) -> dict[str, dict[str, int]]:
    """Flag the samples of every run of suite × tool that has none yet; counts per run."""
    written = {}
    for run_id in runs_missing(store, "sample_flags", suite, tool):
        parts = [
            flags_frame(_samples(store, run_id, tool, cells)) for cells in cell_batches(store, run_id, tool)
        ]
        flags = _concat(parts)
        store.replace_rows("sample_flags", {"run_id": run_id, "tool": tool}, flags)
        written[run_id] = {
            "samples": flags.height,
            "outliers": int(flags["outlier"].sum()) if flags.height else 0,
            "slow_first": int(flags["slow_first"].sum()) if flags.height else 0,
        }
    return written


# who was measured in a run: its timed samples, and samples that carry only extra metrics
MEASURED_SQL = """SELECT run_id, suite, tool FROM samples_all
                  UNION SELECT m.run_id, r.suite, m.tool FROM sample_metrics_all m JOIN runs r USING (run_id)"""


def runs_missing(store: Store, table: str, suite: str, tool: str | None = None) -> list[str]:
    """Finished runs of the suite (optionally: with samples of ``tool``) without rows in ``table``.

    For ``comparisons``: only runs of two tools or more (a one-tool run never gets comparison rows;
    counting it as missing would re-read every such run at each update)."""
    assert table in ("cell_stats", "comparisons", "sample_flags")
    tool_clause = "AND s.tool = ?" if tool else ""
    match = "AND c.tool = s.tool" if table != "comparisons" else ""
    tools = "HAVING count(DISTINCT s.tool) >= 2" if table == "comparisons" else ""
    df = store.query(
        f"""SELECT s.run_id FROM ({MEASURED_SQL}) s
            WHERE s.suite = ? {tool_clause}
              AND NOT EXISTS (SELECT 1 FROM {table} c WHERE c.run_id = s.run_id {match})
            GROUP BY s.run_id {tools}
            ORDER BY s.run_id""",
        [suite, tool] if tool else [suite],
    )
    return df["run_id"].to_list()


def update_cell_stats(store: Store, suite: str, tool: str) -> dict[str, int]:
    """Compute statistics for every run of suite × tool that has samples but no statistics yet."""
    written = {}
    for run_id in runs_missing(store, "cell_stats", suite, tool):
        batches = cell_batches(store, run_id, tool)
        # every batch gets the run's extra metrics, so each cell has the rows one read would give it
        keys = store.query(EXTRA_KEYS_SQL, [run_id, tool])["key"].to_list() if batches != [None] else []
        columns = [stats.extra_column(k) for k in keys if k not in (*BUILTIN_METRICS, *SAMPLE_KEYS)]
        parts = []
        for cells in batches:
            samples = read_samples(store, run_id, [tool], cells)
            missing = [pl.lit(None, pl.Float64).alias(c) for c in columns if c not in samples.columns]
            parts.append(cell_stats_frame(samples.with_columns(missing) if missing else samples))
        frame = _concat(parts)
        written[run_id] = store.replace_rows("cell_stats", {"run_id": run_id, "tool": tool}, frame)
    return written


def comparisons_frame(samples: pl.DataFrame, delta: float, *, seed: int = 0) -> pl.DataFrame:
    """Every tool pair × cell × metric of one run; one Benjamini–Hochberg family for all of them.

    Extra metrics are compared when all their values in the run are positive (ratios of medians and
    their log-scale bootstrap need it; a score that can be 0 gets statistics but no ratios)."""
    if samples.is_empty() or samples["tool"].n_unique() < 2:
        return pl.DataFrame()
    extras = [
        m
        for m in stats.extra_metric_names(samples.columns)
        if (samples[stats.extra_column(m)].drop_nulls() > 0).all()
    ]
    out = stats.compare_tools(stats_frame(samples), None, [*BUILTIN_METRICS, *extras], delta=delta, seed=seed)
    return out.with_columns(
        delta=pl.lit(delta),
        computed_at=pl.lit(datetime.now(UTC)),
        estimator=pl.lit(ESTIMATOR_BCA),
        ci_level=pl.lit(0.95),
        decision=pl.lit(None, pl.Utf8),
        n_rounds=pl.lit(None, pl.Int32),
    ).select(COMPARISON_COLUMNS)


def with_decisions(frame: pl.DataFrame, decisions: pl.DataFrame) -> pl.DataFrame:
    """Rows of the metric a run was sampled to a verdict on (wall, or CPU time) take the verdicts it stopped on.

    The run decided each tool pair with the sequential design (``stats.sequential``: paired
    Hodges–Lehmann ratio, exact signed-rank interval at the look's level, its own BH step across the
    run's pairs); recomputing a fixed-n 95 % interval on data collected until that decision would void
    the error guarantee, so ``ratio``, ``ci_*``, ``p_*`` and ``verdict`` come from ``run_decisions``
    (turned around when the pair's tools are in the other order). Medians, effect sizes and the other
    metrics stay as computed."""
    if frame.is_empty() or decisions.is_empty():
        return frame
    keys = ["operation", "fixture", "metric", "tool_a", "tool_b"]
    same = decisions
    turned = decisions.with_columns(
        tool_a=pl.col("tool_b"),
        tool_b=pl.col("tool_a"),
        ratio=1 / pl.col("ratio"),
        ci_low=1 / pl.col("ci_high"),
        ci_high=1 / pl.col("ci_low"),
        decision=pl.col("decision").replace(FLIPPED),
        verdict=pl.col("verdict").replace(FLIPPED),
    )
    both = pl.concat([same, turned]).unique(subset=keys, keep="first").rename(
        {c: f"_d_{c}" for c in ["ratio", "ci_low", "ci_high", "p_value", "p_adjusted", "verdict", "decision",
                                "level", "n_rounds"]})  # fmt: skip
    joined = frame.join(both, on=keys, how="left")
    hit = pl.col("_d_verdict").is_not_null()
    keep_invalid = pl.col("verdict") == "invalid"  # a state that differs stays invalid whatever the timing
    return joined.with_columns(
        *(
            pl.when(hit).then(pl.col(f"_d_{c}")).otherwise(pl.col(c)).alias(c)
            for c in ["ratio", "ci_low", "ci_high", "p_value", "p_adjusted"]
        ),  # fmt: skip
        verdict=pl.when(hit & ~keep_invalid).then(pl.col("_d_verdict")).otherwise(pl.col("verdict")),
        estimator=pl.when(hit).then(pl.lit(ESTIMATOR_SEQUENTIAL)).otherwise(pl.col("estimator")),
        ci_level=pl.when(hit).then(1 - pl.col("_d_level")).otherwise(pl.col("ci_level")),
        decision=pl.when(hit).then(pl.col("_d_decision")).otherwise(pl.col("decision")),
        n_rounds=pl.when(hit).then(pl.col("_d_n_rounds").cast(pl.Int32)).otherwise(pl.col("n_rounds")),
    ).select(frame.columns)


def update_comparisons(store: Store, suite: str, delta: float) -> dict[str, int]:
    store.load_landing(suite=suite, tool=DECISIONS_TOOL)  # the verdicts runs stopped on (suite-level files)
    written = {}
    for run_id in runs_missing(store, "comparisons", suite):
        frame = comparisons_frame(read_samples(store, run_id), delta)
        frame = with_decisions(frame, store.query(DECISIONS_SQL, [run_id]))
        written[run_id] = store.replace_rows("comparisons", {"run_id": run_id}, frame)
    return written


def analyse_runs(store: Store, run_ids: list[str]) -> dict[str, int]:
    """Flags, cell statistics and comparisons for the suites and tools of these runs — what the
    clean_samples, cell_stats and comparisons assets do — so ingested runs can be reported at once."""
    if not run_ids:
        return {}
    placeholders = ", ".join("?" for _ in run_ids)
    pairs = store.query(
        f"SELECT DISTINCT suite, tool FROM ({MEASURED_SQL}) WHERE run_id IN ({placeholders})", run_ids
    )
    written = {"flags": 0, "cell_stats": 0, "comparisons": 0}
    for suite, tool in pairs.iter_rows():
        written["flags"] += len(update_flags(store, suite, tool))
        written["cell_stats"] += sum(update_cell_stats(store, suite, tool).values())
    for suite in pairs["suite"].unique().to_list():
        written["comparisons"] += sum(update_comparisons(store, suite, suite_delta(suite)).values())
    return written


# ---------------------------------------------------------------------------------------- compare
def _fingerprint(store: Store, run_id: str) -> str:
    host = store.run(run_id).get("host")
    try:
        return str(json.loads(host).get("fingerprint", "")) if host else ""
    except (TypeError, json.JSONDecodeError):
        return ""


def compare_tools_in_run(
    store: Store, suite: str, ref: str, tool_a: str, tool_b: str, metric: str
) -> tuple[str, pl.DataFrame]:
    run_id = store.resolve_run(suite, ref)
    samples = read_samples(store, run_id, [tool_a, tool_b])
    present = set(samples["tool"].unique().to_list())
    missing = [t for t in (tool_a, tool_b) if t not in present]
    if missing:
        raise BenchError(
            f"run {run_id} has no samples of {', '.join(missing)}",
            fix=f"tools in this run: {', '.join(sorted(present)) or 'none'}",
        )
    out = stats.compare_tools(stats_frame(samples), [(tool_a, tool_b)], metric, delta=suite_delta(suite))
    out = out.with_columns(
        estimator=pl.lit(ESTIMATOR_BCA),
        ci_level=pl.lit(0.95),
        decision=pl.lit(None, pl.Utf8),
        n_rounds=pl.lit(None, pl.Int32),
    )
    return run_id, with_decisions(
        out, store.query(DECISIONS_SQL, [run_id])
    )  # the verdicts the run stopped on


def compare_run_to_baseline(
    store: Store, suite: str, baseline: str, candidate: str, tool: str | None, metric: str
) -> tuple[str, str, list[str], pl.DataFrame]:
    base_id, cand_id = store.resolve_run(suite, baseline), store.resolve_run(suite, candidate)
    if base_id == cand_id:
        raise BenchError(
            f"baseline and candidate are the same run ({base_id})", fix="choose two different runs"
        )
    base = read_samples(store, base_id, [tool] if tool else None)
    cand = read_samples(store, cand_id, [tool] if tool else None)
    if base.is_empty() or cand.is_empty():
        empty = base_id if base.is_empty() else cand_id
        raise BenchError(
            f"run {empty} has no samples{f' of {tool}' if tool else ''}", fix="check --tool and the runs"
        )
    notes = []
    classes = [store.run(r).get("host_class") or "local" for r in (base_id, cand_id)]
    if classes[0] != classes[1]:
        notes.append(
            f"baseline and candidate were measured on different host classes ({classes[0]}, {classes[1]}): "
            "differences may be the machines'; compare runs of one class (docs/scaling.md)"
        )
    elif _fingerprint(store, base_id) != _fingerprint(store, cand_id):
        notes.append(
            "baseline and candidate were measured on different hosts: differences may be the machine's"
        )
    out = stats.compare_runs(stats_frame(base), stats_frame(cand), metric, delta=suite_delta(suite))
    return base_id, cand_id, notes, out


# ---------------------------------------------------------------------------------------- revisions
FLIPPED_VERDICT = {"faster": "slower", "slower": "faster"}
STORED_COMPARISONS_SQL = """
SELECT * FROM comparisons
WHERE run_id = ? AND ((tool_a = ? AND tool_b = ?) OR (tool_a = ? AND tool_b = ?))
ORDER BY operation, fixture, metric
"""


def _inverse(value: float | None) -> float | None:
    return 1.0 / value if value else None


def oriented(row: dict, reference: str) -> dict:
    """A stored comparison read with ``reference`` as tool A: ratio = other / reference, CI and
    medians swapped to match, ``faster``/``slower`` exchanged. The table stores each pair once, with
    the tools in name order; a revision comparison wants the older revision as A, whatever its name."""
    if row["tool_a"] == reference:
        return dict(row)
    out = {
        **row,
        "tool_a": row["tool_b"],
        "tool_b": row["tool_a"],
        "median_a": row.get("median_b"),
        "median_b": row.get("median_a"),
        "n_a": row.get("n_b"),
        "n_b": row.get("n_a"),
        "ratio": _inverse(row.get("ratio")),
        "ci_low": _inverse(row.get("ci_high")),
        "ci_high": _inverse(row.get("ci_low")),
        "verdict": FLIPPED_VERDICT.get(row["verdict"], row["verdict"]),
    }
    if row.get("hl_shift_log") is not None:
        out["hl_shift_log"] = -row["hl_shift_log"]
    if row.get("prob_superiority") is not None:
        out["prob_superiority"] = 1.0 - row["prob_superiority"]
    return out


def stored_comparisons(store: Store, run_id: str, reference: str, other: str) -> list[dict]:
    """The run's stored comparisons of ``other`` against ``reference`` (every cell and metric), as the
    ``comparisons`` asset computed them (one Benjamini–Hochberg family per run), oriented reference → other."""
    frame = store.query(STORED_COMPARISONS_SQL, [run_id, reference, other, other, reference])
    return [oriented(r, reference) for r in frame.iter_rows(named=True)]
