"""The execution backend as a Dagster resource: ``auto`` (docker when an engine answers), ``local``, ``docker``."""

from dagster import ConfigurableResource


class BackendResource(ConfigurableResource):
    backend: str = "auto"
