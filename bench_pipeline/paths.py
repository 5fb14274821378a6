"""Where bench-pipeline keeps its data: everything hangs off ``BENCH_PIPELINE_HOME``.

Layout (all overridable only through the environment variable, so every process agrees)::

    $BENCH_PIPELINE_HOME/            default ./data (relative to the working directory)
        bench.duckdb                 the store
        landing/                     Parquet files written by measuring steps, loaded by ingestion
        fixtures/                    content-addressed fixture cache (or $BENCH_PIPELINE_FIXTURE_CACHE)
        work/                        per-run working directories (deleted after the run)
        reports/                     rendered reports, archived per run
        dagster/                     DAGSTER_HOME for runs started by the CLI
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SUITES_DIR = PROJECT_ROOT / "suites"


def suite_dirs() -> list[Path]:
    """Directories listed in ``BENCH_PIPELINE_SUITES`` (``:``-separated), then ``suites/``.

    A suite found in an earlier directory wins, so a user's own directory (or a suite file passed
    by path to ``run --suite``) overrides the repository's suite of the same name.
    """
    extra = [Path(p).resolve() for p in os.environ.get("BENCH_PIPELINE_SUITES", "").split(os.pathsep) if p]
    return [*[p for p in extra if p != SUITES_DIR], SUITES_DIR]


def add_suite_dir(directory: Path) -> None:
    """Make suites in ``directory`` known to this process and to the Dagster code location it loads."""
    directory = directory.resolve()
    if directory not in suite_dirs():
        current = os.environ.get("BENCH_PIPELINE_SUITES", "")
        os.environ["BENCH_PIPELINE_SUITES"] = os.pathsep.join(p for p in (str(directory), current) if p)


def home() -> Path:
    return Path(os.environ.get("BENCH_PIPELINE_HOME", "data")).resolve()


#: pseudo file systems: a home there cannot hold files (writes fail, or vanish)
PSEUDO_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))


def home_problem() -> str | None:
    """Why ``$BENCH_PIPELINE_HOME`` cannot hold bench-pipeline's data, or None when it can (it is, or
    can be made, a writable directory on a real file system)."""
    home_ = home()
    if any(home_ == root or root in home_.parents for root in PSEUDO_ROOTS):
        return f"{home_} is on a pseudo file system ({home_.parts[1]})"
    existing = home_
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return (
            f"{existing} is a file, not a directory"
            if existing.is_file()
            else f"{existing} is not a directory"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable by this user"
    return None


def db_path() -> Path:
    return home() / "bench.duckdb"


def landing_dir() -> Path:
    """``$BENCH_PIPELINE_HOME/landing``, or ``BENCH_PIPELINE_LANDING``: a fleet host points it at the
    shared landing area of the central machine (docs/scaling.md)."""
    shared = os.environ.get("BENCH_PIPELINE_LANDING")
    return Path(shared).resolve() if shared else home() / "landing"


def fixtures_dir() -> Path:
    """The fixture cache; ``BENCH_PIPELINE_FIXTURE_CACHE`` may share one cache between homes."""
    shared = os.environ.get("BENCH_PIPELINE_FIXTURE_CACHE")
    return Path(shared).resolve() if shared else home() / "fixtures"


def work_dir() -> Path:
    return home() / "work"


def reports_dir() -> Path:
    return home() / "reports"


def dagster_home() -> Path:
    return home() / "dagster"
