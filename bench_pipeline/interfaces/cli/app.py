"""The ``bench-pipeline`` command line (SPEC §10.1, contract in docs/cli.md).

Expected failures print one clear message on stderr and exit non-zero, never a traceback.
With ``--json`` the last line of stdout is exactly one JSON object; progress goes to stderr.
Commands that drive Dagster import it lazily, so the rest stays fast.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from bench_pipeline import paths
from bench_pipeline.errors import BenchError

err = Console(stderr=True, highlight=False)
EXIT_REGRESSION = 3


def code_location() -> None:
    """Make the Dagster code location (assets/, jobs/, definitions.py at the project root) importable."""
    root = str(paths.PROJECT_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


@contextmanager
def progress(enabled: bool = True):
    """A progress sink: a live status line on a terminal, plain lines on stderr otherwise."""
    from bench_pipeline import progress as progress_mod

    if not enabled:
        yield lambda _m: None
        return
    if err.is_terminal:
        with err.status("starting …") as status:

            def say(message: str) -> None:
                if (
                    message.startswith("round ")
                    or message.startswith("fixture")
                    or message.startswith("building")
                ):
                    status.update(escape(message))
                else:
                    err.print(f"[dim]·[/dim] {escape(message)}")

            progress_mod.set_sink(say)
            try:
                yield say
            finally:
                progress_mod.set_sink(None)
    else:

        def say(message: str) -> None:
            err.print(f"· {message}", soft_wrap=True, markup=False)

        progress_mod.set_sink(say)
        try:
            yield say
        finally:
            progress_mod.set_sink(None)


class _Group(click.Group):
    """Turns expected failures into one message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BenchError as exc:
            err.print(f"[bold red]error:[/bold red] {exc.render()}", soft_wrap=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            err.print("interrupted")
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bench-pipeline")
def main() -> None:
    """Continuous benchmarking of command-line tools (jj, git, git worktrees, any CLI).

    Data live in $BENCH_PIPELINE_HOME (default ./data): the DuckDB store, landing files,
    fixtures and reports.
    """
