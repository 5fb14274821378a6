"""The runner measured against commands of known cost, through a real local worker."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import pytest

from bench_pipeline.execution.backends import WorkerSpec
from bench_pipeline.execution.backends.local import LocalBackend

pytestmark = pytest.mark.integration
PY = sys.executable


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runner")
    backend = LocalBackend(tmp / "bin")
    w = backend.start_worker(
        WorkerSpec(suite="t", tool="t", run_id="r", work_dir=tmp / "work", fixture_dir=tmp)
    )
    yield w
    w.close()


def run(worker, argv, timeout=30.0):
    return worker.exec(argv, worker.work_root, {"PATH": "/usr/local/bin:/usr/bin:/bin"}, timeout)


def test_exec_helper_is_used_where_a_compiler_exists(worker):
    info = worker.info()
    assert info["protocol"] == 4
    import shutil

    if shutil.which("cc"):
        assert info["rss_method"] == "bench-exec"


def test_sleep_median_within_ten_percent(worker):
    walls = [run(worker, ["sleep", "0.05"])["wall_ns"] for _ in range(7)]
    median = statistics.median(walls)
    assert 0.05e9 * 0.99 <= median <= 0.05e9 * 1.10, median


def test_cpu_burner_has_user_time_far_above_sys(worker):
    """≈ 0.4 s of user time: Python's start-up costs 10–15 ms of sys time, more on a loaded machine
    (the other xdist worker), which a 0.1 s burner could not keep below a tenth of its user time."""
    r = run(worker, [PY, "-c", "sum(i * i for i in range(10_000_000))"])
    assert r["exit_code"] == 0
    assert r["user_ns"] > 10 * max(r["sys_ns"], 1_000_000), r
    assert r["user_ns"] > 0.3e9


def test_peak_rss_of_allocator_then_tiny_command(worker):
    big = run(
        worker, [PY, "-c", "b = bytearray(200 * 1024 * 1024)\nfor i in range(0, len(b), 4096): b[i] = 1"]
    )
    assert big["exit_code"] == 0
    assert big["peak_rss_bytes"] >= 190 * 1024 * 1024, big
    tiny = run(worker, ["true"])
    assert tiny["peak_rss_bytes"] < 20 * 1024 * 1024, tiny  # its own peak, not the previous child's


def test_timeout_kills_and_records(worker):
    r = run(worker, ["sleep", "5"], timeout=0.3)
    assert r["timed_out"] is True
    assert r["exit_code"] == -9
    assert 0.25e9 < r["wall_ns"] < 2e9


def test_timeout_kills_the_whole_process_group(worker, tmp_path):
    marker = tmp_path / "survivor"
    r = run(worker, ["sh", "-c", f"(sleep 1; touch {marker}) & sleep 5"], timeout=0.3)
    assert r["timed_out"]
    import time

    time.sleep(1.5)
    assert not marker.exists(), "a grandchild survived the timeout"


def test_failing_command_records_exit_code_and_stderr(worker):
    r = run(worker, ["sh", "-c", "echo boom >&2; exit 7"])
    assert r["exit_code"] == 7
    assert "boom" in r["stderr_tail"]
    assert r["stderr_bytes"] == 5


def test_missing_command_is_exit_127_not_a_crash(worker):
    r = run(worker, ["definitely-not-a-command-xyz"])
    assert r["exit_code"] == 127
    assert "cannot execute" in r["stderr_tail"]


def test_output_is_drained_and_counted(worker):
    r = run(worker, [PY, "-c", "import sys; sys.stdout.write('x' * 1_000_000)"])
    assert r["exit_code"] == 0
    assert r["stdout_bytes"] == 1_000_000


def test_stdout_is_a_pipe_as_under_a_users_pipe_not_a_file(worker):
    """git (and others) behave differently when stdout is a regular file (no per-commit flush):
    the command must see a pipe, as with `cmd | less`, or /dev/null under hyperfine -N."""
    probe = "import os, stat, sys; sys.exit(0 if stat.S_ISFIFO(os.fstat(1).st_mode) else 5)"
    assert run(worker, [PY, "-c", probe])["exit_code"] == 0


def test_output_larger_than_the_pipe_is_counted_without_stalling(worker):
    """80 MB, far past the pipe's 1 MiB: drained on the tick while the command runs, every byte
    counted, and not held up for long (a stall at every full pipe would take seconds)."""
    r = run(worker, ["head", "-c", "80000000", "/dev/zero"])
    assert r["exit_code"] == 0 and r["stdout_bytes"] == 80_000_000
    assert r["wall_ns"] < 1.5e9, r


# a probe: exit 0 when stdout is the character device /dev/null, 5 otherwise; 2 KB to stderr, 1 MB to stdout
_NULL_PROBE = (
    "import os, stat, sys; st = os.fstat(1); sys.stderr.write('e' * 2000); sys.stdout.write('x' * 1_000_000); "
    "sys.exit(0 if stat.S_ISCHR(st.st_mode) and st.st_rdev == os.stat(os.devnull).st_rdev else 5)"
)


def test_stdout_null_sends_output_to_dev_null_uncounted_and_keeps_stderr(worker):
    """A suite's ``settings.stdout: devnull`` (exec request ``"stdout": "devnull"``): as hyperfine -N."""
    worker.stdout = "devnull"
    try:
        r = run(worker, [PY, "-c", _NULL_PROBE])
    finally:
        worker.stdout = "pipe"
    assert r["exit_code"] == 0, r  # the command saw /dev/null
    assert r["stdout_bytes"] is None and r["stderr_bytes"] == 2000 and r["stderr_tail"] == "e" * 2000
    piped = run(worker, [PY, "-c", _NULL_PROBE])  # the default again: a pipe, counted
    assert piped["exit_code"] == 5 and piped["stdout_bytes"] == 1_000_000


def test_stdout_null_without_the_helper_and_a_bad_mode_is_refused(tmp_path):
    from bench_pipeline.execution.runner import Runner

    runner = Runner(None)
    r = runner.measure(
        [PY, "-c", _NULL_PROBE], str(tmp_path), {"PATH": "/usr/bin:/bin"}, 10, stdout="devnull"
    )
    assert r["exit_code"] == 0 and r["stdout_bytes"] is None and r["stderr_bytes"] == 2000
    with pytest.raises(
        ValueError, match="stdout must be one of pipe, devnull, not 'file'"
    ):  # the worker's error reply
        runner.handle({"op": "exec", "argv": ["true"], "cwd": str(tmp_path), "stdout": "file"})


def test_restore_copies_a_tree(worker, tmp_path):
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f").write_text("x")
    dst = Path(worker.work_root) / "copy"
    worker.restore(str(src), str(dst))
    (dst / "d" / "f").write_text("changed")
    worker.restore(str(src), str(dst))
    assert (dst / "d" / "f").read_text() == "x"


def test_python_fork_fallback_reports_its_floor(tmp_path):
    """Without the helper the runner still measures; its RSS floor is the worker's own (~10 MB)."""
    from bench_pipeline.execution.runner import Runner

    r = Runner(None).measure(["true"], str(tmp_path), {"PATH": "/usr/bin:/bin"}, 10)
    assert r["exit_code"] == 0 and r["wall_ns"] > 0
    assert Runner(None).info()["rss_method"] == "python-fork"


# -- output without a reader (issue 18 item 5), placement (item 6), duty-cycle timings, sample


def test_stderr_tail_is_the_last_4_kib(worker):
    r = run(worker, [PY, "-c", "import sys; sys.stderr.write('a' * 10000 + 'END')"])
    assert r["stderr_bytes"] == 10003
    assert len(r["stderr_tail"]) == 4096 and r["stderr_tail"].endswith("aaaEND")


def test_a_grandchild_holding_stdout_does_not_hold_the_run(worker):
    """Nothing waits for the last writer of stdout to close it: the run ends when the command does."""
    r = run(worker, ["sh", "-c", "sleep 2 & echo started"])
    assert r["exit_code"] == 0 and r["stdout_bytes"] == 8
    assert r["wall_ns"] < 1e9, r


def test_output_of_consecutive_runs_is_counted_separately(worker):
    assert run(worker, ["sh", "-c", "printf 12345"])["stdout_bytes"] == 5
    assert run(worker, ["sh", "-c", "printf 12"])["stdout_bytes"] == 2


def test_request_ns_covers_the_timed_wall(worker):
    r = run(worker, ["sleep", "0.01"])
    assert r["request_ns"] >= r["wall_ns"] >= 0.01e9


def _allowed_list_is(cpus: str) -> list[str]:
    return ["sh", "-c", f'test "$(grep ^Cpus_allowed_list /proc/self/status | cut -f2)" = "{cpus}"']


def test_cpus_pins_the_command_not_the_worker(worker):
    import os

    last = max(os.sched_getaffinity(0))
    env = {"PATH": "/usr/bin:/bin"}
    assert worker.exec(_allowed_list_is(str(last)), worker.work_root, env, 10, cpus=[last])["exit_code"] == 0
    # the worker itself is not pinned: the next run without cpus may use every CPU
    everything = worker.info()["cpus_allowed"]
    from bench_pipeline.execution.runner import cpu_ranges

    unpinned = {
        "op": "exec",
        "argv": _allowed_list_is(cpu_ranges(everything)),
        "cwd": worker.work_root,
        "env": env,
    }
    assert worker.request(unpinned)["exit_code"] == 0


def test_cpus_outside_the_worker_are_refused(worker):
    from bench_pipeline.errors import RunnerError

    with pytest.raises(RunnerError, match="not available to this worker"):
        worker.exec(["true"], worker.work_root, {"PATH": "/usr/bin:/bin"}, 10, cpus=[4095])


def test_the_local_backend_gives_every_worker_the_same_placement(tmp_path):
    import os

    cpus = sorted(os.sched_getaffinity(0))
    backend = LocalBackend(tmp_path / "bin", cpus=cpus[-1:])
    assert backend.describe()["cpus"] == str(cpus[-1])
    specs = [
        WorkerSpec(suite="t", tool=t, run_id="r", work_dir=tmp_path / t, fixture_dir=tmp_path) for t in "ab"
    ]
    for spec in specs:
        with backend.start_worker(spec) as w:
            assert w.cpus == cpus[-1:]
            assert run(w, _allowed_list_is(str(cpus[-1])))["exit_code"] == 0


def test_python_fork_fallback_counts_output_pins_and_times_out(tmp_path):
    import os

    from bench_pipeline.execution.runner import Runner

    runner = Runner(None)
    env = {"PATH": "/usr/bin:/bin"}
    r = runner.measure(
        [PY, "-c", "import sys; print('x' * 99); sys.stderr.write('oops')"], str(tmp_path), env, 10
    )
    assert (r["stdout_bytes"], r["stderr_bytes"], r["stderr_tail"]) == (100, 4, "oops")
    last = max(os.sched_getaffinity(0))
    assert runner.measure(_allowed_list_is(str(last)), str(tmp_path), env, 10, [last])["exit_code"] == 0
    assert os.sched_getaffinity(0) == set(runner.cpus_allowed)  # the worker moved back
    r = runner.measure(["sleep", "5"], str(tmp_path), env, 0.3)
    assert r["timed_out"] and r["exit_code"] == -9 and r["wall_ns"] < 2e9


def test_sample_runs_restore_prepare_exec_probe_conclude_in_one_request(worker, tmp_path):
    src = tmp_path / "pristine"
    src.mkdir()
    (src / "f").write_text("x\n")
    root = Path(worker.work_root) / "sample"
    env = {"PATH": "/usr/bin:/bin"}
    ex = worker.exec_request(["sh", "-c", "cat f f > g"], str(root), env, 10)
    reply = worker.sample(
        ex,
        restore={"src": str(src), "dst": str(root)},
        prepare=[{"argv": ["sh", "-c", "echo y >> f"]}],
        probe=[{"name": "g", "argv": ["cat", "g"]}],
        conclude=[{"argv": ["rm", "g"]}],
    )
    assert reply["restore"]["method"] in ("reflink", "hardlink", "copy")
    assert [s["exit_code"] for s in reply["prepare"]] == [0]
    assert reply["exec_ok"] and reply["exec"]["exit_code"] == 0
    assert reply["probe"] == [{**reply["probe"][0], "name": "g", "stdout": "x\ny\nx\ny\n"}]
    assert not (root / "g").exists() and reply["failed"] is None
    assert reply["timed_ns"] == reply["exec"]["wall_ns"] > 0
    assert reply["request_ns"] >= sum(reply["parts_ns"].values()) >= reply["timed_ns"]
    assert "stdout" not in reply["prepare"][0]

    # the next sample starts from the pristine state again
    again = worker.sample(ex, restore={"src": str(src), "dst": str(root)}, probe=[{"argv": ["cat", "f"]}])
    assert again["restore"]["incremental"] and again["probe"][0]["stdout"] == "x\n"


def test_sample_stops_at_a_failed_prepare_and_skips_probes_of_a_failed_run(worker):
    env = {"PATH": "/usr/bin:/bin"}
    ex = worker.exec_request(["true"], worker.work_root, env, 10)
    stopped = worker.sample(ex, prepare=[{"argv": ["true"]}, {"argv": ["false"]}, {"argv": ["true"]}])
    assert (stopped["failed"], stopped["failed_step"], stopped["exec"]) == ("prepare", 1, None)
    assert len(stopped["prepare"]) == 2

    failing = worker.exec_request(["sh", "-c", "exit 3"], worker.work_root, env, 10)
    r = worker.sample(failing, probe=[{"argv": ["true"]}], conclude=[{"argv": ["true"]}])
    assert not r["exec_ok"] and r["probe"] is None and len(r["conclude"]) == 1
    expected = worker.exec_request(["sh", "-c", "exit 3"], worker.work_root, env, 10, expect_exit=[3])
    assert worker.sample(expected, probe=[])["exec_ok"]
    bad_conclude = worker.sample(ex, conclude=[{"argv": ["false"]}, {"argv": ["true"]}])
    assert (bad_conclude["failed"], bad_conclude["failed_step"], len(bad_conclude["conclude"])) == (
        "conclude",
        0,
        1,
    )


def test_restore_many_prepares_several_copies_in_one_request(worker, tmp_path):
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "f").write_text("x")
    dsts = [str(Path(worker.work_root) / "pool" / str(i)) for i in range(3)]
    reply = worker.restore_many(str(src), dsts)
    assert len(reply["results"]) == 3 and all(r["ok"] for r in reply["results"])
    assert all((Path(d) / "d" / "f").read_text() == "x" for d in dsts)


def test_a_dead_exec_helper_is_replaced(tmp_path):
    """The long-lived bench-exec --serve: killed between runs it is restarted; killed during a run,
    that run is a runner error (never a sample) and the next one works."""
    import os
    import signal
    import threading
    import time

    from bench_pipeline.execution.native import ensure_exec_helper
    from bench_pipeline.execution.runner import Runner

    helper = ensure_exec_helper(tmp_path / "bin")
    if helper is None:
        pytest.skip("no C compiler")
    runner = Runner(str(helper))
    env = {"PATH": "/usr/bin:/bin"}
    assert runner.measure(["true"], str(tmp_path), env, 10)["exit_code"] == 0
    first = runner.helper._proc.pid
    os.kill(first, signal.SIGKILL)
    time.sleep(0.1)
    assert runner.measure(["true"], str(tmp_path), env, 10)["exit_code"] == 0
    second = runner.helper._proc.pid
    assert second != first
    threading.Timer(0.3, os.kill, (second, signal.SIGKILL)).start()
    broken = runner.measure(["sleep", "2"], str(tmp_path), env, 10)
    assert broken["ok"] is False and "bench-exec" in broken["error"]
    assert runner.measure(["true"], str(tmp_path), env, 10)["exit_code"] == 0
    runner.helper.close()


def test_each_run_gets_a_fresh_random_environment_size(worker):
    """As hyperfine: BENCH_RANDOMIZED_ENV_OFFSET of 0–4095 bytes, drawn per run (stack alignment luck
    becomes noise, not a bias); off on request. `env` prints the environment, so its size shows."""
    sizes = [run(worker, ["env"])["stdout_bytes"] for _ in range(12)]
    base = len("PATH=/usr/local/bin:/usr/bin:/bin\n") + len("BENCH_RANDOMIZED_ENV_OFFSET=\n")
    assert all(base <= s <= base + 4095 for s in sizes), sizes
    assert len(set(sizes)) >= 6, sizes  # drawn afresh, not fixed per worker
    plain = worker.request(
        {"op": "exec", "argv": ["env"], "cwd": worker.work_root, "env": {"PATH": "/usr/bin:/bin"}, "timeout_s": 30,
         "env_offset": False}
    )  # fmt: skip
    assert plain["stdout_bytes"] == len("PATH=/usr/bin:/bin\n")


# -- exec_many: runs back to back in one batch of the helper (bench-pipeline measure, item 5)


def test_exec_many_answers_each_run_of_a_mixed_batch(worker, tmp_path):
    """Every run of a batch gets its own reply, in order: output, exit codes, a command that cannot
    start, a timeout, its own working directory and a fresh environment size."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    req = lambda argv, timeout=30.0, cwd=worker.work_root: worker.exec_request(argv, cwd, env, timeout)  # noqa: E731
    results = worker.exec_many(
        [
            req(["printf", "%0500d", "0"]),
            req([PY, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"]),
            req(["no-such-command-here"]),
            req(["sleep", "5"], timeout=0.3),
            req(["pwd"], cwd=str(tmp_path)),
            *[req(["env"]) for _ in range(8)],
        ]
    )
    assert len(results) == 13
    assert results[0]["exit_code"] == 0 and results[0]["stdout_bytes"] == 500
    assert results[1]["exit_code"] == 3 and results[1]["stderr_tail"] == "boom"
    assert results[2]["exit_code"] == 127 and "no-such-command-here" in results[2]["stderr_tail"]
    assert results[3]["timed_out"] is True and 0.3e9 <= results[3]["wall_ns"] < 2e9
    assert results[4]["exit_code"] == 0 and results[4]["stdout_bytes"] == len(str(tmp_path)) + 1
    sizes = [r["stdout_bytes"] for r in results[5:]]
    assert len(set(sizes)) >= 4, sizes  # the environment size is drawn per run, in a batch too


def test_exec_many_runs_back_to_back_with_one_reply_at_the_end(tmp_path):
    """The helper reads the whole batch, runs it, and answers after the last run: 5 runs of 0.1 s
    each start right after the previous one ends, and no reply comes before all 5 are done."""
    import select
    import subprocess

    from bench_pipeline.execution.native import ensure_exec_helper
    from bench_pipeline.execution.runner import ExecHelper

    helper = ensure_exec_helper(tmp_path / "bin")
    if helper is None:
        pytest.skip("no C compiler")
    stamps = tmp_path / "stamps"
    argv = ["sh", "-c", f"date +%s%N >> {stamps}; sleep 0.1"]
    encoded = b"".join(
        ExecHelper._encode(argv, str(tmp_path), {"PATH": "/usr/bin:/bin"}, 10, None) for _ in range(5)
    )
    proc = subprocess.Popen([str(helper), "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        proc.stdin.write(b"B5\n" + encoded)
        proc.stdin.flush()
        assert not select.select([proc.stdout], [], [], 0.35)[0]  # 3 runs in: nothing answered yet
        assert select.select([proc.stdout], [], [], 5)[0]
        replies = [proc.stdout.readline().split() for _ in range(5)]
    finally:
        proc.kill()
        proc.wait()
    assert all(len(r) == 15 and r[8] == b"0" for r in replies), replies
    starts = [int(x) for x in stamps.read_text().split()]
    gaps = [(b - a) / 1e9 for a, b in zip(starts, starts[1:], strict=False)]
    assert len(starts) == 5 and all(0.1 <= g < 0.2 for g in gaps), gaps


def test_exec_many_without_the_helper_measures_one_after_another(tmp_path):
    from bench_pipeline.execution.runner import Runner

    runner = Runner(None)
    env = {"PATH": "/usr/bin:/bin"}
    results = runner.measure_many(
        [
            {"argv": ["true"], "cwd": str(tmp_path), "env": env},
            {"argv": ["false"], "cwd": str(tmp_path), "env": env},
        ]
    )
    assert [r["exit_code"] for r in results] == [0, 1] and all(r["wall_ns"] > 0 for r in results)


def test_a_helper_dying_mid_batch_fails_the_rest_and_the_worker_raises(tmp_path):
    """Killed during a batch: the run in progress and those after it are runner errors (never
    samples), the worker client raises as it does for exec, and the next batch gets a new helper."""
    import os
    import signal
    import threading

    from bench_pipeline.execution.native import ensure_exec_helper
    from bench_pipeline.execution.runner import Runner

    helper = ensure_exec_helper(tmp_path / "bin")
    if helper is None:
        pytest.skip("no C compiler")
    runner = Runner(str(helper))
    env = {"PATH": "/usr/bin:/bin"}
    runner.measure(["true"], str(tmp_path), env, 10)
    threading.Timer(0.3, os.kill, (runner.helper._proc.pid, signal.SIGKILL)).start()
    steps = [{"argv": ["sleep", "0.2"], "cwd": str(tmp_path), "env": env, "timeout_s": 10}] * 4
    results = runner.measure_many(steps)
    assert [r["ok"] for r in results] == [False] * 4  # replies come after the last run: none got out
    assert all("bench-exec" in r["error"] for r in results)
    assert [r["exit_code"] for r in runner.measure_many(steps[:2])] == [0, 0]
    runner.helper.close()
