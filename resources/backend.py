"""The execution backend as a Dagster resource: ``auto`` (docker when an engine answers), ``local``, ``docker``."""

from dagster import ConfigurableResource

from bench_pipeline.execution.backends import DEFAULT_BACKEND


class BackendResource(ConfigurableResource):
    backend: str = DEFAULT_BACKEND
