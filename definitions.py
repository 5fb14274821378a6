"""The Dagster code location of bench-pipeline: assets, resources, jobs, schedules and sensors.

Built when Dagster loads the location (``load_definitions``), not at import: the schedules and
sensors read the operations settings then, and the partitions are dynamic (``assets/partitions.py``).
``definitions.defs`` builds them too, for scripts and tests.
"""

import warnings

from dagster import BetaWarning, Definitions, definitions

from assets.cell_stats import cell_stats
from assets.checks import CHECKS
from assets.clean_samples import clean_samples
from assets.comparisons import comparisons
from assets.fixtures import fixtures
from assets.history import history, patterns
from assets.measurements import measurements
from assets.report import report
from assets.samples import samples
from assets.tiering import TIER_ASSETS
from jobs.fleet import build_fleet_followup, build_fleet_job
from jobs.schedules import build_schedules, tier_job
from jobs.sensors import JOBS as SENSOR_JOBS
from jobs.sensors import build_sensors
from jobs.stages import JOBS
from resources import BackendResource, StoreResource


@definitions
def load_definitions() -> Definitions:
    # beta parameters Dagster's own decorators pass (sensor owners, partition mappings): not ours to act on
    warnings.filterwarnings("ignore", category=BetaWarning)
    fleet_job = build_fleet_job()
    return Definitions(
        assets=[
            fixtures,
            measurements,
            samples,
            clean_samples,
            cell_stats,
            comparisons,
            history,
            patterns,
            report,
            *TIER_ASSETS,
        ],
        asset_checks=CHECKS,
        jobs=[*JOBS, tier_job, *SENSOR_JOBS, fleet_job],
        schedules=build_schedules(),
        sensors=[*build_sensors(), build_fleet_followup(fleet_job)],
        resources={"store": StoreResource(), "backend": BackendResource()},
    )


def __getattr__(name: str) -> Definitions:  # ``from definitions import defs``: built on first use
    if name == "defs":
        return load_definitions()
    raise AttributeError(name)
