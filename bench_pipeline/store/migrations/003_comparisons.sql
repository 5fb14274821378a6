-- 003: exact coverage of the median CI; pairwise comparisons of tools within a run.
ALTER TABLE cell_stats ADD COLUMN ci_coverage DOUBLE;

CREATE TABLE comparisons (
    run_id           VARCHAR NOT NULL,
    suite            VARCHAR NOT NULL,
    operation        VARCHAR NOT NULL,
    fixture          VARCHAR NOT NULL,
    metric           VARCHAR NOT NULL,
    tool_a           VARCHAR NOT NULL,
    tool_b           VARCHAR NOT NULL,
    median_a         DOUBLE,
    median_b         DOUBLE,
    ratio            DOUBLE,          -- median_b / median_a
    ci_low           DOUBLE,
    ci_high          DOUBLE,
    p_value          DOUBLE,
    p_adjusted       DOUBLE,          -- Benjamini-Hochberg across all comparisons of the run
    verdict          VARCHAR NOT NULL, -- faster | slower | equivalent | inconclusive (B relative to A)
    n_a              BIGINT,
    n_b              BIGINT,
    hl_shift_log     DOUBLE,
    prob_superiority DOUBLE,
    p_mannwhitney    DOUBLE,
    paired           BOOLEAN,
    n_boot           BIGINT,
    delta            DOUBLE,
    computed_at      TIMESTAMPTZ NOT NULL
);
