"""The pipeline's stages, declared once (SPEC §8), and the suites and tools it runs over.

A suite run is four stages, in this order. Each is one Dagster job over one partitions
definition (a Dagster run covers one), so a run is a short chain of Dagster runs:

======== =========== ============================================ ===========
stage    job         assets                                       partitions
======== =========== ============================================ ===========
fixtures fixtures_job fixtures                                    suite × tool
measure  measure_job  measurements                                suite
ingest   ingest_job   samples, clean_samples, cell_stats          suite × tool
report   report_job   comparisons, history, patterns, report      suite
======== =========== ============================================ ===========

Everything that runs the chain reads :data:`STAGES`: ``jobs/stages.py`` builds the jobs from it,
the CLI (``bench-pipeline run``) executes the stages in order in-process, and the daemon's
follow-up sensor asks :func:`follow_up` what a finished stage leads to. A stage runs once per
bench run: every stage run carries the bench run id, and a follow-up is requested only when no
run of the next stage exists for that bench run yet (whoever started the chain continues it).

The suites are read when asked, never at import: the suite files (``suites/*.yaml`` and
``BENCH_PIPELINE_SUITES``) and the suites that arrived by ingestion (``ingest.catalogue``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bench_pipeline.errors import SuiteError
from bench_pipeline.ingest.catalogue import read_catalogue
from bench_pipeline.suite import NAME_RE, Suite, available_suites, find_suite, load_suite_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stage:
    name: str
    job: str
    assets: tuple[str, ...]
    per_tool: bool  # partitioned by suite × tool (else by suite)
    description: str


STAGES: tuple[Stage, ...] = (
    Stage(
        "fixtures",
        "fixtures_job",
        ("fixtures",),
        True,
        "Generate and prepare fixtures of one suite × tool.",
    ),
    Stage(
        "measure",
        "measure_job",
        ("measurements",),
        False,
        "Measure one suite (all or selected tools, interleaved).",
    ),
    Stage(
        "ingest",
        "ingest_job",
        ("samples", "clean_samples", "cell_stats"),
        True,
        "Load landing files of one suite × tool and compute its statistics.",
    ),
    Stage(
        "report",
        "report_job",
        ("comparisons", "history", "patterns", "report"),
        False,
        "Compare the tools of a suite's new runs and render the reports of a run.",
    ),
)
STAGE_BY_NAME = {s.name: s for s in STAGES}
STAGE_BY_JOB = {s.job: s for s in STAGES}
# the stage that records the bench run (its id, tools, backend) — the chain's identity from there on
MEASURE = STAGE_BY_NAME["measure"]


def next_stage(stage: Stage) -> Stage | None:
    index = STAGES.index(stage)
    return STAGES[index + 1] if index + 1 < len(STAGES) else None


@dataclass(frozen=True)
class StageRequest:
    """One Dagster run to start: ``stage`` for ``suite`` (and ``tool`` when the stage is per tool)."""

    stage: Stage
    suite: str
    tool: str | None
    bench_run: str

    @property
    def run_key(self) -> str:
        return "-".join(p for p in (self.stage.name, self.bench_run, self.tool) if p)


def follow_up(
    finished: Stage,
    *,
    suite: str,
    tools: list[str],
    bench_run: str,
    started: dict[str, int],
    succeeded: dict[str, int],
) -> list[StageRequest]:
    """What a finished stage of bench run ``bench_run`` leads to.

    ``started`` / ``succeeded``: how many Dagster runs of each stage exist (in any state) / have
    succeeded for this bench run. The next stage is requested when nobody started it yet, and —
    after a per-tool stage — only once every tool's run of the finished stage succeeded.
    """
    nxt = next_stage(finished)
    if nxt is None or started.get(nxt.name, 0) > 0:
        return []
    if finished.per_tool and succeeded.get(finished.name, 0) < len(tools):
        return []
    if nxt.per_tool:
        return [StageRequest(nxt, suite, tool, bench_run) for tool in tools]
    return [StageRequest(nxt, suite, None, bench_run)]


# ---------------------------------------------------------------------------------------- catalogue
def suite_files() -> dict[str, Suite]:
    """Every suite file that loads; one broken file is logged, not fatal."""
    suites = {}
    for name, path in available_suites().items():
        try:
            suites[name] = load_suite_file(path)
        except SuiteError as exc:
            log.warning("skipping suite %s: %s", path, exc)
    return suites


def ingested_suites(exclude: set[str] | None = None) -> dict[str, list[str]]:
    """Suites that arrived by ingestion and have no suite file, with their tools. Names a partition
    key cannot hold (Dagster multi-partition keys reserve ``| , [ ]``) are left out with a warning."""
    out = {}
    for suite, tools in read_catalogue().items():
        if exclude and suite in exclude:
            continue
        if not all(NAME_RE.match(n) for n in (suite, *tools)):
            log.warning(
                "ingested suite %r not offered as a partition: a name is not %s", suite, NAME_RE.pattern
            )
            continue
        out[suite] = tools
    return out


def catalogue() -> dict[str, list[str]]:
    """Suite → tools, for every suite file and every ingested suite (read now)."""
    files = suite_files()
    return {
        **{name: list(s.tools) for name, s in files.items()},
        **ingested_suites(exclude=set(files)),
    }


def measurable_suite(name: str, tools: list[str] | None = None) -> Suite:
    """The suite file behind ``name`` — with the revisions among ``tools`` (``jj@0.44.0``) as tools
    of their own — or a clear error for a suite that arrived by ingestion."""
    if name not in available_suites() and name in ingested_suites():
        raise SuiteError(
            f"suite {name!r} arrived by ingestion and has no suite file: there is nothing to generate or measure",
            fix=f"materialize its analysis assets (samples … cell_stats, comparisons, history, patterns, report); "
            f"to measure it here, write suites/{name}.yaml",
        )
    return find_suite(name).with_revisions(tools)
