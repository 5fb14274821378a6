"""Patterns: growth classes of synthetic costs, growth differences between tools, stderr signatures and
failure clusters, anomalies from cell histories, and the report shape of scaling fits."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from bench_pipeline.history import analyse_cell
from bench_pipeline.patterns import (
    ScalingFit,
    ScalingPoint,
    classify_growth,
    cluster_failures,
    find_anomalies,
    growth_differences,
    report_scaling,
    stderr_signature,
)

SIZES = {
    3: [500, 5_000, 50_000],  # the fixture tiers' commit counts
    4: [10, 100, 1_000, 10_000],  # a parameter range
    5: [500, 2_000, 5_000, 20_000, 50_000],
}
COSTS = {  # ns: a fixed cost (process start) plus the growing part
    "constant": lambda n: 8e6 + 0 * n,
    "linear": lambda n: 5e6 + 60e6 * n / n.max(),
    "quadratic": lambda n: 5e6 + 400e6 * (n / n.max()) ** 2,
}


@pytest.mark.parametrize("points", [3, 4, 5])
@pytest.mark.parametrize("growth", list(COSTS))
def test_synthetic_growth_is_classified(growth, points):
    n = np.array(SIZES[points], dtype=float)
    rng = np.random.default_rng(points * 10 + list(COSTS).index(growth))
    results = []
    for _ in range(50):
        y = COSTS[growth](n) * np.exp(rng.normal(0, 0.03, len(n)))  # 3 % noise on each median
        results.append(classify_growth(n, y, np.full(len(n), 0.03)).growth)
    correct = results.count(growth) / len(results)
    print(f"{growth:>9} over {points} sizes: {correct:.0%} classified correctly")
    assert correct >= 0.94


def test_exact_curves_and_fit_quality():
    n = np.array(SIZES[5], dtype=float)
    linear = classify_growth(n, 5e6 + 1e3 * n)
    assert linear.growth == "linear" and linear.r_squared == pytest.approx(1.0)
    assert linear.fixed == pytest.approx(5e6, rel=1e-6) and linear.slope == pytest.approx(1e3, rel=1e-6)
    assert linear.aic_margin > 2 and linear.fit_p == pytest.approx(1.0)
    pure = classify_growth(n, 3.0 * n)
    assert pure.exponent == pytest.approx(1.0)
    nlogn = classify_growth(n, 2e6 + 50 * n * np.log(n))
    assert nlogn.growth == "n log n"
    log = classify_growth(n, 1e6 * np.log(n))
    assert log.growth == "log"


def test_two_sizes_give_only_an_exponent():
    fit = classify_growth([100, 1000], [1.0, 10.0])
    assert fit.growth == "unknown" and fit.exponent == pytest.approx(1.0)
    assert classify_growth([100], [1.0]).exponent is None


def fit(tool: str, growth: str, exponent: float, clear: bool = True) -> ScalingFit:
    sizes = [
        ScalingPoint(fixture=f, n=n, median=1e6, label=f, run_id="r")
        for f, n in (("small", 500), ("large", 50_000))
    ]
    return ScalingFit(
        tool=tool, operation="log-path", metric="wall", basis="commits", sizes=sizes, growth=growth,
        exponent=exponent, clear=clear,
    )  # fmt: skip


def test_growth_differences_between_tools():
    (diff,) = growth_differences([fit("git", "constant", 0.02), fit("jj", "linear", 0.9)])
    assert diff.fastest_growing == "jj" and diff.growth == {"git": "constant", "jj": "linear"}
    assert "jj grows linear" in diff.detail
    assert growth_differences([fit("git", "constant", 0.02), fit("jj", "linear", 0.9, clear=False)]) == []
    assert growth_differences([fit("git", "linear", 1.0), fit("jj", "linear", 0.9)]) == []


def test_report_scaling_shape():
    (row,) = report_scaling([fit("git", "linear", 1.0)])
    assert row["growth"] == "linear" and row["sizes"][0] == {"fixture": "small", "n": 500, "median": 1e6}
    try:
        from bench_pipeline.report.model import ScalingFit as ReportScalingFit
    except ImportError:
        return
    ReportScalingFit.model_validate(row)


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("stderr", "signature"),
    [
        ("fatal: bad object 3f2a9c1de", "fatal: bad object <hex>"),
        ("error: pathspec 'a/b.txt' did not match any file(s) known to git", "error: pathspec <q> did not match any file(s) known to git"),
        ("fatal: Unable to create '/tmp/w/r/.git/index.lock': File exists.", "fatal: Unable to create <q>: File exists."),
        ("error: cannot open /work/x/y.txt\n  line 12", "error: cannot open <path> line <n>"),
        ("Error: Revision 7 doesn't exist", "Error: Revision <n> doesn't exist"),  # an apostrophe, not a quote
        ("", ""),
    ],
)  # fmt: skip
def test_stderr_signature(stderr, signature):
    assert stderr_signature(stderr) == signature


def test_failures_cluster_by_signature_with_timeouts_and_oom_called_out():
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    rows = [
        ("r1", "git", "merge", 128, False, False, "fatal: bad object 3f2a9c1de"),
        ("r2", "git", "merge", 128, False, False, "fatal: bad object 77aa00bb11"),
        ("r2", "git", "merge", 1, False, False, "fatal: bad object 77aa00bb11"),
        ("r2", "jj", "log-graph", -9, True, False, "partial output"),
        ("r2", "jj", "gc", 137, False, True, ""),
    ]
    frame = pl.DataFrame(
        [
            {"run_id": r, "tool": t, "operation": o, "fixture": "small", "exit_code": e, "timed_out": to,
             "oom_killed": oom, "stderr_tail": s, "created_at": t0 + timedelta(hours=i)}
            for i, (r, t, o, e, to, oom, s) in enumerate(rows)
        ]
    )  # fmt: skip
    clusters = cluster_failures(frame)
    top = clusters[0]
    assert (top.kind, top.exit_code, top.signature, top.count, top.runs) == (
        "error",
        128,
        "fatal: bad object <hex>",
        2,
        2,
    )
    assert top.example == "fatal: bad object 77aa00bb11" and top.first_seen == t0
    kinds = {c.kind: c for c in clusters}
    assert kinds["timeout"].signature == "timeout" and kinds["oom"].signature == "oom-killed"
    assert len(clusters) == 4  # exit code 1 is its own cluster
    assert cluster_failures(frame.clear()) == []


# ------------------------------------------------------------------------------ anomalies
def history_frame(y: np.ndarray) -> pl.DataFrame:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    med = np.exp(y) * 1e7
    return pl.DataFrame(
        {
            "tool": "jj", "operation": "status", "fixture": "small", "metric": "wall",
            "run_id": [f"r{i:02d}" for i in range(len(y))],
            "started_at": [t0 + timedelta(days=i) for i in range(len(y))],
            "median": med, "ci_low": None, "ci_high": None, "n": 10, "cv": 0.01, "mad": 0.0,
            "git_tag": None, "host": "h",
        }
    )  # fmt: skip


def test_anomalies_gate_fresh_change_and_drift():
    rng = np.random.default_rng(3)
    jump = rng.normal(0, 0.01, 20)
    jump[-1] += math.log(1.25)
    fresh = rng.normal(0, 0.01, 20)
    fresh[-2:] += math.log(1.25)
    drift = 0.004 * np.arange(30) + np.random.default_rng(0).normal(0, 0.01, 30)
    quiet = rng.normal(0, 0.01, 20)
    found = {}
    for name, y in (("jump", jump), ("fresh", fresh), ("drift", drift), ("quiet", quiet)):
        found[name] = {a.kind for a in find_anomalies([analyse_cell(history_frame(y), suite="s")])}
    assert "gate" in found["jump"] and "fresh-change" not in found["jump"]
    assert "fresh-change" in found["fresh"]
    assert "drift" in found["drift"]
    assert found["quiet"] == set()
