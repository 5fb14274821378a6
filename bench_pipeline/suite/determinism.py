"""The environment every measured command runs in: no pager, no colour, no user config, fixed
identities and dates, so that tools do the same work on every run (SPEC §4.4).

Suites add their own variables (e.g. ``JJ_CONFIG``); values may use ``${seed}``, which changes
for every command (a constant jj randomness seed would make change ids collide).
"""

from __future__ import annotations

from bench_pipeline.suite import Suite, expand

BASE_ENV = {
    "LC_ALL": "C",
    "LANG": "C",
    "TZ": "UTC",
    "TERM": "dumb",
    "NO_COLOR": "1",
    "PAGER": "cat",
    "GIT_PAGER": "cat",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "Bench Author",
    "GIT_AUTHOR_EMAIL": "author@bench.invalid",
    "GIT_COMMITTER_NAME": "Bench Committer",
    "GIT_COMMITTER_EMAIL": "committer@bench.invalid",
    "GIT_AUTHOR_DATE": "1700000000 +0000",
    "GIT_COMMITTER_DATE": "1700000000 +0000",
    "GIT_EDITOR": "true",
    "GIT_SEQUENCE_EDITOR": "true",
    "EDITOR": "true",
    "VISUAL": "true",
}


def command_env(
    suite: Suite,
    tool: str,
    *,
    home: str,
    path: str,
    seed: int,
    values: dict[str, str],
    backend_env: dict[str, str] | None = None,
) -> dict[str, str]:
    """The full environment of one command of ``tool`` (nothing inherited from the caller).

    Layers, later ones winning: the deterministic base, the backend's own variables (the Docker
    backend points ``GIT_CONFIG_GLOBAL`` at a config that trusts the fixture mount), then the
    suite's and the tool's ``env``.
    """
    env = dict(BASE_ENV)
    env.update(backend_env or {})
    env["HOME"] = home
    env["PATH"] = path
    scope = {**values, "seed": str(seed)}
    for source, extra in (
        (f"suite {suite.name} env", suite.env),
        (f"tool {tool} env", suite.tools[tool].env),
    ):
        for key, value in extra.items():
            env[key] = expand(value, scope, where=f"{source}.{key}")
    return env
