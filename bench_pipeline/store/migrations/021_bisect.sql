-- 021: bisections (`bench-pipeline bisect`, bench_pipeline/bisect.py): the search, and every step —
-- a candidate commit built and measured interleaved against the good build in a run of its own,
-- decided by that run's stored comparison (candidate relative to good).
CREATE TABLE bisects (
    bisect_id   VARCHAR NOT NULL PRIMARY KEY,
    suite       VARCHAR NOT NULL,
    tool        VARCHAR NOT NULL,
    operation   VARCHAR NOT NULL,
    fixture     VARCHAR NOT NULL,
    metric      VARCHAR NOT NULL,
    good        VARCHAR NOT NULL,
    bad         VARCHAR NOT NULL,
    good_commit VARCHAR,
    bad_commit  VARCHAR,
    candidates  INTEGER,              -- commits after good up to bad
    status      VARCHAR NOT NULL,     -- running | found | not_regressed | undecided | failed
    first_bad   VARCHAR,              -- the commit found
    message     VARCHAR,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ
);

CREATE TABLE bisect_steps (
    bisect_id     VARCHAR NOT NULL,
    step          INTEGER NOT NULL,   -- 1, 2, … in the order measured
    commit        VARCHAR NOT NULL,
    position      INTEGER NOT NULL,   -- index among the candidates, oldest first (bad: the last)
    subject       VARCHAR,
    run_id        VARCHAR,            -- the run that measured it (NULL: its build failed)
    build_status  VARCHAR NOT NULL,   -- cached | built | failed | …
    verdict       VARCHAR,            -- candidate relative to good: slower | faster | equivalent | inconclusive
    ratio         DOUBLE,             -- median candidate / median good
    ci_low        DOUBLE,
    ci_high       DOUBLE,
    p_adjusted    DOUBLE,
    n_good        BIGINT,
    n_candidate   BIGINT,
    decision      VARCHAR NOT NULL,   -- bad (a regression) | good | skip
    reason        VARCHAR,            -- why a step was skipped (its build failed, …)
    recorded_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (bisect_id, step)
);
