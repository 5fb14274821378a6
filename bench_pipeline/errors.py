"""Exception families of bench-pipeline, each carrying what went wrong, where, and the fix.

The CLI turns any ``BenchError`` into one clear message and a non-zero exit code;
only unexpected failures produce a traceback.
"""

from __future__ import annotations


class BenchError(Exception):
    """Base of every expected failure.

    ``where`` names the file / field / object concerned, ``fix`` tells the user what to do.
    """

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.message = message
        self.where = where
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text


class SuiteError(BenchError):
    """A suite file is missing, malformed or inconsistent."""


class FixtureError(BenchError):
    """A fixture could not be generated or found."""


class ToolUnavailable(BenchError):
    """A tool a suite needs is not installed / not runnable here."""


class BackendUnavailable(BenchError):
    """The requested execution backend (e.g. Docker) cannot be used here."""


class RunnerError(BenchError):
    """The measurement runner failed (not the measured command: that is recorded as a sample)."""


class StoreError(BenchError):
    """The DuckDB store or the landing area cannot be read or written."""


class IngestError(BenchError):
    """An external result file or payload is malformed, hostile or unsupported."""


class RunNotFound(BenchError):
    """A run reference (id, latest, latest~N, tag:NAME) matches no run."""


class BuildError(BenchError):
    """A tool's source cannot be fetched, a revision names no commit, or a build failed."""


class BisectError(BenchError):
    """A bisection cannot start or cannot decide (the bad revision is no regression, no commits between)."""


class FleetError(BenchError):
    """The fleet (hosts, queues, the broker) is misconfigured, or a host did not answer."""
