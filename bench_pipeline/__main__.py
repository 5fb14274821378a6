"""``python -m bench_pipeline`` is the CLI."""

from bench_pipeline.interfaces.cli import main

main()
