"""``python -m bench_pipeline`` is the CLI."""

from bench_pipeline.cli import main

main()
