"""Equivalence of resulting states: each tool's state probes after a successful run, compared with
the reference tool's (a tool that "wins" by doing less work must not be reported faster)."""

from __future__ import annotations

import difflib

from bench_pipeline.execution.plan import Cell


def similarity(a: str, b: str) -> float:
    """0–1 similarity of two probe outputs: difflib's ratio over their lines (1.0 iff equal)."""
    if a == b:
        return 1.0
    return difflib.SequenceMatcher(None, a.splitlines(), b.splitlines(), autojunk=False).ratio()


def evaluate_equivalence(cells: list[Cell], reference: str) -> None:
    """Compare each tool's probe outputs with the reference tool's, per operation × fixture.

    A cell whose resulting state differs is marked invalid: a tool that "wins" by doing less
    work must not be reported as faster.
    """
    by_key: dict[tuple[str, str], dict[str, Cell]] = {}
    for c in cells:
        if c.operation.equivalence and c.status in ("measured", "pending"):
            by_key.setdefault((c.operation.name, c.fixture), {})[c.tool] = c
    for group in by_key.values():
        ref = group.get(reference)
        for tool, c in group.items():
            if not c.probes:
                c.equivalence = "not probed"
                continue
            failed = [n for n, v in c.probes.items() if v.startswith("!probe")]
            if failed:
                c.equivalence, c.similarity = "probe failed", 0.0
                c.reason = (c.reason + "; " if c.reason else "") + c.probes[failed[0]][1:]
                continue
            if tool == reference:
                c.equivalence, c.similarity = "reference", 1.0
                continue
            if ref is None or not ref.probes or any(v.startswith("!probe") for v in ref.probes.values()):
                c.equivalence = "no reference"
                continue
            scores = {n: similarity(c.probes[n], ref.probes.get(n, "")) for n in c.operation.equivalence}
            c.similarity = min(scores.values())
            if c.similarity == 1.0:
                c.equivalence = "equal"
            else:
                c.equivalence = "differs"
                worst = min(scores, key=scores.__getitem__)
                c.reason = (
                    f"resulting state differs from {reference}'s ({worst}: similarity {scores[worst]:.2f})"
                    + (f"; {c.reason}" if c.reason else "")
                )
