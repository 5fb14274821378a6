"""Suite files: valid ones load, invalid ones name the line, field and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench_pipeline.errors import SuiteError
from bench_pipeline.paths import SUITES_DIR
from bench_pipeline.suite import expand, find_suite, load_suite_file, parse_suite

MINIMAL = """
name: s
tools:
  git: {version: [git, --version]}
operations:
  - name: status
    commands:
      git: {run: [git, status]}
"""


def test_flagship_suite_loads_with_at_least_twenty_operations():
    suite = find_suite("vcs")
    assert {"git", "git-worktree"} <= set(suite.tools)
    assert len(suite.operations) >= 20
    mutating = {op.name for op in suite.operations if op.mutating}
    assert {"commit", "amend", "merge", "rebase-branch", "cherry-pick"} <= mutating
    assert suite.sha256 and len(suite.sha256) == 64


def test_every_suite_in_the_repository_is_valid():
    for path in SUITES_DIR.glob("*.yaml"):
        load_suite_file(path)


def test_minimal_suite_defaults():
    suite = parse_suite(MINIMAL)
    assert suite.settings.min_runs == 5 and suite.settings.delta == 0.03
    assert suite.operations[0].commands["git"].argv() == ["git", "status"]


def test_unknown_field_names_line_and_field():
    text = MINIMAL.replace("git: {run: [git, status]}", "git: {run: [git, status], bogus: 1}")
    with pytest.raises(SuiteError) as exc:
        parse_suite(text, "x.yaml")
    message = exc.value.render()
    assert "x.yaml:8" in message and "operations.0.commands.git.bogus" in message
    assert "fix:" in message


def test_tool_without_command_or_na_is_refused():
    text = MINIMAL.replace(
        "  git: {version: [git, --version]}",
        "  git: {version: [git, --version]}\n  jj: {version: [jj, --version]}",
    )
    with pytest.raises(SuiteError, match=r"says nothing about tool\(s\) \['jj'\].*na"):
        parse_suite(text)


def test_unknown_tool_in_commands():
    text = MINIMAL.replace("git: {run: [git, status]}", "git: {run: [git, status]}\n      gti: {run: [x]}")
    with pytest.raises(SuiteError, match="not in `tools`"):
        parse_suite(text)


def test_unknown_template_name_is_refused():
    text = MINIMAL.replace("[git, status]", '[git, show, "${nope}"]')
    with pytest.raises(SuiteError, match=r"unknown template name\(s\) \$\{nope\}"):
        parse_suite(text)


@pytest.mark.parametrize("bad", ["a|b", "../up", "x,y", "a b", ""])
def test_hostile_names_are_refused(bad):
    text = MINIMAL.replace("name: status", f"name: {bad!r}")
    with pytest.raises(SuiteError):
        parse_suite(text)


def test_malformed_yaml_names_the_line():
    with pytest.raises(SuiteError, match=r"y.yaml:\d+: not valid YAML"):
        parse_suite("name: s\ntools:\n  git: [unclosed\n", "y.yaml")


def test_string_run_needs_shell():
    text = MINIMAL.replace("{run: [git, status]}", "{run: 'git status'}")
    with pytest.raises(SuiteError, match="shell"):
        parse_suite(text)


def test_missing_file_and_unknown_suite(tmp_path: Path):
    with pytest.raises(SuiteError, match="not found"):
        load_suite_file(tmp_path / "none.yaml")
    with pytest.raises(SuiteError, match="no suite named 'nope'.*"):
        find_suite("nope")


def test_expand_templates_and_dollar_escape():
    assert expand("${a}/$b $$x", {"a": "1", "b": "2"}, where="w") == "1/2 $x"
    with pytest.raises(SuiteError, match=r"\$\{c\}"):
        expand("${c}", {}, where="w")


def test_max_runs_below_min_runs():
    text = MINIMAL + "settings: {min_runs: 5, max_runs: 2}\n"
    with pytest.raises(SuiteError, match="max_runs"):
        parse_suite(text)


def test_cpus_is_a_count_or_a_list_and_narrows_a_workers_placement():
    import io

    from bench_pipeline.errors import RunnerError
    from bench_pipeline.execution.backends import Worker

    assert parse_suite(MINIMAL).settings.cpus is None  # default: every CPU of the backend
    assert parse_suite(MINIMAL + "settings: {cpus: 1}\n").settings.cpus == 1
    assert parse_suite(MINIMAL + "settings: {cpus: [0, 2]}\n").settings.cpus == [0, 2]
    for bad in ("0", "[]", "[-1]", "true"):
        with pytest.raises(SuiteError, match="cpus"):
            parse_suite(MINIMAL + f"settings: {{cpus: {bad}}}\n")

    def worker(cpus: list[int]) -> Worker:
        return Worker(
            io.BytesIO(), io.BytesIO(), description="w", work_root="/", fixture_root="/", path="", cpus=cpus
        )

    assert worker([0, 1, 2, 3]).narrow(None) == [0, 1, 2, 3]
    assert worker([0, 1, 2, 3]).narrow(1) == [3]  # the last CPU: CPU 0 serves most interrupts
    assert worker([0, 1]).narrow(4) == [0, 1]  # never more than the placement
    assert worker([0, 1, 2, 3]).narrow([2, 1]) == [1, 2]
    with pytest.raises(RunnerError, match=r"cannot pin to CPUs \[5\]"):
        worker([0, 1]).narrow([1, 5])


def test_fdr_share_reaches_the_sequential_design():
    from bench_pipeline.execution.plan import EffectiveSettings

    default = parse_suite(MINIMAL + "settings: {min_runs: 10, max_runs: 120}\n")
    assert (
        EffectiveSettings.for_suite(default, False).design(0.03, default.settings.fdr_share).fdr_share == 0.8
    )
    small = parse_suite(MINIMAL + "settings: {min_runs: 10, max_runs: 120, fdr_share: 0.5}\n")
    design = EffectiveSettings.for_suite(small, False).design(0.03, small.settings.fdr_share)
    assert design is not None and design.fdr_share == 0.5
    assert design.alpha_spent(len(design.looks) - 1) == pytest.approx(0.5 * design.alpha)  # decisions at γα
    with pytest.raises(SuiteError, match="fdr_share"):
        parse_suite(MINIMAL + "settings: {fdr_share: 0}\n")


def test_decide_on_is_wall_or_cpu():
    assert parse_suite(MINIMAL).settings.decide_on == "wall"
    assert parse_suite(MINIMAL + "settings: {decide_on: cpu}\n").settings.decide_on == "cpu"
    with pytest.raises(SuiteError, match="decide_on"):
        # peak memory is measured, not sampled to a verdict
        parse_suite(MINIMAL + "settings: {decide_on: rss}\n")
