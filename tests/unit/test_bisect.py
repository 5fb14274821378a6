"""The bisection's search (bench_pipeline.bisect.search) on simulated candidates: the first bad one
is found at every position in ⌈log₂ n⌉ + 1 measurements, skips are stepped around, and a bad
revision that is no regression, or a range only skipped commits could decide, is said so."""

from __future__ import annotations

import math

import pytest

from bench_pipeline.bisect import BAD, GOOD, SKIP, Step, search


def fake(first_bad: int, candidates: list[str], unbuildable: frozenset[int] = frozenset()):
    measured: list[int] = []

    def measure(commit: str) -> Step:
        i = candidates.index(commit)
        measured.append(i)
        if i in unbuildable:
            return Step(0, commit, 0, f"c{i}", SKIP, "failed", reason="the build exited 1")
        bad = i >= first_bad
        return Step(
            0,
            commit,
            0,
            f"c{i}",
            BAD if bad else GOOD,
            "built",
            f"r{i}",
            "slower" if bad else "equivalent",
            1.3 if bad else 1.0,
        )

    return measure, measured


@pytest.mark.parametrize("n", [1, 2, 9, 16])
def test_finds_the_first_bad_at_every_position(n):
    candidates = [f"{i:040x}" for i in range(n)]
    for k in range(n):
        measure, measured = fake(k, candidates)
        recorded: list[Step] = []
        status, first, steps, _ = search(candidates, measure, record=recorded.append)
        assert (status, first) == ("found", candidates[k])
        assert measured[0] == n - 1  # bad is confirmed first
        assert len(steps) <= 1 + math.ceil(math.log2(n)) if n > 1 else len(steps) == 1
        assert [s.step for s in recorded] == list(range(1, len(steps) + 1))
        assert [s.position for s in steps] == measured


def test_a_bad_revision_that_is_no_regression_ends_the_search():
    candidates = [f"{i:040x}" for i in range(9)]
    measure, measured = fake(99, candidates)
    status, first, steps, message = search(candidates, measure)
    assert (status, first, measured) == ("not_regressed", None, [8])
    assert "no regression" in message


def test_unbuildable_candidates_are_stepped_around():
    candidates = [f"{i:040x}" for i in range(9)]
    measure, measured = fake(5, candidates, frozenset({3}))
    status, first, _, _ = search(candidates, measure)
    assert (status, first) == ("found", candidates[5]) and 3 in measured
    # the first bad commit does not build: the answer is it or the next one, and the search says so
    for unbuildable, between in ((5, (5, 6)), (4, (4, 5))):
        measure, _ = fake(5, candidates, frozenset({unbuildable}))
        status, first, _, message = search(candidates, measure)
        assert (status, first) == ("undecided", None)
        assert all(candidates[i][:12] in message for i in between), message
    measure, _ = fake(5, candidates, frozenset({8}))
    assert search(candidates, measure)[0] == "failed"  # the bad revision itself does not build
