"""Dagster assets: one module per pipeline stage, each a thin wrapper over ``bench_pipeline``."""
