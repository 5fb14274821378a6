"""A tool's session in a run: its worker, the paths and template values of its fixtures in the
worker's view, and one sample of a cell (untimed restore and prepare steps, the timed run, the
untimed conclude steps and state probes)."""

from __future__ import annotations

from collections import Counter
from pathlib import PurePosixPath

from bench_pipeline.execution.backends import Worker
from bench_pipeline.execution.plan import Cell, EffectiveSettings
from bench_pipeline.fixtures.tool import ToolFixture
from bench_pipeline.suite import Suite, expand, expand_argv
from bench_pipeline.suite.determinism import command_env


class ToolSession:
    """A tool's worker plus the paths and template values of its fixtures, in the worker's view."""

    def __init__(self, suite: Suite, tool: str, worker: Worker, fixtures: dict[str, ToolFixture]) -> None:
        self.suite = suite
        self.tool = tool
        self.worker = worker
        self.fixtures = fixtures
        self.seed = 0
        self.restore_methods: Counter[str] = Counter()  # how each fresh copy was made
        w = PurePosixPath(worker.work_root)
        self.home = str(w / "home")
        self.pristine = {
            size: str(PurePosixPath(worker.fixture_root) / f.dir_name / "root")
            for size, f in fixtures.items()
        }
        self.shared = {size: str(w / size / "shared") for size in fixtures}
        self.scratch = {size: str(w / size / "mutable") for size in fixtures}

    def restore(self, size: str, root: str) -> str:
        """A fresh copy of the pristine fixture at ``root``, fixed up by the tool's after_restore steps."""
        reply = self.worker.restore(self.pristine[size], root)
        self.restore_methods[str(reply.get("method", "copy"))] += 1
        values = self.values(size, root, "restore")
        where = f"{self.suite.source}: tools.{self.tool}.after_restore"
        return run_steps(self, self.suite.tools[self.tool].after_restore, root, values, where, 120)

    def env(self, values: dict[str, str]) -> dict[str, str]:
        self.seed += 1
        return command_env(
            self.suite,
            self.tool,
            home=self.home,
            path=self.worker.path,
            seed=self.seed,
            values=values,
            backend_env=self.worker.env,
        )

    def values(self, size: str, root: str, op: str, params: dict | None = None) -> dict[str, str]:
        tool = self.suite.tools[self.tool]
        return {
            **self.fixtures[size].vars,
            "root": root,
            "repo": str(PurePosixPath(root) / tool.workdir),
            "work": self.worker.work_root,
            "src": str(PurePosixPath(self.pristine[size]) / tool.source),
            "tool": self.tool,
            "operation": op,
            "fixture": size,
            **{k: str(v) for k, v in (params or {}).items()},
        }


def probe_state(
    session: ToolSession, cell: Cell, cwd: str, values: dict[str, str], where: str
) -> dict[str, str]:
    """Run the operation's state probes (untimed) right after a successful timed run."""
    assert cell.command is not None
    out = {}
    for name in cell.operation.equivalence:
        spec = cell.command.probes.get(name) or session.suite.tools[cell.tool].probes[name]
        argv = ["sh", "-c", spec] if isinstance(spec, str) else list(spec)
        argv = expand_argv(argv, values, where=f"{where}.probes.{name}")
        res = session.worker.capture(argv, cwd, session.env(values), 60)
        out[name] = (
            res["stdout"]
            if res["exit_code"] == 0
            else f"!probe exited {res['exit_code']}: {res['stderr_tail'][-200:]}"
        )
    return out


def check_tool(session: ToolSession) -> tuple[str | None, str]:
    """(version, "") when the tool runs in its worker, else (None, reason)."""
    tool = session.suite.tools[session.tool]
    # tool env may use template names (e.g. JJ_CONFIG under ${root}): resolve them as for a command
    size = next(iter(session.fixtures), None)
    env = session.env(session.values(size, session.shared[size], "version") if size else {})
    for exe in tool.requires:
        probe = session.worker.capture(["sh", "-c", f'command -v "{exe}"'], session.worker.work_root, env, 10)
        if probe["exit_code"] != 0:
            return None, f"{exe!r} not found on PATH in the {session.worker.description} worker"
    res = session.worker.capture(tool.version, session.worker.work_root, env, 30)
    if res["exit_code"] != 0:
        return (
            None,
            f"`{' '.join(tool.version)}` failed (exit {res['exit_code']}): {res['stderr_tail'].strip()[:200]}",
        )
    return res["stdout"].strip().splitlines()[0] if res["stdout"].strip() else "unknown", ""


def run_steps(
    session: ToolSession,
    steps: list[list[str]],
    cwd: str,
    values: dict[str, str],
    where: str,
    timeout: float,
) -> str:
    """Run untimed prepare/conclude steps; return an error text or ''."""
    for i, argv in enumerate(steps):
        cmd = expand_argv(argv, values, where=f"{where}[{i}]")
        res = session.worker.capture(cmd, cwd, session.env(values), timeout)
        if res["exit_code"] != 0:
            return f"{where}[{i}] `{' '.join(cmd)}` exited {res['exit_code']}: {res['stderr_tail'].strip()[-300:]}"
    return ""


def measure_once(session: ToolSession, cell: Cell, settings: EffectiveSettings) -> dict:
    """One untimed preparation plus one timed run of a cell; returns the runner's result."""
    op, cmd, size = cell.operation, cell.command, cell.fixture
    assert cmd is not None
    root = session.scratch[size] if op.mutating else session.shared[size]
    if op.mutating:
        error = session.restore(size, root)
        if error:
            return {"prepare_error": error}
    values = session.values(size, root, op.name, op.param_values)
    where = f"{session.suite.source}: operations.{op.base or op.name}.commands.{cell.tool}"
    cwd = expand(cmd.cwd, values, where=f"{where}.cwd") if cmd.cwd else values["repo"]
    if not str(cwd).startswith("/"):
        cwd = str(PurePosixPath(root) / cwd)
    error = run_steps(
        session,
        cmd.prepare if cmd.prepare is not None else op.prepare,
        cwd,
        values,
        f"{where}.prepare",
        settings.timeout_s,
    )
    if error:
        return {"prepare_error": error}
    argv = expand_argv(cmd.argv(), values, where=f"{where}.run")
    result = session.worker.exec(argv, cwd, session.env(values), settings.timeout_s)
    result["ok"] = (not result["timed_out"]) and result["exit_code"] in cmd.expect_exit
    if op.equivalence and result["ok"] and not cell.probes:
        cell.probes = probe_state(session, cell, cwd, values, where)
    conclude_error = run_steps(
        session,
        cmd.conclude if cmd.conclude is not None else op.conclude,
        cwd,
        values,
        f"{where}.conclude",
        settings.timeout_s,
    )
    if conclude_error:
        result["ok"] = False
        result["stderr_tail"] = conclude_error
    return result
