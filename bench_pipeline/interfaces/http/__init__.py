"""The results HTTP API (SPEC §10.2, docs/api.md): ``create_app()`` builds the FastAPI application.

``guard`` checks the bearer token and the body size before any route runs, ``app`` holds the
routes (submissions go through ``bench_pipeline.ingest``, the same path as ``bench-pipeline
ingest``), ``queries`` the parameterised read SQL.
"""

from bench_pipeline.interfaces.http.app import create_app

__all__ = ["create_app"]
