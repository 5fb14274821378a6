"""Store access for the routers beside ``app`` (``findings``, ``dashboard``): one at a time under the
application's lock (DuckDB: one process may not hold the file read-only and read-write at once), the
store migrated once per process, as ``create_app``'s own reads do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import HTTPException, Request

from bench_pipeline.errors import RunNotFound
from bench_pipeline.store import Store

T = TypeVar("T")


def read(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(store, *args, **kwargs)`` under the lock; an unknown run is a 404."""
    state = request.app.state
    with state.lock:
        if not state.migrated:
            state.store.schema_version()
            state.migrated = True
        try:
            return fn(state.store, *args, **kwargs)
        except RunNotFound as exc:
            raise HTTPException(404, exc.message) from None


def store_of(request: Request) -> Store:
    return request.app.state.store
