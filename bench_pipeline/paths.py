"""Where bench-pipeline keeps its data: everything hangs off ``BENCH_PIPELINE_HOME``.

Layout (all overridable only through the environment variable, so every process agrees)::

    $BENCH_PIPELINE_HOME/            default ./data (relative to the working directory)
        bench.duckdb                 the store
        landing/                     Parquet files written by measuring steps, loaded by ingestion
        fixtures/                    content-addressed fixture cache
        work/                        per-run working directories (deleted after the run)
        reports/                     rendered reports, archived per run
        dagster/                     DAGSTER_HOME for runs started by the CLI
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SUITES_DIR = PROJECT_ROOT / "suites"


def home() -> Path:
    return Path(os.environ.get("BENCH_PIPELINE_HOME", "data")).resolve()


def db_path() -> Path:
    return home() / "bench.duckdb"


def landing_dir() -> Path:
    return home() / "landing"


def fixtures_dir() -> Path:
    return home() / "fixtures"


def work_dir() -> Path:
    return home() / "work"


def reports_dir() -> Path:
    return home() / "reports"


def dagster_home() -> Path:
    return home() / "dagster"
