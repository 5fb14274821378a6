"""The composite GitHub Action (action.yml), offline: its shell steps run as the runner runs them
(``bash --noprofile --norc -eo pipefail``, inputs and step outputs through ``env``, ``GITHUB_ENV`` /
``GITHUB_PATH`` / ``GITHUB_OUTPUT`` files between steps, each ``if:`` evaluated) with the ``GITHUB_*``
variables of a pull_request event set. The install goes into a new environment from uv's cache
(``UV_OFFLINE``), the suite is tests/data/mini.yaml, and the GitHub API is a local HTTP server that
records the comment it is sent."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

from bench_pipeline.report.github import COMMENT_LIMIT
from tests.conftest import DATA, ROOT

pytestmark = pytest.mark.integration
EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")
CONDITION = re.compile(r"^([\w.-]+)\s*(==|!=)\s*'([^']*)'$")


class Context:
    """The expression contexts a step sees: inputs, github, steps.<id>.outputs."""

    def __init__(self, inputs: dict[str, str], github: dict[str, str]) -> None:
        self.values = {
            **{f"inputs.{k}": v for k, v in inputs.items()},
            **{f"github.{k}": v for k, v in github.items()},
        }

    def value(self, name: str) -> str:
        assert name in self.values or name.startswith("steps."), (
            f"action.yml uses an unknown expression: {name}"
        )
        return self.values.get(name, "")

    def substitute(self, text: str) -> str:
        return EXPRESSION.sub(lambda m: self.value(m.group(1)), str(text))

    def holds(self, condition: str | None) -> bool:
        """``a == 'x' && b != ''``: the only form action.yml's ``if:`` uses."""
        if condition is None:
            return True
        for part in condition.split("&&"):
            match = CONDITION.match(part.strip())
            assert match, f"unsupported condition {part!r}"
            name, op, literal = match.groups()
            if (self.value(name) == literal) != (op == "=="):
                return False
        return True


class FakeGitHub(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        FakeGitHub.received.append(
            {"path": self.path, "auth": self.headers["Authorization"], "body": json.loads(body)}
        )
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"id": 1}')

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def github_api():
    server = HTTPServer(("127.0.0.1", 0), FakeGitHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeGitHub.received = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _action() -> dict:
    return yaml.safe_load((ROOT / "action.yml").read_text())


def _run_steps(action: dict, ctx: Context, env: dict[str, str], tmp: Path) -> list[tuple[str, int]]:
    """Every step whose ``if:`` holds, as the runner would run it; (name, exit code) of each."""
    ran = []
    for index, step in enumerate(action["runs"]["steps"]):
        if not ctx.holds(step.get("if")):
            continue
        files = {k: tmp / f"{k.lower()}-{index}" for k in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH")}
        for f in files.values():
            f.write_text("")
        step_env = {**env, **{k: str(v) for k, v in files.items()}}
        step_env |= {k: ctx.substitute(v) for k, v in (step.get("env") or {}).items()}
        script = tmp / f"step-{index}.sh"
        script.write_text(step["run"])
        assert step["shell"] == "bash"
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                              env=step_env, cwd=tmp, capture_output=True, text=True, timeout=900)  # fmt: skip
        ran.append((step["name"], proc.returncode))
        if step["name"] != "Exit as bench-pipeline did":
            assert proc.returncode == 0, f"{step['name']}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        for line in files["GITHUB_OUTPUT"].read_text().splitlines():
            key, _, value = line.partition("=")
            ctx.values[f"steps.{step.get('id')}.outputs.{key}"] = value
        for line in files["GITHUB_ENV"].read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = value
        for line in files["GITHUB_PATH"].read_text().splitlines():
            env["PATH"] = f"{line}{os.pathsep}{env['PATH']}"
    return ran


def test_action_installs_runs_a_suite_and_posts_the_summary(tmp_path, github_api, git_required):
    action = _action()
    inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    inputs |= {
        "suite": str(DATA / "mini.yaml"),
        "args": "--quick --backend local",
        "home": str(tmp_path / "home"),
    }
    ctx = Context(inputs, {"action_path": str(ROOT), "token": "t0ken", "event_name": "pull_request"})
    ctx.values["inputs.github-token"] = ctx.substitute(inputs["github-token"])  # default: ${{ github.token }}
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}))
    summary = tmp_path / "step-summary.md"
    summary.write_text("")
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if "/.venv/" not in p + "/")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("BENCH_PIPELINE_", "GITHUB_", "VIRTUAL_ENV"))
    }
    env |= {
        "PATH": path, "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event), "GITHUB_REPOSITORY": "owner/repo", "GITHUB_API_URL": github_api,
        "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTION_PATH": str(ROOT), "GITHUB_WORKSPACE": str(ROOT),
        "RUNNER_TEMP": str(tmp_path), "UV_PROJECT_ENVIRONMENT": str(tmp_path / "venv"), "UV_OFFLINE": "1",
    }  # fmt: skip
    ran = _run_steps(action, ctx, env, tmp_path)

    assert [name for name, _ in ran] == [
        "Install bench-pipeline", "Run the suite", "Post the pull-request comment", "Exit as bench-pipeline did",
    ]  # fmt: skip
    assert ran[-1][1] == 0 and ctx.value("steps.run.outputs.exit-code") == "0"
    assert env["PATH"].startswith(str(tmp_path / "venv" / "bin"))  # the action's own environment
    comment_file = Path(ctx.value("steps.run.outputs.comment-file"))
    run_id = ctx.value("steps.run.outputs.run-id")
    assert comment_file == tmp_path / "home" / "reports" / "mini" / run_id / "comment.md"
    assert Path(ctx.value("steps.run.outputs.report-html")).exists()
    comment = comment_file.read_text()
    assert len(comment) <= COMMENT_LIMIT and comment.startswith(
        f"## bench-pipeline: mini run `{run_id}` succeeded"
    )
    assert "Regression gate: quick run: not gated" in comment and "## Findings" in comment
    assert summary.read_text() == comment  # the step summary
    (posted,) = FakeGitHub.received
    assert posted == {
        "path": "/repos/owner/repo/issues/7/comments",
        "auth": "Bearer t0ken",
        "body": {"body": comment},
    }


@pytest.mark.parametrize(
    ("code", "fail_on_regression", "expected"),
    [("0", "true", 0), ("3", "true", 3), ("3", "false", 0), ("2", "false", 2), ("", "true", 1)],
)
def test_the_last_step_keeps_the_exit_code(tmp_path, code, fail_on_regression, expected):
    (step,) = [s for s in _action()["runs"]["steps"] if s["name"] == "Exit as bench-pipeline did"]
    script = tmp_path / "exit.sh"
    script.write_text(step["run"])
    env = {"PATH": os.environ["PATH"], "CODE": code, "FAIL_ON_REGRESSION": fail_on_regression}
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], env=env, capture_output=True
    )
    assert proc.returncode == expected


def test_the_comment_is_posted_only_on_pull_requests():
    (step,) = [s for s in _action()["runs"]["steps"] if s["name"] == "Post the pull-request comment"]
    base = {"comment": "true"}
    outputs = {"steps.run.outputs.comment-file": "/x/comment.md"}
    for event, comment, expected in (
        ("pull_request", "true", True),
        ("push", "true", False),
        ("pull_request", "false", False),
    ):
        ctx = Context({**base, "comment": comment}, {"event_name": event})
        ctx.values |= outputs
        assert ctx.holds(step["if"]) is expected
    no_file = Context(base, {"event_name": "pull_request"})
    assert no_file.holds(step["if"]) is False  # the run wrote no comment (it failed early)
