-- 040 (issue 20): hosts are part of the data. Every run records the class of the host that
-- measured it (bench_pipeline.fleet, docs/scaling.md): `local` for runs measured where the pipeline
-- runs, the fleet's class name (e.g. `bench-a`) for runs measured on a fleet host. History,
-- baselines, change points and the regression gate compare a run only with runs of its class.
-- Runs stored before it, and runs ingested from elsewhere, have none (NULL, read as `local`).
ALTER TABLE runs ADD COLUMN host_class VARCHAR;
