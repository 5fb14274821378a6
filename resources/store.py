"""The DuckDB store as a Dagster resource (the database path follows BENCH_PIPELINE_HOME)."""

from pathlib import Path

from dagster import ConfigurableResource

from bench_pipeline.store import Store


class StoreResource(ConfigurableResource):
    """``database``: path of the DuckDB file; empty means ``$BENCH_PIPELINE_HOME/bench.duckdb``."""

    database: str = ""

    def get(self) -> Store:
        """The store as the pipeline reads it: runs it is completing count as what they will be
        (``Store.completing_store``); everyone else sees them ``running`` until the report is written."""
        return Store(Path(self.database) if self.database else None, completing=True)
