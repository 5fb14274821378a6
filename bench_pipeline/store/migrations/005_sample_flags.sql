-- 005: cleaning flags per timed sample (flags, never drops) and the view that joins them.
CREATE TABLE sample_flags (
    run_id        VARCHAR NOT NULL,
    tool          VARCHAR NOT NULL,
    operation     VARCHAR NOT NULL,
    fixture       VARCHAR NOT NULL,
    round         INTEGER NOT NULL,
    iteration     INTEGER NOT NULL,
    failed        BOOLEAN NOT NULL,
    modified_z    DOUBLE,
    outlier       BOOLEAN NOT NULL,
    tukey_mild    BOOLEAN NOT NULL,
    tukey_extreme BOOLEAN NOT NULL,
    slow_first    BOOLEAN NOT NULL,
    computed_at   TIMESTAMPTZ NOT NULL
);

CREATE VIEW clean_samples_all AS
SELECT s.*, f.failed, f.modified_z, coalesce(f.outlier, FALSE) AS outlier,
       coalesce(f.tukey_mild, FALSE) AS tukey_mild, coalesce(f.tukey_extreme, FALSE) AS tukey_extreme,
       coalesce(f.slow_first, FALSE) AS slow_first
FROM samples_all s
LEFT JOIN sample_flags f USING (run_id, tool, operation, fixture, round, iteration);
