"""doctor's quiet-machine check: each known source of timing noise is named, and only when present."""

from __future__ import annotations

from pathlib import Path

from bench_pipeline.execution.environment import noise_sources


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def test_a_quiet_machine_has_none(tmp_path: Path):
    assert noise_sources(tmp_path, load=0.2, cpus=2) == []


def test_damon_pageout_governor_and_load_are_each_named(tmp_path: Path):
    kd = tmp_path / "kernel/mm/damon/admin/kdamonds"
    _write(kd / "0/state", "on")
    _write(kd / "0/contexts/0/schemes/0/action", "pageout")
    _write(kd / "1/state", "off")  # a stopped kdamond is no source
    _write(kd / "1/contexts/0/schemes/0/action", "pageout")
    _write(tmp_path / "devices/system/cpu/cpu0/cpufreq/scaling_governor", "powersave")
    _write(tmp_path / "devices/system/cpu/cpu1/cpufreq/scaling_governor", "performance")
    found = noise_sources(tmp_path, load=3.0, cpus=2)
    assert len(found) == 3
    assert found[0].startswith("DAMON pageout is on (0)")
    assert "powersave" in found[1] and "performance, powersave" in found[1]
    assert found[2].startswith("load average 3.0 on 2 CPUs")


def test_damon_without_pageout_and_performance_governor_are_quiet(tmp_path: Path):
    kd = tmp_path / "kernel/mm/damon/admin/kdamonds/0"
    _write(kd / "state", "on")
    _write(kd / "contexts/0/schemes/0/action", "stat")
    _write(tmp_path / "devices/system/cpu/cpu0/cpufreq/scaling_governor", "performance")
    assert noise_sources(tmp_path, load=0.9, cpus=2) == []
