"""CLI commands that live in their own modules: each module exposes ``COMMANDS``, a list of
click commands, and ``bench_pipeline.cli`` registers them all."""
