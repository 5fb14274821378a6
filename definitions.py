"""The Dagster code location of bench-pipeline: assets, resources and jobs wired together."""

from dagster import Definitions

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
from jobs.schedules import SCHEDULES, tier_job
from jobs.sensors import JOBS as SENSOR_JOBS
from jobs.sensors import SENSORS
from jobs.stages import JOBS
from resources import BackendResource, StoreResource

defs = Definitions(
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
    jobs=[*JOBS, tier_job, *SENSOR_JOBS],
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources={"store": StoreResource(), "backend": BackendResource()},
)
