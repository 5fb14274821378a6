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
        return self.after_restore(size, root)

    def after_restore(self, size: str, root: str) -> str:
        """The tool's after_restore steps on a copy at ``root``; an error text or ''."""
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


def _steps(
    session: ToolSession, steps: list[list[str]], cwd: str, values: dict[str, str], where: str, timeout: float
) -> list[dict]:
    return [
        {
            "argv": expand_argv(argv, values, where=f"{where}[{i}]"),
            "cwd": cwd,
            "env": session.env(values),
            "timeout_s": timeout,
            "name": f"{where}[{i}]",
        }
        for i, argv in enumerate(steps)
    ]


def _step_error(reply: dict, steps: list[dict]) -> str:
    index = reply.get("failed_step") or 0
    part = reply.get(reply["failed"]) or []
    failed = part[index] if index < len(part) else {}
    step = steps[index] if index < len(steps) else {"name": reply["failed"], "argv": []}
    return (
        f"{step['name']} `{' '.join(step['argv'])}` exited {failed.get('exit_code')}: "
        f"{str(failed.get('stderr_tail') or '').strip()[-300:]}"
    )


def measure_once(session: ToolSession, cell: Cell, settings: EffectiveSettings) -> dict:
    """One sample of a cell in one worker round trip (the runner's ``sample`` op): a fresh copy of
    the fixture and the tool's after_restore steps (mutating operations), the prepare steps, the
    timed run, the state probes (once per cell, after a success) and the conclude steps."""
    op, cmd, size = cell.operation, cell.command, cell.fixture
    assert cmd is not None
    tool = session.suite.tools[cell.tool]
    root = session.scratch[size] if op.mutating else session.shared[size]
    values = session.values(size, root, op.name, op.param_values)
    where = f"{session.suite.source}: operations.{op.base or op.name}.commands.{cell.tool}"
    cwd = expand(cmd.cwd, values, where=f"{where}.cwd") if cmd.cwd else values["repo"]
    if not str(cwd).startswith("/"):
        cwd = str(PurePosixPath(root) / cwd)
    before: list[dict] = []
    restore = None
    if op.mutating:
        restore = {"src": session.pristine[size], "dst": root}
        restored = session.values(size, root, "restore")
        before += _steps(
            session,
            tool.after_restore,
            root,
            restored,
            f"{session.suite.source}: tools.{cell.tool}.after_restore",
            120,
        )
    before += _steps(
        session,
        cmd.prepare if cmd.prepare is not None else op.prepare,
        cwd,
        values,
        f"{where}.prepare",
        settings.timeout_s,
    )
    after = _steps(
        session,
        cmd.conclude if cmd.conclude is not None else op.conclude,
        cwd,
        values,
        f"{where}.conclude",
        settings.timeout_s,
    )
    probes = None
    if op.equivalence and not cell.probes:
        probes = []
        for name in op.equivalence:
            spec = cmd.probes.get(name) or tool.probes[name]
            argv = ["sh", "-c", spec] if isinstance(spec, str) else list(spec)
            probes.append(
                {
                    "argv": expand_argv(argv, values, where=f"{where}.probes.{name}"),
                    "cwd": cwd,
                    "env": session.env(values),
                    "timeout_s": 60,
                    "name": name,
                }
            )
    argv = expand_argv(cmd.argv(), values, where=f"{where}.run")
    request = session.worker.exec_request(
        argv, cwd, session.env(values), settings.timeout_s, expect_exit=cmd.expect_exit
    )
    reply = session.worker.sample(request, restore=restore, prepare=before, conclude=after, probe=probes)
    if reply.get("restore"):
        session.restore_methods[str(reply["restore"].get("method", "copy"))] += 1
    if reply.get("failed") == "prepare" or reply.get("exec") is None:
        return {
            "prepare_error": _step_error(reply, before)
            if reply.get("failed") == "prepare"
            else "no timed run"
        }
    result = dict(reply["exec"])
    result["ok"] = bool(reply.get("exec_ok"))
    if reply.get("probe") is not None and result["ok"]:
        cell.probes = {
            p["name"]: p["stdout"]
            if p["exit_code"] == 0
            else f"!probe exited {p['exit_code']}: {str(p.get('stderr_tail') or '')[-200:]}"
            for p in reply["probe"]
        }
    if reply.get("failed") == "conclude":
        result["ok"] = False
        result["stderr_tail"] = _step_error(reply, after)
    return result
