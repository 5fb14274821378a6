"""A process-wide progress sink, so the CLI can show what in-process Dagster steps are doing.

Library code takes a ``progress`` callable; the Dagster assets pass one that writes to the
Dagster log *and* to whatever the CLI registered here (a progress display), if anything.
"""

from __future__ import annotations

from collections.abc import Callable

_sink: Callable[[str], None] | None = None


def set_sink(sink: Callable[[str], None] | None) -> None:
    global _sink
    _sink = sink


def tee(log: Callable[[str], None]) -> Callable[[str], None]:
    def say(message: str) -> None:
        log(message)
        if _sink is not None:
            _sink(message)

    return say
