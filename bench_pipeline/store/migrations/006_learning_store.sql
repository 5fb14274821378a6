-- 006: the learning store (SPEC §6): detected patterns, per-cell trends, recommendations and a quality
-- score per run, kept across runs. `run_id` is the run the analysis was made at (the suite's newest);
-- bench_pipeline/learning.py replaces a run's rows in one transaction, so writes are idempotent.
CREATE TABLE benchmark_patterns (
    run_id     VARCHAR NOT NULL,
    suite      VARCHAR NOT NULL,
    kind       VARCHAR NOT NULL,   -- scaling | growth-differs | error | timeout | oom | gate | fresh-change | drift
    tool       VARCHAR,
    operation  VARCHAR,
    fixture    VARCHAR,
    metric     VARCHAR,
    label      VARCHAR,            -- growth class, stderr signature, direction ...
    score      DOUBLE,             -- kind-specific: exponent, failure count, ratio
    detail     VARCHAR,            -- one sentence for people
    data       JSON,               -- the full finding
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE performance_trends (
    run_id             VARCHAR NOT NULL,
    suite              VARCHAR NOT NULL,
    tool               VARCHAR NOT NULL,
    operation          VARCHAR NOT NULL,
    fixture            VARCHAR NOT NULL,
    metric             VARCHAR NOT NULL,
    points             INTEGER NOT NULL,
    latest_median      DOUBLE,
    slope_per_run      DOUBLE,     -- relative change per run (Theil-Sen, current regime)
    p_value            DOUBLE,     -- Mann-Kendall
    forecast           DOUBLE,
    forecast_low       DOUBLE,
    forecast_high      DOUBLE,
    change_points      JSON,       -- [{run_id, started_at, before_median, after_median, ratio, ...}]
    last_change_run_id VARCHAR,
    gate_outside       BOOLEAN,
    gate_alert         BOOLEAN,
    gate_ratio         DOUBLE,
    gate_low           DOUBLE,
    gate_high          DOUBLE,
    created_at         TIMESTAMPTZ NOT NULL
);

CREATE TABLE recommendations (
    run_id     VARCHAR NOT NULL,
    suite      VARCHAR NOT NULL,
    kind       VARCHAR NOT NULL,   -- bottleneck | hot-path | config
    tool       VARCHAR,
    operation  VARCHAR,
    fixture    VARCHAR,
    title      VARCHAR NOT NULL,
    detail     VARCHAR,
    score      DOUBLE,
    evidence   JSON,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE run_quality (
    run_id       VARCHAR NOT NULL,
    suite        VARCHAR NOT NULL,
    quality      DOUBLE,           -- 0..1: mean of the available components below
    noise        DOUBLE,
    completeness DOUBLE,
    significance DOUBLE,
    detail       JSON,
    computed_at  TIMESTAMPTZ NOT NULL
);
