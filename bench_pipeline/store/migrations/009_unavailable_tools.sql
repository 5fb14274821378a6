-- 009: tools a run could not use, with why and the one command that fixes it (bench_pipeline.builds):
-- {"<tool>": {"action": "unavailable|skip|failed", "reason": "...", "fix": "..."}}; NULL or {} when
-- every tool was there. The report, the CLI and Dagster metadata show it.
ALTER TABLE runs ADD COLUMN unavailable JSON;
