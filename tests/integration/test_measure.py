"""``bench-pipeline measure``: the runner's worker, sample rows of the declared schema, ``stats`` summaries,
and one clear message for a command that cannot run or a timeout that makes no sense."""

from __future__ import annotations

import numpy as np
import pytest

from bench_pipeline.execution.measure import measure_command, summarise
from bench_pipeline.store.schema import MEASURED, SAMPLE_SCHEMA
from tests.integration.test_cli import cli, last_json

pytestmark = pytest.mark.integration


def test_measure_command_returns_declared_sample_rows_with_warmups_flagged(bench_home):
    said: list[str] = []
    samples, choice = measure_command(
        ["sh", "-c", "exit 0"], runs=3, warmup=2, timeout_s=10, backend="local", progress=said.append
    )
    assert dict(samples.schema) == SAMPLE_SCHEMA
    assert samples["warmup"].to_list() == [True, True, False, False, False]
    assert samples["iteration"].to_list() == [-1, -1, 0, 1, 2] and samples["round"].to_list() == [
        0,
        1,
        2,
        3,
        4,
    ]
    assert samples["ok"].all() and samples["backend"].unique().to_list() == ["local"]
    assert samples["operation"][0] == "sh -c 'exit 0'" and samples["tool"][0] == "sh"
    assert choice.kind == "local" and said == ["backend local: local backend requested"]


def test_summary_comes_from_stats_over_successful_timed_runs(bench_home):
    samples, _ = measure_command(
        ["sh", "-c", 'test "$(($$ % 2))" = 0 || exit 4'], runs=12, warmup=1, timeout_s=10, backend="local"
    )
    summary = summarise(samples)
    timed = samples.filter(~samples["warmup"])
    good = timed.filter(timed["ok"])["wall_ns"].to_numpy()
    assert summary["n"] == len(good) and summary["n_failed"] == timed.height - len(good)
    if len(good):
        assert summary["median_ns"] == round(float(np.median(good)))
        assert summary["min_ns"] == good.min() and summary["max_ns"] == good.max()
        assert summary["mean_ns"] == round(float(good.mean()))
    if len(good) > 1:
        assert summary["std_ns"] == round(float(np.std(good, ddof=1)))


def test_measure_json_runs_carry_the_measured_columns_and_failures_count_apart(bench_home):
    out = last_json(
        cli("measure", "--runs", "2", "--warmup", "0", "--json", "--", "sh", "-c", "exit 3").stdout
    )
    assert [list(r) for r in out["runs"]] == [list(MEASURED)] * 2
    assert [r["exit_code"] for r in out["runs"]] == [3, 3] and not any(r["ok"] for r in out["runs"])
    assert (
        out["summary"]["n"] == 0 and out["summary"]["n_failed"] == 2 and out["summary"]["median_ns"] is None
    )
    assert out["backend"] == "local"


def test_measure_stdout_devnull_is_uncounted_and_the_pipe_counts(bench_home):
    """``--stdout devnull`` (as hyperfine -N): the command writes to /dev/null, stdout_bytes null."""
    probe = ["sh", "-c", 'printf 1234567; [ "$(readlink /proc/$$/fd/1)" = /dev/null ]']
    nulled = last_json(cli("measure", "--runs", "2", "--stdout", "devnull", "--json", "--", *probe).stdout)
    piped = last_json(cli("measure", "--runs", "2", "--json", "--", *probe).stdout)
    assert [(r["exit_code"], r["stdout_bytes"]) for r in nulled["runs"]] == [(0, None)] * 2
    assert [(r["exit_code"], r["stdout_bytes"]) for r in piped["runs"]] == [(1, 7)] * 2


def test_a_command_that_cannot_run_is_one_clear_line(bench_home):
    proc = cli("measure", "--", "/nonexistent/bin", check=False)
    assert proc.returncode != 0 and proc.stdout == "" and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0] == "error: cannot execute '/nonexistent/bin': No such file or directory (local backend)"
    # nothing before, one error: at most a fix and the log's path follow it
    assert len(lines) <= 3 and all(line.startswith(("  fix: ", "  log: ")) for line in lines[1:])
    assert lines[1] == "  fix: check the command's path and that it is executable (it runs without a shell)"


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_timeout_must_be_a_positive_number_of_seconds(bench_home, value):
    proc = cli("measure", "--timeout", value, "--", "true", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert (
        "Invalid value for '--timeout'" in proc.stderr and "not a positive number of seconds" in proc.stderr
    )


def test_measure_text_output(bench_home):
    text = cli("measure", "--runs", "2", "--", "true").stdout
    assert text.startswith("true  (local, 2 runs)") and "wall  median" in text and "peak RSS median" in text
