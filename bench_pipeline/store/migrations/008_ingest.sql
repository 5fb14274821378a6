-- 008: results from elsewhere (docs/ingest.md, docs/api.md): open key/value metrics per sample,
-- batches of runs, and where ingested data came from. All four tables are filled from landing
-- files (kinds metrics, batches, sources, origins) in the same transaction as the samples.

-- Extra measurements of a sample (instructions, tokens, cost, evaluator scores, iterations, ...).
-- Keyed like the sample (run, tool, operation, fixture, round, iteration). Times in ns, sizes in bytes.
CREATE TABLE sample_metrics (
    run_id    VARCHAR NOT NULL,
    suite     VARCHAR NOT NULL,
    tool      VARCHAR NOT NULL,
    operation VARCHAR NOT NULL,
    fixture   VARCHAR NOT NULL,
    round     INTEGER NOT NULL,
    iteration INTEGER NOT NULL,
    key       VARCHAR NOT NULL,
    value     DOUBLE NOT NULL,
    unit      VARCHAR
);

-- Which runs belong to which batch (a batch is a set of runs submitted together).
CREATE TABLE batch_runs (
    batch_id VARCHAR NOT NULL,
    run_id   VARCHAR NOT NULL,
    suite    VARCHAR NOT NULL,
    added_at TIMESTAMPTZ NOT NULL,
    metadata JSON
);

-- One row per source (file or API payload) ingested into a run: makes re-ingestion idempotent.
CREATE TABLE ingest_sources (
    run_id      VARCHAR NOT NULL,
    sha256      VARCHAR NOT NULL,   -- of the content
    identity    VARCHAR NOT NULL,   -- of the content and the options that change what is stored (--tool)
    source      VARCHAR NOT NULL,   -- file name (no directories) or "api"
    format      VARCHAR NOT NULL,
    samples     BIGINT NOT NULL,
    trigger     VARCHAR NOT NULL,   -- ingest | api
    ingested_at TIMESTAMPTZ NOT NULL
);

-- One row per ingested cell: what the source called it and whether its samples are raw values or
-- a summary statistic (kind = 'summary': the sample holds `statistic` of `n_source` runs).
CREATE TABLE ingest_cells (
    run_id      VARCHAR NOT NULL,
    suite       VARCHAR NOT NULL,
    tool        VARCHAR NOT NULL,
    operation   VARCHAR NOT NULL,
    fixture     VARCHAR NOT NULL,
    format      VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,
    source_name VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL CHECK (kind IN ('raw', 'summary')),
    statistic   VARCHAR,
    n_source    BIGINT,
    summary     JSON,               -- the source's own statistics (ns / bytes), as it reported them
    ingested_at TIMESTAMPTZ NOT NULL
);

-- Batches with their runs counted (runs of any status; the API adds scores and telemetry).
CREATE VIEW batches AS
SELECT b.batch_id,
       min(b.added_at) AS created_at,
       max(r.finished_at) AS completed_at,
       count(DISTINCT b.run_id) AS runs,
       count(DISTINCT b.run_id) FILTER (WHERE r.status = 'succeeded') AS succeeded,
       list(DISTINCT b.suite ORDER BY b.suite) AS suites,
       arg_max(b.metadata, b.added_at) AS metadata
FROM batch_runs b LEFT JOIN runs r USING (run_id)
GROUP BY b.batch_id;

-- Metrics of finished runs, like samples_all (interrupted/running runs never appear).
CREATE VIEW sample_metrics_all AS
SELECT m.* FROM sample_metrics m JOIN runs r USING (run_id)
WHERE r.status IN ('succeeded', 'failed');
