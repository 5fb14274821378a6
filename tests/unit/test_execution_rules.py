"""Pure rules of execution: the stopping rule's CI and the plan of cells."""

from __future__ import annotations

import math

from bench_pipeline.execution.rounds import EffectiveSettings, median_ci_halfwidth, plan_cells
from bench_pipeline.suite import find_suite


def test_median_ci_halfwidth_needs_six_values():
    assert median_ci_halfwidth([1, 2, 3, 4, 5]) == math.inf
    assert median_ci_halfwidth([100] * 10) == 0.0


def test_median_ci_halfwidth_value():
    values = list(range(100, 120))  # n=20: j = floor(10 - 0.98*4.47) = 5 → x(5)=104, x(16)=115
    assert median_ci_halfwidth(values) == (115 - 104) / 2 / 109.5


def test_plan_has_explicit_na_cells_and_quick_filter():
    suite = find_suite("vcs")
    cells = plan_cells(suite, ["git", "git-worktree"], ["small"], quick=False)
    assert len(cells) == len(suite.expanded_operations()) * 2
    na = [c for c in cells if c.status == "na"]
    assert na and all(c.reason for c in na)
    quick = plan_cells(suite, ["git"], ["small"], quick=True)
    assert 0 < len(quick) < len(suite.operations)


def test_quick_settings_override():
    suite = find_suite("vcs")
    q = EffectiveSettings.for_suite(suite, quick=True)
    full = EffectiveSettings.for_suite(suite, quick=False)
    assert q.max_runs <= full.max_runs and q.time_budget_s < full.time_budget_s
