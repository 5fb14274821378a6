"""The ``bench-pipeline`` command line (SPEC §10.1, contract in docs/cli.md): one module per command.

``app`` holds the click group, the translation of failures into one message and an exit code,
``--json`` output and progress lines; every other module defines one command (or a group) and
lists it in ``COMMANDS``.
"""

from bench_pipeline.interfaces.cli import (
    bisect,
    build,
    compare,
    doctor,
    export,
    findings,
    fixtures,
    fleet,
    history,
    images,
    ingest,
    measure,
    report,
    run,
    serve,
    suites,
    tier,
    ui,
)
from bench_pipeline.interfaces.cli.app import main

for _module in (
    run,
    fleet,
    build,
    bisect,
    measure,
    fixtures,
    suites,
    doctor,
    report,
    compare,
    history,
    findings,
    export,
    ingest,
    tier,
    images,
    serve,
    ui,
):
    for _command in _module.COMMANDS:
        main.add_command(_command)

__all__ = ["main"]
