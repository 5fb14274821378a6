"""Dagster resources: the store and the execution backend, injected into assets by name."""

from resources.backend import BackendResource
from resources.store import StoreResource

__all__ = ["BackendResource", "StoreResource"]
