"""``bench-pipeline export`` round trips: a run exported as CSV, Bencher Metric Format or hyperfine JSON
and ingested again through the project's own adapters (auto-detected) gives the same medians per cell."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from click.testing import CliRunner

from bench_pipeline.analysis import analyse_runs
from bench_pipeline.ingest.export import cell_name
from bench_pipeline.interfaces.cli import main
from bench_pipeline.resume import ingest_and_complete as ingest_files  # stored, analysed, finished
from bench_pipeline.store import Store
from tests.integration.test_history_store import add_runs

pytestmark = pytest.mark.integration
CELLS = [("status", "small"), ("status", "medium"), ("snapshot", "small")]
FAILURES = [{"tool": "git", "stderr": "fatal: bad object 3f2a9c1d0e"}]
MEDIANS_SQL = """SELECT tool, operation, fixture, metric, median FROM cell_stats_all
                 WHERE run_id = ? AND metric IN ('wall', 'cpu', 'rss', 'wall_ns_exact')"""


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("export")
    store = Store(home / "bench.duckdb")
    add_runs(store, [0, 1], cells=CELLS, failures=FAILURES)
    analyse_runs(store, ["r000", "r001"])
    return home


def _medians(store: Store, run_id: str) -> dict[tuple[str, str, str, str], float]:
    return {
        (r["tool"], r["operation"], r["fixture"], r["metric"]): r["median"]
        for r in store.query(MEDIANS_SQL, [run_id]).iter_rows(named=True)
    }


def _round_trip(home, tmp_path, monkeypatch, fmt: str) -> tuple[dict, dict, str]:
    """Export the newest run with the CLI, ingest the file into a new store: (original, ingested, text)."""
    monkeypatch.setenv("BENCH_PIPELINE_HOME", str(home))
    path = tmp_path / f"export.{fmt}"
    out = CliRunner().invoke(main, ["export", "--suite", "s", "--format", fmt, "-o", str(path), "--json"])
    assert out.exit_code == 0, out.output
    body = json.loads(out.output.strip().splitlines()[-1])
    assert body == {"run_id": "r001", "format": fmt, "path": str(path), "bytes": path.stat().st_size}
    other = Store(tmp_path / "other" / "bench.duckdb")
    result = ingest_files([path], run_id="back", store=other)
    analyse_runs(other, list(result.run_ids))
    return _medians(Store(home / "bench.duckdb"), "r001"), _medians(other, "back"), path.read_text()


def test_csv_round_trip_keeps_every_cell_and_metric(home, tmp_path, monkeypatch):
    original, back, text = _round_trip(home, tmp_path, monkeypatch, "csv")
    assert text.startswith("run_id,suite,tool,operation,fixture,round,iteration,wall_ns,")
    assert len(text.splitlines()) == 1 + 2 * 3 * 8 + 1  # header, 8 samples per cell, one failure
    assert back == original and len(original) == 2 * 3 * 3  # tools × cells × wall/cpu/rss, exactly


def test_hyperfine_round_trip_gives_equal_medians(home, tmp_path, monkeypatch):
    original, back, text = _round_trip(home, tmp_path, monkeypatch, "hyperfine")
    results = {r["command"]: r for r in json.loads(text)["results"]}
    failed = results[cell_name("git", "status", "small")]
    assert len(failed["times"]) == 9 and failed["exit_codes"].count(128) == 1  # as hyperfine -i writes it
    assert set(failed) >= {"mean", "stddev", "median", "user", "system", "min", "max", "memory_usage_byte"}
    for (tool, operation, fixture, metric), median in original.items():
        if metric in ("wall", "rss"):  # hyperfine keeps every run's time and peak memory
            assert back[("hyperfine", cell_name(tool, operation, fixture), "default", metric)] == median


def test_bmf_round_trip_gives_equal_medians(home, tmp_path, monkeypatch):
    original, back, text = _round_trip(home, tmp_path, monkeypatch, "bmf")
    doc = json.loads(text)
    latency = doc[cell_name("jj", "status", "small")]["latency"]
    assert latency["lower_value"] <= latency["value"] <= latency["upper_value"]
    walls = {k: v for k, v in original.items() if k[3] == "wall"}
    assert len(walls) == len(doc) == 6
    for (tool, operation, fixture, _), median in walls.items():
        key = ("bmf", cell_name(tool, operation, fixture), "default")
        assert back[(*key, "wall_ns_exact")] == median  # the value itself, exactly
        whole = Decimal(repr(median)).to_integral_value(rounding=ROUND_HALF_EVEN)
        assert back[(*key, "wall")] == float(whole)  # wall_ns: whole nanoseconds


def test_native_export_and_errors(home, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_PIPELINE_HOME", str(home))
    out = CliRunner().invoke(main, ["export", "--suite", "s", "--run", "r000", "--format", "native"])
    assert out.exit_code == 0 and json.loads(out.output)["run"]["run_id"] == "r000"
    missing = CliRunner().invoke(main, ["export", "--suite", "s", "--run", "nope", "--format", "csv"])
    assert missing.exit_code == 2 and "no finished run of suite 's' matches 'nope'" in missing.output
    bad = CliRunner().invoke(main, ["export", "--suite", "s", "--format", "xml"])
    assert bad.exit_code == 2 and "'xml' is not one of" in bad.output
    needs = CliRunner().invoke(main, ["export", "--suite", "s", "--format", "csv", "--json"])
    assert needs.exit_code == 2 and "--json needs --output" in needs.output


def test_a_damaged_csv_export_is_refused_with_its_line(home, tmp_path, monkeypatch):
    from bench_pipeline.errors import IngestError

    _, _, text = _round_trip(home, tmp_path, monkeypatch, "csv")
    lines = text.splitlines()
    lines[3] = lines[3].replace(",true,", ",maybe,", 1)
    path = tmp_path / "damaged.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(IngestError) as info:
        ingest_files([path], store=Store(tmp_path / "third.duckdb"))
    assert "damaged.csv:4" in info.value.where and "'maybe' is not true or false" in info.value.message
