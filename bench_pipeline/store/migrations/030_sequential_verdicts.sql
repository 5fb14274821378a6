-- 030: sampling to a verdict (bench_pipeline.stats.sequential, docs/methods.md "Sampling to a verdict").
--
-- run_decisions: per run, one row per tool pair × operation × fixture measured in interleaved
-- rounds: the look at which the pair stopped, its paired Hodges–Lehmann ratio B/A with the interval
-- the decision used (level), the p-value valid under optional stopping, the stopping decision
-- (slower / faster / equivalent / undecided) and the verdict kept by the FDR step across the run.
CREATE TABLE run_decisions (
    run_id      VARCHAR NOT NULL,
    suite       VARCHAR NOT NULL,
    operation   VARCHAR NOT NULL,
    fixture     VARCHAR NOT NULL,
    metric      VARCHAR NOT NULL,
    tool_a      VARCHAR NOT NULL,
    tool_b      VARCHAR NOT NULL,
    look        INTEGER,
    n_a         INTEGER,
    n_b         INTEGER,
    n_rounds    INTEGER,
    ratio       DOUBLE,
    ci_low      DOUBLE,
    ci_high     DOUBLE,
    level       DOUBLE,
    alpha_spent DOUBLE,
    p_value     DOUBLE,
    decision    VARCHAR,
    p_adjusted  DOUBLE,
    verdict     VARCHAR
);

-- comparisons of such runs take their wall-time verdicts from run_decisions; these columns say how
-- a row's interval was made: estimator (median-ratio-bca | paired-hl-sequential), its level, the
-- stopping decision and the rounds it used.
ALTER TABLE comparisons ADD COLUMN estimator VARCHAR;
ALTER TABLE comparisons ADD COLUMN ci_level DOUBLE;
ALTER TABLE comparisons ADD COLUMN decision VARCHAR;
ALTER TABLE comparisons ADD COLUMN n_rounds INTEGER;

-- how a run was measured: the design and its looks, the duty cycle (timed seconds / seconds of the
-- rounds), the restore methods used for fresh state, whether the time budget stopped pairs.
ALTER TABLE runs ADD COLUMN measuring JSON;
