"""``--github`` of ``run`` and ``compare``: the step summary and the pull-request comment file
(``bench_pipeline.report.github``), written before the command exits with its usual code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bench_pipeline.files import write_text_atomic
from bench_pipeline.report.github import append_step_summary

GITHUB_HELP = (
    "also write the Markdown summary to $GITHUB_STEP_SUMMARY (when set) and a pull-request comment "
    "body (≤ 65,000 characters, regressions first) to a file whose path is printed"
)


def write_outputs(markdown: str, comment_path: Path) -> dict[str, Any]:
    """Write the comment file and append the step summary; what was written where (``--json``'s "github")."""
    write_text_atomic(comment_path, markdown)
    summary = append_step_summary(markdown)
    return {
        "comment": str(comment_path),
        "comment_chars": len(markdown),
        "step_summary": str(summary) if summary else None,
    }


def print_outputs(written: dict[str, Any]) -> None:
    """The lines a person (or a workflow's grep) reads: where the comment and the summary went."""
    click.echo(f"comment: {written['comment']}")
    if written["step_summary"]:
        click.echo(f"step summary: {written['step_summary']}")
