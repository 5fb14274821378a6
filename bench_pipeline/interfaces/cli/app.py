"""The ``bench-pipeline`` command line (SPEC §10.1, contract in docs/cli.md).

No traceback reaches a person. An expected failure (``BenchError``) prints what failed, where and
the fix; an unexpected one its type and message; both add the path of a log file holding the full
trace (``$BENCH_PIPELINE_HOME/logs/``), at most three lines in all, and exit non-zero (exit codes of
docs/cli.md). Warnings of the libraries underneath go to that log, not to the terminal.
With ``--json`` the last line of stdout is exactly one JSON object; progress goes to stderr.
Commands that drive Dagster import it lazily, so the rest stays fast.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import traceback
import warnings
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from bench_pipeline import paths
from bench_pipeline.errors import BenchError

err = Console(stderr=True, highlight=False)
EXIT_REGRESSION = 3
EXIT_UNEXPECTED = 1
_STARTED = datetime.now(UTC)


def log_file() -> Path:
    """This invocation's log file (created on first use): ``$BENCH_PIPELINE_HOME/logs/``, or the
    temporary directory when the home cannot be written."""
    name = f"{_STARTED.strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}.log"
    for directory in (paths.home() / "logs", Path(tempfile.gettempdir()) / "bench-pipeline-logs"):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / name
            path.touch(exist_ok=True)
            return path
        except OSError:
            continue
    return Path(os.devnull)


class _LogFile(logging.Handler):
    """Library warnings and errors go to the log file, opened at the first record."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            with open(log_file(), "a") as handle:
                handle.write(self.format(record) + "\n")
        except OSError:
            pass


def _quiet_libraries() -> None:
    handler = _LogFile(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.captureWarnings(True)
    warnings.simplefilter("default")


def write_trace(exc: BaseException) -> Path:
    """The full trace of ``exc`` (with its causes) into the log file; returns its path."""
    path = log_file()
    try:
        with open(path, "a") as handle:
            handle.write(f"bench-pipeline {' '.join(sys.argv[1:])}\n{datetime.now(UTC).isoformat()}\n")
            handle.write("".join(traceback.format_exception(exc)))
            for note in getattr(exc, "traces", ()):  # traces of failed Dagster steps
                handle.write(f"\n{note}\n")
    except OSError:
        pass
    return path


def _one_line(text: str, limit: int = 400) -> str:
    flat = "; ".join(part.strip() for part in str(text).splitlines() if part.strip())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


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
    """Turns every failure into at most three lines (what, fix, log file) and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        _quiet_libraries()
        try:
            if problem := paths.home_problem():  # (--help never gets here)
                raise BenchError(
                    f"BENCH_PIPELINE_HOME: {problem}",
                    fix="point BENCH_PIPELINE_HOME at a writable directory (it is created if missing)",
                )
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BenchError as exc:
            trace = write_trace(exc)
            text = f"{exc.where}: {exc.message}" if exc.where else exc.message
            err.print(f"error: {_one_line(text)}", soft_wrap=True, markup=False)
            if exc.fix:
                err.print(f"  fix: {_one_line(exc.fix, 300)}", soft_wrap=True, markup=False)
            err.print(f"  log: {trace}", soft_wrap=True, markup=False)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            err.print("interrupted")
            sys.exit(130)
        except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as other tools do
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(0)
        except Exception as exc:  # a bug or an environment we did not foresee: still no traceback
            trace = write_trace(exc)
            err.print(
                f"error: unexpected {type(exc).__name__}: {_one_line(str(exc), 300)}",
                soft_wrap=True,
                markup=False,
            )
            err.print(
                f"  log: {trace} (the full trace; include it when you report this)",
                soft_wrap=True,
                markup=False,
            )
            sys.exit(EXIT_UNEXPECTED)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bench-pipeline")
def main() -> None:
    """Continuous benchmarking of command-line tools (jj, git, git worktrees, any CLI).

    Data live in $BENCH_PIPELINE_HOME (default ./data): the DuckDB store, landing files,
    fixtures and reports.
    """
