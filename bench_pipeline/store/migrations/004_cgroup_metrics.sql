-- 004: per-run cgroup counters from containers (null on the local backend) and OOM kills.
ALTER TABLE samples ADD COLUMN oom_killed BOOLEAN;
ALTER TABLE samples ADD COLUMN cgroup_peak_bytes BIGINT;
ALTER TABLE samples ADD COLUMN cgroup_cpu_ns BIGINT;
ALTER TABLE samples ADD COLUMN cgroup_throttled_ns BIGINT;
ALTER TABLE samples ADD COLUMN cgroup_io_read_bytes BIGINT;
ALTER TABLE samples ADD COLUMN cgroup_io_write_bytes BIGINT;

CREATE OR REPLACE VIEW samples_all AS
SELECT s.run_id, s.suite, s.tool, s.operation, s.fixture, s.backend, s.round, s.iteration,
       s.wall_ns, s.user_ns, s.sys_ns, s.peak_rss_bytes, s.read_bytes, s.write_bytes, s.exit_code,
       s.timed_out, s.created_at, s.ok, s.ctx_switches, s.stdout_bytes, s.stderr_bytes, s.stderr_tail,
       s.oom_killed, s.cgroup_peak_bytes, s.cgroup_cpu_ns, s.cgroup_throttled_ns, s.cgroup_io_read_bytes,
       s.cgroup_io_write_bytes
FROM samples s JOIN runs r USING (run_id)
WHERE r.status IN ('succeeded', 'failed') AND NOT s.warmup;
