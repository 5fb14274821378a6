-- 020: tool builds (SPEC §16, bench_pipeline.builds): one row per tool a run (or `build`, or a
-- bisection step) obtained from its build recipe — cached, built now, failed or refused — keyed like
-- the tool cache by (tool, resolved commit or version, recipe hash). A failed build is a row with
-- status 'failed', the reason and the kept log; the run goes on without that tool.
CREATE TABLE builds (
    build_id      VARCHAR NOT NULL PRIMARY KEY,
    run_id        VARCHAR,            -- the run that asked for it (a bisection step's too); NULL: `bench-pipeline build`
    suite         VARCHAR NOT NULL,
    tool          VARCHAR NOT NULL,   -- as the run names it: jj, jj@0.44.0
    base_tool     VARCHAR NOT NULL,   -- the suite's tool: jj
    rev           VARCHAR NOT NULL,   -- as asked: a version, tag, branch or commit
    commit        VARCHAR NOT NULL,   -- what it resolved to (git: 40 hex digits; crates: the version)
    recipe        VARCHAR NOT NULL,   -- Build.recipe_hash()
    kind          VARCHAR NOT NULL,   -- crate | git
    status        VARCHAR NOT NULL,   -- cached | built | failed | skip | unavailable
    seconds       DOUBLE NOT NULL,    -- spent by this request (0 when cached)
    build_seconds DOUBLE,             -- how long the build took when it was made
    reason        VARCHAR,
    fix           VARCHAR,
    log           VARCHAR,            -- the build log (failed builds: failed-<key>.log)
    bin_dir       VARCHAR,
    recorded_at   TIMESTAMPTZ NOT NULL
);
