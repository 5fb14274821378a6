-- 001: runs, samples, cells, landing bookkeeping, cell statistics, and the contract views.
CREATE TABLE runs (
    run_id        VARCHAR PRIMARY KEY,
    suite         VARCHAR NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    status        VARCHAR NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
    trigger       VARCHAR NOT NULL DEFAULT 'manual',
    backend       VARCHAR,
    git_tag       VARCHAR,
    git_commit    VARCHAR,
    host          JSON,
    tool_versions JSON,
    settings      JSON,
    tools         JSON,
    sizes         JSON,
    quick         BOOLEAN DEFAULT FALSE,
    suite_sha256  VARCHAR,
    hostname      VARCHAR,
    pid           INTEGER,
    pid_started   DOUBLE,
    seconds       DOUBLE,
    message       VARCHAR
);

CREATE TABLE samples (
    run_id         VARCHAR NOT NULL,
    suite          VARCHAR NOT NULL,
    tool           VARCHAR NOT NULL,
    operation      VARCHAR NOT NULL,
    fixture        VARCHAR NOT NULL,
    backend        VARCHAR NOT NULL,
    round          INTEGER NOT NULL,
    iteration      INTEGER NOT NULL,
    warmup         BOOLEAN NOT NULL,
    wall_ns        BIGINT NOT NULL,
    user_ns        BIGINT,
    sys_ns         BIGINT,
    peak_rss_bytes BIGINT,
    read_bytes     BIGINT,
    write_bytes    BIGINT,
    ctx_switches   BIGINT,
    exit_code      INTEGER NOT NULL,
    timed_out      BOOLEAN NOT NULL,
    ok             BOOLEAN NOT NULL,
    stdout_bytes   BIGINT,
    stderr_bytes   BIGINT,
    stderr_tail    VARCHAR,
    created_at     TIMESTAMPTZ NOT NULL
);

-- One row per planned cell of a run, including n/a and unavailable ones (explicit, never a gap).
CREATE TABLE run_cells (
    run_id    VARCHAR NOT NULL,
    suite     VARCHAR NOT NULL,
    tool      VARCHAR NOT NULL,
    operation VARCHAR NOT NULL,
    fixture   VARCHAR NOT NULL,
    category  VARCHAR,
    status    VARCHAR NOT NULL,
    reason    VARCHAR,
    n_ok      INTEGER,
    n_failed  INTEGER,
    stop      VARCHAR
);

CREATE TABLE landing_loads (
    path      VARCHAR PRIMARY KEY,
    run_id    VARCHAR NOT NULL,
    kind      VARCHAR NOT NULL,
    rows      BIGINT NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE cell_stats (
    run_id          VARCHAR NOT NULL,
    suite           VARCHAR NOT NULL,
    tool            VARCHAR NOT NULL,
    operation       VARCHAR NOT NULL,
    fixture         VARCHAR NOT NULL,
    metric          VARCHAR NOT NULL,
    n               BIGINT NOT NULL,
    n_failed        BIGINT,
    median          DOUBLE,
    mean            DOUBLE,
    trimmed_mean    DOUBLE,
    std             DOUBLE,
    mad             DOUBLE,
    iqr             DOUBLE,
    min             DOUBLE,
    max             DOUBLE,
    p5              DOUBLE,
    p95             DOUBLE,
    p99             DOUBLE,
    cv              DOUBLE,
    ci_low          DOUBLE,
    ci_high         DOUBLE,
    outlier_share   DOUBLE,
    first_run_ratio DOUBLE,
    warnings        VARCHAR[],
    computed_at     TIMESTAMPTZ NOT NULL
);

-- Contract view: timed samples of finished runs (interrupted/running runs never appear).
CREATE VIEW samples_all AS
SELECT s.run_id, s.suite, s.tool, s.operation, s.fixture, s.backend, s.round, s.iteration,
       s.wall_ns, s.user_ns, s.sys_ns, s.peak_rss_bytes, s.read_bytes, s.write_bytes, s.exit_code,
       s.timed_out, s.created_at, s.ok, s.ctx_switches, s.stdout_bytes, s.stderr_bytes, s.stderr_tail
FROM samples s JOIN runs r USING (run_id)
WHERE r.status IN ('succeeded', 'failed') AND NOT s.warmup;

CREATE VIEW cell_stats_all AS
SELECT c.* FROM cell_stats c JOIN runs r USING (run_id)
WHERE r.status IN ('succeeded', 'failed');
