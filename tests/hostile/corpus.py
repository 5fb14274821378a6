"""The hostile-input corpus, generated (never committed as files): suite YAML, one family of broken
files per ingestion format, CLI flags and API payloads (issue 17).

Every generator yields ``(name, content)`` pairs that bench-pipeline must refuse: exit code ≠ 0 (or
HTTP 4xx), at most three lines of error naming the input and the fix, no traceback, and nothing
stored. Sizes stay small (a few MB at most) so the suite runs in seconds; what would be large
(billion laughs, deep nesting, 200³ parameters) is large only once expanded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "ingest"
HUGE_INT = "9" * 5000
EXTREME_TIMES = ("9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "1969-12-31T23:59:59Z")

#: one well-formed file per ingestion format, mutated below
SEEDS: dict[str, str] = {
    "hyperfine": "hyperfine.json",
    "criterion": "criterion/fib/recursive/5/new/estimates.json",
    "cargo-criterion": "cargo-criterion.jsonl",
    "pytest-benchmark": "pytest-benchmark.json",
    "gbench": "gbench.json",
    "gotest": "gotest.txt",
    "bmf": "bmf.json",
    "bundle": "bundle-run.json",
    "native": "native-export.json",
    "jmh": "jmh.json",
    "benchmarkdotnet": "benchmarkdotnet.json",
    "catch2": "catch2.txt",
    "benchmarkjs": "benchmarkjs.txt",
    "vitest": "vitest.json",
    "asv": "asv-results/demo-machine/77c1a282-existing-py_work_wt19_.venv_bin_python.json",
    "ruby-benchmark": "ruby-benchmark-bm.txt",
    "dart-benchmark": "dart-benchmark.txt",
    "libtest": "rust-libtest.txt",
    "criterion-text": "criterion-text.txt",
    "iai-callgrind": "iai-callgrind.txt",
}
JSON_FORMATS = {f for f, seed in SEEDS.items() if seed.endswith(".json")}
#: formats whose files carry a time of day (the timestamp rule)
TIMED_FIELDS = {
    "pytest-benchmark": "datetime",
    "gbench": "context.date",
    "bundle": "started_at",
    "native": "run.started_at",
}
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")


# ---------------------------------------------------------------------------------------- suite YAML
def suite_cases() -> Iterator[tuple[str, str]]:
    head = "name: hostile\ntools:\n  t: {version: [t, --version]}\n"
    op = "operations:\n  - name: op\n    commands:\n      t: {run: [echo, hi]}\n"
    laughs = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    yield "billion-laughs-unknown-key", head + op + laughs
    yield (
        "billion-laughs-in-requires",
        head.replace("t: {version", "t: {requires: *i, version").replace(
            "name: hostile\n", "name: hostile\n" + laughs.replace("\n", "\n")
        )
        + op,
    )
    yield "recursive-anchor", head + op + "description: &r [*r]\n"
    yield "deep-nesting", head + op + "description: " + "[" * 20_000 + "]" * 20_000 + "\n"
    yield "duplicate-key", head + "name: other\n" + op
    yield "duplicate-tool", head + "  t: {version: [t2, --version]}\n" + op
    values = ", ".join(str(i) for i in range(200))
    yield (
        "params-200-cubed",
        head
        + op.replace(
            "    commands:", f"    params: {{a: [{values}], b: [{values}], c: [{values}]}}\n    commands:"
        ).replace("[echo, hi]", '[echo, "${a}", "${b}", "${c}"]'),
    )
    yield "not-a-mapping", "- just\n- a list\n"
    yield "not-yaml", "name: [unclosed\n"
    yield "path-traversal-name", head.replace("name: hostile", "name: ../../etc") + op
    yield "unknown-tool", head + op.replace("      t: {run", "      nope: {run")
    yield "binary", "\x00\x01\x02 garbage"


# ---------------------------------------------------------------------------------------- ingestion
def _nest(depth: int) -> str:
    return "[" * depth + "]" * depth


def ingest_cases(fmt: str) -> Iterator[tuple[str, bytes]]:
    """Broken variants of the format's seed file (all refused when given with ``--format fmt``)."""
    seed = (DATA / SEEDS[fmt]).read_bytes()
    text = seed.decode("utf-8")
    yield "empty", b""
    yield "binary", bytes(range(256)) * 16
    yield "not-utf8", seed[:40] + b"\xff\xfe\xfd" + seed[40:]
    if fmt in JSON_FORMATS or fmt == "cargo-criterion":
        yield "truncated", seed[: len(seed) // 2]
        yield "deep-nesting", _nest(100_000).encode()
        yield "nan", _replace_first_number(text, "NaN").encode()
        yield "huge-integer", _replace_first_number(text, HUGE_INT).encode()
        yield "wrong-top-level", b'"just a string"'
    else:
        yield "huge-numbers", NUMBER.sub(HUGE_INT + ".5", text).encode()
        yield "no-results", b"nothing that looks like a benchmark result\n" * 10
    if fmt in TIMED_FIELDS:
        for when in EXTREME_TIMES:
            yield f"time-{when}", _set_time(fmt, text, when).encode()


def _replace_first_number(text: str, value: str) -> str:
    """The seed with its first JSON number (not a digit inside a string) written as ``value``."""
    first = text.splitlines()[0] if text.lstrip().startswith("{") and "\n{" in text else None
    doc = json.loads(first if first and _is_jsonl(text) else text)

    def mark(node: object) -> bool:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, item in items:
            if isinstance(item, int | float) and not isinstance(item, bool):
                node[key] = "__HOSTILE__"  # type: ignore[index]
                return True
            if mark(item):
                return True
        return False

    assert mark(doc), "the seed has a number"
    marked = json.dumps(doc).replace('"__HOSTILE__"', value)
    return marked + "\n" + "\n".join(text.splitlines()[1:]) if first and _is_jsonl(text) else marked


def _is_jsonl(text: str) -> bool:
    try:
        json.loads(text)
        return False
    except json.JSONDecodeError:
        return True


def _set_time(fmt: str, text: str, when: str) -> str:
    doc = json.loads(text)
    node = doc
    *parents, last = TIMED_FIELDS[fmt].split(".")
    for key in parents:
        node = node[key]
    node[last] = when
    return json.dumps(doc)


# ---------------------------------------------------------------------------------------- CLI flags
def cli_cases(hyperfine: Path) -> Iterator[tuple[str, list[str]]]:
    for when in EXTREME_TIMES:
        yield f"ingest --started-at {when}", ["ingest", str(hyperfine), "--started-at", when]
    yield "ingest --started-at not-a-time", ["ingest", str(hyperfine), "--started-at", "yesterday"]
    yield "ingest --run-id ../x", ["ingest", str(hyperfine), "--run-id", "../x"]
    yield "ingest --suite 'a b'", ["ingest", str(hyperfine), "--suite", "a b"]
    yield "ingest missing file", ["ingest", "/nonexistent/file.json"]
    yield "ingest a directory of nothing", ["ingest", "/proc/self/fdinfo"]
    for as_of in ("0001-01-01", "9999-12-31", "1969-12-31", "2024-13-45"):
        yield f"tier --as-of {as_of}", ["tier", "--as-of", as_of]
    for ref in (
        "latest~-1",
        "latest~99999999999999999999999",
        "latest~1000000",
        "tag:",
        "../../etc",
        "latest~x",
    ):
        yield f"report --run {ref}", ["report", "--suite", "hyperfine", "--run", ref]
    yield "compare --baseline latest~-1", ["compare", "--suite", "hyperfine", "--baseline", "latest~-1",
                                            "--candidate", "latest"]  # fmt: skip
    yield "measure --timeout -1", ["measure", "--timeout", "-1", "--", "true"]
    yield "measure --timeout nan", ["measure", "--timeout", "nan", "--", "true"]
    yield "measure --timeout inf", ["measure", "--timeout", "inf", "--", "true"]
    yield "measure -- /nonexistent/bin", ["measure", "--runs", "1", "--warmup", "0", "--", "/nonexistent/bin"]
    yield "measure --runs 0", ["measure", "--runs", "0", "--", "true"]


# ---------------------------------------------------------------------------------------- API payloads
def api_cases() -> Iterator[tuple[str, str]]:
    def run(**extra: object) -> dict:
        return {
            "run_id": "hostile-1",
            "suite": "s",
            "tool": "t",
            "samples": [{"operation": "o", "wall_ns": 5}],
            **extra,
        }

    for when in EXTREME_TIMES:
        yield f"started_at {when}", json.dumps(run(started_at=when))
    yield "finished_at year 10000", json.dumps(run(finished_at="9999-12-31T23:59:59-12:00"))
    yield "huge integer", json.dumps(run()).replace('"wall_ns": 5', f'"wall_ns": {HUGE_INT}')
    yield "NaN", json.dumps(run()).replace('"wall_ns": 5', '"wall_ns": NaN')
    yield "negative time", json.dumps(run()).replace('"wall_ns": 5', '"wall_ns": -5')
    yield (
        "deep nesting",
        json.dumps(run()).replace('"tool": "t"', f'"tool": "t", "metadata": {{"x": {_nest(50_000)}}}'),
    )
    yield "run id traversal", json.dumps(run(run_id="../../etc/passwd"))
    yield "no samples", json.dumps({"run_id": "hostile-2", "suite": "s", "tool": "t", "samples": []})
    yield "not json", "{'run_id': 1"
    yield "same run twice in a batch", json.dumps({"batch_id": "b1", "runs": [run(), run(tool="u")]})
