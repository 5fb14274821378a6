-- 007: hot / warm / cold tiers (docs/tiering.md), the move journal, and alerts of failed runs.
--
-- The warm and cold tiers are Parquet files under $BENCH_PIPELINE_HOME/tiers; `tier_files` lists
-- the registered ones (paths relative to the home). The views `tier_cells` and `tier_raw_samples`
-- read exactly the registered files: bench_pipeline.tiering rebuilds them in the same transaction
-- that registers or retires a file, so a file that is not registered is never read. Until the
-- first move they are empty, with the columns the files will have.

-- One row per tier move: started -> written -> done, or abandoned when a later run finds it
-- interrupted (its files are deleted; the source rows were never touched).
CREATE TABLE tier_moves (
    move_id     VARCHAR PRIMARY KEY,
    kind        VARCHAR NOT NULL CHECK (kind IN ('warm', 'cold')),
    as_of       DATE NOT NULL,
    state       VARCHAR NOT NULL CHECK (state IN ('started', 'written', 'done', 'abandoned')),
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    runs        BIGINT,
    cells       BIGINT,
    samples     BIGINT,
    raw_samples BIGINT,
    written     JSON,     -- files the move wrote (relative paths)
    retired     JSON,     -- registered files it replaced; deleted once the move is done
    message     VARCHAR
);

CREATE TABLE tier_files (
    path           VARCHAR PRIMARY KEY,  -- relative to $BENCH_PIPELINE_HOME
    tier           VARCHAR NOT NULL CHECK (tier IN ('warm', 'cold', 'raw')),
    kind           VARCHAR NOT NULL CHECK (kind IN ('cells', 'samples')),
    period         VARCHAR NOT NULL,     -- YYYY-MM (warm, raw) or YYYY (cold)
    rows           BIGINT NOT NULL,
    bytes          BIGINT NOT NULL,
    sha256         VARCHAR NOT NULL,
    min_started_at TIMESTAMPTZ,
    max_started_at TIMESTAMPTZ,
    move_id        VARCHAR NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL
);

-- Runs whose samples and statistics left the hot tables (one row per run, tier = where its cells are).
CREATE TABLE tier_runs (
    run_id     VARCHAR NOT NULL,
    tier       VARCHAR NOT NULL CHECK (tier IN ('warm', 'cold')),
    started_at TIMESTAMPTZ,
    samples    BIGINT,
    cells      BIGINT,
    raw_kept   BOOLEAN NOT NULL,
    move_id    VARCHAR NOT NULL,
    moved_at   TIMESTAMPTZ NOT NULL
);

-- Failed Dagster runs (run-failure sensor), and anything else worth a person's attention.
CREATE TABLE alerts (
    alert_id       VARCHAR PRIMARY KEY,
    created_at     TIMESTAMPTZ NOT NULL,
    kind           VARCHAR NOT NULL,
    severity       VARCHAR NOT NULL,
    dagster_run_id VARCHAR,
    job_name       VARCHAR,
    partition_key  VARCHAR,
    suite          VARCHAR,
    message        VARCHAR,
    details        JSON,
    webhook_status VARCHAR   -- null: no webhook configured; "sent 200", "failed: ..."
);

-- Columns of the warm/cold Parquet files (one row per run x tool x operation x fixture x metric).
-- Derivable values (median = p50, std, cv) are computed by cell_stats_all, not stored.
CREATE VIEW tier_cells AS
SELECT CAST(NULL AS VARCHAR) AS run_id, CAST(NULL AS VARCHAR) AS suite, CAST(NULL AS VARCHAR) AS tool,
       CAST(NULL AS VARCHAR) AS operation, CAST(NULL AS VARCHAR) AS fixture, CAST(NULL AS VARCHAR) AS metric,
       CAST(NULL AS BIGINT) AS n, CAST(NULL AS BIGINT) AS n_failed, CAST(NULL AS DOUBLE) AS mean,
       CAST(NULL AS DOUBLE) AS m2, CAST(NULL AS DOUBLE) AS min, CAST(NULL AS DOUBLE) AS max,
       CAST(NULL AS DOUBLE) AS p5, CAST(NULL AS DOUBLE) AS p25, CAST(NULL AS DOUBLE) AS p50,
       CAST(NULL AS DOUBLE) AS p75, CAST(NULL AS DOUBLE) AS p95, CAST(NULL AS DOUBLE) AS p99,
       CAST(NULL AS DOUBLE) AS iqr, CAST(NULL AS DOUBLE) AS trimmed_mean, CAST(NULL AS DOUBLE) AS mad,
       CAST(NULL AS DOUBLE) AS ci_low, CAST(NULL AS DOUBLE) AS ci_high, CAST(NULL AS DOUBLE) AS ci_coverage,
       CAST(NULL AS DOUBLE) AS outlier_share, CAST(NULL AS DOUBLE) AS first_run_ratio,
       CAST(NULL AS VARCHAR[]) AS warnings, CAST(NULL AS TIMESTAMPTZ) AS computed_at,
       CAST(NULL AS SMALLINT[]) AS hist_bins, CAST(NULL AS INTEGER[]) AS hist_counts,
       CAST(NULL AS TIMESTAMPTZ) AS started_at, CAST(NULL AS VARCHAR) AS tier
WHERE false;

-- Raw samples kept (suite setting keep_raw): the columns of `samples`.
CREATE VIEW tier_raw_samples AS SELECT * FROM samples WHERE false;

-- Contract view: timed samples of finished runs, hot or kept raw (interrupted/running runs never appear).
CREATE OR REPLACE VIEW samples_all AS
SELECT s.run_id, s.suite, s.tool, s.operation, s.fixture, s.backend, s.round, s.iteration,
       s.wall_ns, s.user_ns, s.sys_ns, s.peak_rss_bytes, s.read_bytes, s.write_bytes, s.exit_code,
       s.timed_out, s.created_at, s.ok, s.ctx_switches, s.stdout_bytes, s.stderr_bytes, s.stderr_tail,
       s.oom_killed, s.cgroup_peak_bytes, s.cgroup_cpu_ns, s.cgroup_throttled_ns, s.cgroup_io_read_bytes,
       s.cgroup_io_write_bytes, 'hot' AS tier
FROM samples s JOIN runs r USING (run_id)
WHERE r.status IN ('succeeded', 'failed') AND NOT s.warmup
UNION ALL BY NAME
SELECT s.run_id, s.suite, s.tool, s.operation, s.fixture, s.backend, s.round, s.iteration,
       s.wall_ns, s.user_ns, s.sys_ns, s.peak_rss_bytes, s.read_bytes, s.write_bytes, s.exit_code,
       s.timed_out, s.created_at, s.ok, s.ctx_switches, s.stdout_bytes, s.stderr_bytes, s.stderr_tail,
       s.oom_killed, s.cgroup_peak_bytes, s.cgroup_cpu_ns, s.cgroup_throttled_ns, s.cgroup_io_read_bytes,
       s.cgroup_io_write_bytes, 'raw' AS tier
FROM tier_raw_samples s JOIN runs r USING (run_id)
WHERE r.status IN ('succeeded', 'failed') AND NOT s.warmup;

-- Contract view: cell statistics of finished runs, wherever they live. Hot rows of a run that has
-- already been tiered (statistics recomputed later, e.g. from kept raw samples) are hidden: the
-- tier holds that run's cells, and the next move reconciles the hot rows.
-- Extra columns: m2 (sum of squared deviations), p25, p50, p75, hist_bins/hist_counts (warm/cold
-- only; bin b holds values in [2^(b/32), 2^((b+1)/32)), bin -1 holds values < 1) and tier.
CREATE OR REPLACE VIEW cell_stats_all AS
SELECT c.*, c.median AS p50,
       CASE WHEN c.n > 1 THEN c.std * c.std * (c.n - 1) WHEN c.n = 1 THEN 0.0 END AS m2,
       'hot' AS tier
FROM cell_stats c JOIN runs r USING (run_id)
WHERE r.status IN ('succeeded', 'failed')
  AND NOT EXISTS (SELECT 1 FROM tier_runs t WHERE t.run_id = c.run_id)
UNION ALL BY NAME
SELECT t.run_id, t.suite, t.tool, t.operation, t.fixture, t.metric, t.n, t.n_failed,
       t.p50 AS median, t.mean, t.trimmed_mean,
       CASE WHEN t.n > 1 THEN sqrt(t.m2 / (t.n - 1)) END AS std,
       t.mad, coalesce(t.p75 - t.p25, t.iqr) AS iqr, t.min, t.max, t.p5, t.p95, t.p99,
       CASE WHEN t.n > 1 AND t.mean <> 0 THEN sqrt(t.m2 / (t.n - 1)) / t.mean END AS cv,
       t.ci_low, t.ci_high, t.ci_coverage, t.outlier_share, t.first_run_ratio, t.warnings, t.computed_at,
       t.p25, t.p50, t.p75, t.m2, t.hist_bins, t.hist_counts, t.tier
FROM tier_cells t JOIN runs r USING (run_id)
WHERE r.status IN ('succeeded', 'failed');
