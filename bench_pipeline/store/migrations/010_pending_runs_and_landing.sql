-- 010 (issue 17): runs that tell the truth between their stages, landing bookkeeping that survives a
-- move of the home, and times that every reader can read.

-- A run is `succeeded` (or `failed`) only once its samples, statistics and reports are committed.
-- Until then it is `running` with `pending_status` holding the status it will get; a process that
-- dies after measuring leaves it so, and the next CLI run, ingestion or the daemon completes it
-- (bench_pipeline/resume.py). NULL: nothing pending.
ALTER TABLE runs ADD COLUMN pending_status VARCHAR;

-- Landing files are known by their path relative to $BENCH_PIPELINE_HOME and by their content
-- (SHA-256): moving the home, or the same file under another name, is never loaded twice.
ALTER TABLE landing_loads ADD COLUMN sha256 VARCHAR;
UPDATE landing_loads
SET path = regexp_extract(path, '(landing/(\.ingest/[^/]+/)?[^/]+/[^/]+)$', 1)
WHERE regexp_matches(path, '(^|/)landing/(\.ingest/[^/]+/)?[^/]+/[^/]+$');

-- Times outside 1970 .. 2200 (stored before the timestamp rule, bench_pipeline/timestamps.py) made
-- every read fail and pinned `latest`: they become the time the run was ingested.
UPDATE runs
SET started_at = coalesce(
        (SELECT min(s.ingested_at) FROM ingest_sources s WHERE s.run_id = runs.run_id), now()),
    message = coalesce(message || '; ', '') || 'started_at was out of range; replaced by its ingestion time'
WHERE started_at < TIMESTAMPTZ '1970-01-01 00:00:00+00' OR started_at >= TIMESTAMPTZ '2200-01-01 00:00:00+00';
UPDATE runs SET finished_at = started_at
WHERE finished_at < TIMESTAMPTZ '1970-01-01 00:00:00+00' OR finished_at >= TIMESTAMPTZ '2200-01-01 00:00:00+00';
UPDATE samples SET created_at = (SELECT r.started_at FROM runs r WHERE r.run_id = samples.run_id)
WHERE created_at < TIMESTAMPTZ '1970-01-01 00:00:00+00' OR created_at >= TIMESTAMPTZ '2200-01-01 00:00:00+00';
