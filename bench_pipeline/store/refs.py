"""Run references (REF in docs/cli.md), parsed by one grammar before any query sees them.

    REF   := "latest" | "latest~" N | "tag:" TAG | RUN_ID
    N     := decimal digits, 0 <= N < 1 000 000        (the Nth finished run before the newest)
    TAG   := 1-256 characters, no whitespace or control characters
    RUN_ID:= a letter or digit, then up to 127 of letters, digits, '_', '.', '-'

Anything else is refused with one message that shows the grammar, so ``latest~-1`` or
``latest~99999999999999999999999`` never reach DuckDB as an OFFSET.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bench_pipeline.errors import RunNotFound

RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
MAX_BACK = 10**6
_TAG = re.compile(r"^tag:([^\s\x00-\x1f\x7f]{1,256})$")
GRAMMAR = "latest, latest~N (0 <= N < 1000000), tag:NAME or a run id"


@dataclass(frozen=True)
class RunRef:
    """A parsed reference: ``kind`` is latest (``back`` runs before the newest), tag or id."""

    kind: str
    back: int = 0
    tag: str = ""
    run_id: str = ""


def parse_run_ref(text: str, where: str = "run reference") -> RunRef:
    """``text`` as a :class:`RunRef`, or RunNotFound naming ``where`` and the grammar."""
    if not isinstance(text, str) or not text:
        raise RunNotFound("an empty run reference", where=where, fix=f"use {GRAMMAR}")
    shown = text if len(text) <= 40 else text[:39] + "…"
    if text == "latest":
        return RunRef("latest")
    if text.startswith("latest~"):
        n = text.removeprefix("latest~")
        if not n.isascii() or not n.isdigit():
            raise RunNotFound(
                f"{shown!r}: N must be a whole number from 0 to {MAX_BACK - 1}",
                where=where,
                fix=f"use {GRAMMAR}",
            )
        if len(n) > 7 or int(n) >= MAX_BACK:
            raise RunNotFound(f"{shown!r}: N must be below {MAX_BACK:,}", where=where, fix=f"use {GRAMMAR}")
        return RunRef("latest", back=int(n))
    if tag := _TAG.match(text):
        return RunRef("tag", tag=tag.group(1))
    if RUN_ID_RE.match(text):
        return RunRef("id", run_id=text)
    raise RunNotFound(f"{shown!r} is not a run reference", where=where, fix=f"use {GRAMMAR}")
