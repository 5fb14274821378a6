"""Simulated run histories with fixed seeds: change points against planted steps, spikes, trends and noise.

Each series has 60 runs whose medians have a run-to-run CV of 3 % (lognormal). Scenarios:

* steps of 3–10 % (either direction) at a run between 8 and 52 — recall and precision are scored
  for steps ≥ 5 %; smaller ones are the grey zone around δ = 3 % (counted, not scored);
* one-run spikes of 10–40 % that revert (an outlier, not a change: any alert is a false alarm);
* linear trends of ±0.2–0.5 % per run (the trend test must see them);
* pure noise (any alert is a false alarm).

Scoring. Ours: a change point is a true positive when it lies within 2 runs of a planted step, every
other change point is a false positive. Online delay: the detector is re-run on the prefix of the
series ending t runs after the step (t = 1 … 8); the delay is the first t with a change within 2 runs
of the step. Naive baseline: the z-score of each run's median against the previous 30 (or as many as
there are, at least 10); an alert when |z| > 3; a step is detected when an alert falls at the step or
within 2 runs after it (delay = that run − step), every alert elsewhere is a false positive.

Run with ``pytest -s`` to see both score tables.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench_pipeline.history import detect_changes, same_run_gate, trend

N = 60
CV = 0.03
SIGMA = float(np.sqrt(np.log1p(CV**2)))
TOL = 2


def _noise(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.0, SIGMA, N)


def scenarios(seed: int = 20240601) -> dict[str, list[tuple[np.ndarray, dict]]]:
    rng = np.random.default_rng(seed)
    out: dict[str, list[tuple[np.ndarray, dict]]] = {"step": [], "spike": [], "trend": [], "noise": []}
    for _ in range(160):
        size = rng.uniform(0.03, 0.10)
        sign = rng.choice([-1, 1])
        k = int(rng.integers(8, 53))
        y = _noise(rng)
        y[k:] += sign * np.log1p(size)
        out["step"].append((y, {"k": k, "size": size, "sign": sign}))
    for _ in range(60):
        y = _noise(rng)
        s = int(rng.integers(5, N))
        y[s] += rng.choice([-1, 1]) * np.log1p(rng.uniform(0.10, 0.40))
        out["spike"].append((y, {"s": s}))
    for _ in range(40):
        slope = rng.choice([-1, 1]) * rng.uniform(0.002, 0.005)
        out["trend"].append((_noise(rng) + slope * np.arange(N), {"slope": slope}))
    for _ in range(120):
        out["noise"].append((_noise(rng), {}))
    return out


def naive_alerts(y: np.ndarray, window: int = 30, z: float = 3.0) -> list[int]:
    alerts = []
    for t in range(10, len(y)):
        ref = y[max(0, t - window) : t]
        s = ref.std(ddof=1)
        if s > 0 and abs(y[t] - ref.mean()) / s > z:
            alerts.append(t)
    return alerts


@pytest.fixture(scope="module")
def scored() -> dict:
    data = scenarios()
    ours = {"tp": 0, "fp": 0, "found": 0, "steps": 0, "delays": [], "grey_alerts": 0, "grey": 0}
    naive = {"tp": 0, "fp": 0, "found": 0, "steps": 0, "delays": []}
    false_series = {"noise": [0, 0], "spike": [0, 0]}  # [ours, naive] series with any alert
    trend_alerts = 0
    for y, meta in data["step"]:
        k, big = meta["k"], meta["size"] >= 0.05
        cps = [c.index for c in detect_changes(y).changes]
        hits = [c for c in cps if abs(c - k) <= TOL]
        alerts = naive_alerts(y)
        n_hits = [a for a in alerts if k <= a <= k + TOL]
        if not big:
            ours["grey"] += 1
            ours["grey_alerts"] += bool(hits)
            continue
        ours["steps"] += 1
        naive["steps"] += 1
        ours["found"] += bool(hits)
        ours["tp"] += min(len(hits), 1)
        ours["fp"] += len(cps) - min(len(hits), 1)
        naive["found"] += bool(n_hits)
        naive["tp"] += min(len(n_hits), 1)
        naive["fp"] += len(alerts) - len(n_hits)
        if n_hits:
            naive["delays"].append(n_hits[0] - k)
        for t in range(1, 9):  # online: the detector sees runs 0 … k + t
            if k + t >= N:
                break
            if any(abs(c.index - k) <= TOL for c in detect_changes(y[: k + t + 1]).changes):
                ours["delays"].append(t)
                break
    for kind in ("noise", "spike"):
        for y, _ in data[kind]:
            cps = detect_changes(y).changes
            alerts = naive_alerts(y)
            ours["fp"] += len(cps)
            naive["fp"] += len(alerts)
            false_series[kind][0] += bool(cps)
            false_series[kind][1] += bool(alerts)
    trend_found = 0
    for y, meta in data["trend"]:
        fit = trend(y)
        trend_found += fit.significant and np.sign(fit.slope_per_run) == np.sign(meta["slope"])
        trend_alerts += bool(detect_changes(y).changes)
    noise_trend = sum(trend(y).significant for y, _ in data["noise"])

    def summary(s: dict) -> dict:
        delays = np.array(s["delays"]) if s["delays"] else np.array([np.nan])
        return {
            "precision": s["tp"] / max(s["tp"] + s["fp"], 1),
            "recall": s["found"] / s["steps"],
            "delay_median": float(np.median(delays)),
            "within_2": float(np.sum(delays <= 2)) / s["steps"],
        }

    result = {
        "ours": summary(ours),
        "naive": summary(naive),
        "noise_false": [v / len(data["noise"]) for v in false_series["noise"]],
        "spike_false": [v / len(data["spike"]) for v in false_series["spike"]],
        "grey_detected": ours["grey_alerts"] / max(ours["grey"], 1),
        "trend_found": trend_found / len(data["trend"]),
        "trend_alerts": trend_alerts / len(data["trend"]),
        "noise_trend_false": noise_trend / len(data["noise"]),
        "steps_scored": ours["steps"],
    }
    print(f"\nchange points on 60-run histories, CV 3 %, steps ≥ 5 % scored ({ours['steps']} series)")
    print(
        f"{'':>8} {'precision':>9} {'recall':>7} {'delay(median)':>14} {'≤2 runs':>8} {'noise FA':>9} {'spike FA':>9}"
    )
    for i, name in enumerate(("ours", "naive")):
        s = result[name]
        print(
            f"{name:>8} {s['precision']:>9.3f} {s['recall']:>7.3f} {s['delay_median']:>14.1f} "
            f"{s['within_2']:>8.3f} {result['noise_false'][i]:>9.3f} {result['spike_false'][i]:>9.3f}"
        )
    print(
        f"grey zone (3–5 % steps) detected: {result['grey_detected']:.2f}; trends found by Mann–Kendall: "
        f"{result['trend_found']:.2f} (change points on trends: {result['trend_alerts']:.2f}); "
        f"Mann–Kendall on noise: {result['noise_trend_false']:.3f}"
    )
    return result


def test_change_points_find_planted_steps(scored):
    assert scored["ours"]["recall"] >= 0.9
    assert scored["ours"]["precision"] >= 0.9


def test_change_points_stay_quiet_on_noise_and_spikes(scored):
    assert scored["noise_false"][0] <= 0.05
    assert scored["spike_false"][0] <= 0.05


def test_detection_delay(scored):
    # the new level must be seen in 2 runs before an alert, so the earliest detection is 1 run after
    assert scored["ours"]["delay_median"] <= 2


def test_ours_beats_the_naive_baseline(scored):
    assert scored["ours"]["precision"] > scored["naive"]["precision"]
    assert scored["noise_false"][0] < scored["noise_false"][1]


def test_trends_are_found_and_noise_is_not_a_trend(scored):
    assert scored["trend_found"] >= 0.9
    assert scored["noise_trend_false"] <= 0.10


def test_gate_false_alarms_on_noise_match_alpha():
    rng = np.random.default_rng(7)
    outside = sum(same_run_gate(rng.normal(0, SIGMA, 11), delta=0.0).outside for _ in range(4000))
    assert outside / 4000 == pytest.approx(0.01, abs=0.006)


def test_gate_flags_a_jump_of_the_newest_run():
    rng = np.random.default_rng(8)
    y = rng.normal(0, SIGMA, 11)
    y[-1] += np.log(1.20)
    g = same_run_gate(y)
    assert g.outside and g.alert and g.direction == "higher" and g.ratio > 1.1
