"""Dagster jobs, schedules and sensors, plus the in-process launcher the CLI uses."""
