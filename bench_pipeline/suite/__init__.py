"""Suite files: the YAML that says which tools perform which operations on which fixtures.

A suite is data (SPEC §3). This module holds its pydantic models, loads and validates a file
with errors that name the file, the line, the field and the fix, and expands the ``${name}``
templates of commands. See ``docs/suite-format.md`` for the format.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import string
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bench_pipeline.errors import SuiteError
from bench_pipeline.paths import suite_dirs
from bench_pipeline.safe_yaml import MAX_BYTES as MAX_YAML_BYTES
from bench_pipeline.safe_yaml import YamlProblem, load_yaml
from bench_pipeline.suite.build import Build, split_tool, valid_tool_rev
from bench_pipeline.suite.vars import KNOWN_VARS

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SIZES = ("small", "medium", "large")
#: cells a suite may plan: parameter ranges multiply, so they are bounded before anything expands them
MAX_COMBINATIONS = 1000  # per parameterised operation
MAX_OPERATIONS = 5000  # per suite, parameter combinations counted

Argv = list[str]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_name(value: str, what: str) -> str:
    if not NAME_RE.match(value):
        raise ValueError(
            f"{what} {value!r} must be 1-64 characters of letters, digits, '_', '.', '-' "
            "and start with a letter or digit (it becomes a partition key and a file name)"
        )
    return value


CpuCount = Annotated[int, Field(ge=1, strict=True)]  # strict: `cpus: true` is no count
CpuList = Annotated[list[Annotated[int, Field(ge=0, strict=True)]], Field(min_length=1)]


class Settings(_Strict):
    """Run settings; ``quick`` overrides some of them for ``--quick`` runs."""

    warmup: int = Field(1, ge=0, le=100)
    min_runs: int = Field(5, ge=1, le=10_000)
    max_runs: int = Field(30, ge=1, le=100_000)
    target_ci: float = Field(
        0.02, gt=0, lt=1, description="target relative half-width of the median's 95% CI"
    )
    time_budget_s: float = Field(900, gt=0)
    timeout_s: float = Field(60, gt=0)
    delta: float = Field(0.03, gt=0, lt=1, description="practical margin of verdicts")
    fdr_share: float = Field(
        0.8,
        gt=0,
        le=1,
        description=(
            "γ: pairs are decided at γ·α, so Benjamini–Hochberg keeps every decision whenever at least "
            "this share of the run's pairs is decided (docs/methods.md); set it to the share a run "
            "expects to decide (small suites: 0.5)"
        ),
    )
    decide_on: Literal["wall", "cpu"] = Field(
        "wall",
        description=(
            "the metric tool pairs are sampled to a verdict on: wall time, or CPU time (user + sys), "
            "which other tenants of a shared machine disturb less, for tools that compute rather "
            "than wait"
        ),
    )
    profile: Literal["micro", "small", "medium", "large", "xlarge"] = "medium"
    sizes: list[Literal["small", "medium", "large"]] = Field(default_factory=lambda: ["small"])  # type: ignore[arg-type]
    keep_raw: bool = False
    adaptive_runs: bool = Field(
        True, description="with ≥ 3 earlier full runs, each cell's min_runs follows its historical CV"
    )
    parallel: int = Field(
        1,
        ge=1,
        le=64,
        description="tools measured at the same time; 1 (default) never overlaps measurements (noise)",
    )
    cpus: CpuCount | CpuList | None = Field(
        None,
        description=(
            "CPUs every measured command is pinned to, the same for every tool: a count (the last N "
            "CPUs the backend measures on) or a list of CPU numbers; default every CPU. One CPU "
            "makes run-to-run noise much smaller on a small shared machine, but measures threaded "
            "tools as single-core ones"
        ),
    )

    stdout: Literal["pipe", "devnull"] = Field(
        "pipe",
        description=(
            "where measured commands' stdout goes: `pipe` (default) counts its bytes (stdout_bytes) "
            "without a reader in the command's path; `devnull` sends it to /dev/null as `hyperfine -N` "
            "does, uncounted: commands that write much (git log) measure 2–4 % faster, as there"
        ),
    )

    @model_validator(mode="after")
    def _runs_ordered(self) -> Settings:
        if self.max_runs < self.min_runs:
            raise ValueError(f"max_runs ({self.max_runs}) must be >= min_runs ({self.min_runs})")
        return self


class QuickSettings(_Strict):
    warmup: int = Field(1, ge=0)
    min_runs: int = Field(3, ge=1)
    max_runs: int = Field(5, ge=1)
    time_budget_s: float = Field(110, gt=0)
    sizes: list[Literal["small", "medium", "large"]] = Field(default_factory=lambda: ["small"])  # type: ignore[arg-type]


class Tool(_Strict):
    """A competing tool: how to ask its version, how to prepare a fixture for it, where it works."""

    version: Argv = Field(description="argv printing the tool's version")
    requires: list[str] = Field(default_factory=list, description="executables that must exist")
    setup: list[Argv] = Field(
        default_factory=list, description="run once in ${root} on a copy of the fixture"
    )
    after_restore: list[Argv] = Field(
        default_factory=list,
        description="untimed, after every copy of the pristine fixture (e.g. `git worktree repair`: worktrees record absolute paths)",
    )
    probes: dict[str, Argv | str] = Field(
        default_factory=dict,
        description="named state probes: print a canonical view of the resulting state (a string runs under sh -c)",
    )
    workdir: str = Field("repo", description="directory (relative to ${root}) commands run in")
    source: str = Field(
        "repo", description="repository (relative to ${root}) that ${src} names, e.g. for clones"
    )
    env: dict[str, str] = Field(default_factory=dict)
    build: Build | None = Field(
        None, description="how to build the tool when it is missing, or at a revision (suite/build.py)"
    )

    @field_validator("workdir", "source")
    @classmethod
    def _relative(cls, v: str) -> str:
        if v.startswith("/") or ".." in Path(v).parts:
            raise ValueError(f"workdir {v!r} must be a relative path inside the tool's root")
        return v


class ToolCommand(_Strict):
    """How one tool performs one operation."""

    run: Argv | str
    shell: bool = False
    prepare: list[Argv] | None = None
    conclude: list[Argv] | None = None
    cwd: str | None = None
    expect_exit: list[int] = Field(default_factory=lambda: [0])
    probes: dict[str, Argv | str] = Field(
        default_factory=dict, description="state probes for this operation only (override the tool's)"
    )

    @model_validator(mode="after")
    def _shell_consistent(self) -> ToolCommand:
        if isinstance(self.run, str) and not self.shell:
            raise ValueError(
                "`run` is a string but `shell` is not true: give an argv list, or set shell: true"
            )
        if isinstance(self.run, list) and not self.run:
            raise ValueError("`run` is empty")
        return self

    def argv(self) -> Argv:
        return ["sh", "-c", self.run] if isinstance(self.run, str) else list(self.run)


class Operation(_Strict):
    name: str
    category: str = "other"
    description: str = ""
    mutating: bool = Field(False, description="restore the pristine fixture before every timed run")
    quick: bool = Field(True, description="included in --quick runs")
    prepare: list[Argv] = Field(default_factory=list, description="untimed, before every timed run")
    conclude: list[Argv] = Field(default_factory=list, description="untimed, after every timed run")
    commands: dict[str, ToolCommand] = Field(default_factory=dict)
    na: dict[str, str] = Field(default_factory=dict, description="tool -> why the operation has no meaning")
    params: dict[str, list[int | str]] = Field(
        default_factory=dict, description="parameter ranges, expanded into one cell per combination"
    )
    targets: dict[str, str] = Field(
        default_factory=dict, description='e.g. {"p99": "500ms", "rss_median": "64MiB"}'
    )
    equivalence: list[str] = Field(
        default_factory=list, description="state probes whose output must match the reference tool's"
    )
    # set on expanded copies of parameterised operations
    base: str = ""
    param_values: dict[str, int | str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _check_name(v, "operation name")

    @field_validator("params")
    @classmethod
    def _params(cls, v: dict[str, list[int | str]]) -> dict[str, list[int | str]]:
        for key, values in v.items():
            if not re.match(r"^[a-z][a-z0-9_]*$", key):
                raise ValueError(f"parameter name {key!r} must be lower-case letters, digits, _")
            if key in KNOWN_VARS:
                raise ValueError(f"parameter name {key!r} shadows a template name")
            if not values:
                raise ValueError(f"parameter {key!r} has no values")
            for value in values:
                if not re.match(r"^[A-Za-z0-9_.-]{1,32}$", str(value)):
                    raise ValueError(f"parameter {key!r} value {value!r} must be 1-32 letters, digits, _ . -")
        combinations = math.prod(len(values) for values in v.values())
        if combinations > MAX_COMBINATIONS:
            raise ValueError(
                f"the parameter ranges make {combinations:,} combinations "
                f"({' x '.join(str(len(values)) for values in v.values())}); at most {MAX_COMBINATIONS:,} "
                "are allowed: use fewer values"
            )
        return v

    @property
    def combinations(self) -> int:
        return math.prod(len(values) for values in self.params.values()) if self.params else 1

    @field_validator("targets")
    @classmethod
    def _targets(cls, v: dict[str, str]) -> dict[str, str]:
        for key, limit in v.items():
            parse_target(key, limit)
        return v

    def expand(self) -> list[Operation]:
        """One operation per parameter combination, named ``base[k=v,...]``; itself when unparameterised."""
        if not self.params:
            return [self]
        keys = sorted(self.params)
        out = []
        for combo in itertools.product(*(self.params[k] for k in keys)):
            values = dict(zip(keys, combo, strict=True))
            label = ",".join(f"{k}={values[k]}" for k in keys)
            out.append(
                self.model_copy(
                    update={
                        "name": f"{self.name}[{label}]",
                        "base": self.name,
                        "param_values": values,
                        "params": {},
                    }
                )
            )
        return out


TARGET_STATS = ("median", "mean", "p95", "p99", "max")
_UNITS = {
    "ns": 1,
    "us": 1e3,
    "µs": 1e3,
    "ms": 1e6,
    "s": 1e9,
    "B": 1,
    "KiB": 1 << 10,
    "MiB": 1 << 20,
    "GiB": 1 << 30,
}


def parse_target(key: str, limit: str) -> tuple[str, str, float]:
    """``("p99", "500ms")`` → ("wall", "p99", 5e8); ``("rss_median", "64MiB")`` → ("rss", "median", 67108864)."""
    metric, _, stat = key.rpartition("_")
    metric = metric or "wall"
    if metric not in ("wall", "cpu", "rss") or stat not in TARGET_STATS:
        raise ValueError(
            f"target {key!r}: use STAT or METRIC_STAT with STAT in {TARGET_STATS} and METRIC wall|cpu|rss"
        )
    m = re.match(r"^\s*([0-9]*\.?[0-9]+)\s*([A-Za-zµ]+)\s*$", str(limit))
    if not m or m.group(2) not in _UNITS:
        raise ValueError(
            f"target {key!r}: limit {limit!r} must be a number with a unit ({', '.join(_UNITS)})"
        )
    unit = m.group(2)
    if (metric == "rss") != (unit in ("B", "KiB", "MiB", "GiB")):
        raise ValueError(f"target {key!r}: {unit} does not measure {metric}")
    return metric, stat, float(m.group(1)) * _UNITS[unit]


class Suite(_Strict):
    name: str
    description: str = ""
    settings: Settings = Field(default_factory=Settings)  # type: ignore[arg-type]
    quick: QuickSettings = Field(default_factory=QuickSettings)  # type: ignore[arg-type]
    env: dict[str, str] = Field(default_factory=dict)
    tools: dict[str, Tool]
    reference_tool: str | None = Field(None, description="equivalence checks compare every tool to this one")
    operations: list[Operation]
    source: str = Field("", exclude=True)
    sha256: str = Field("", exclude=True)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _check_name(v, "suite name")

    @field_validator("tools")
    @classmethod
    def _tool_names(cls, v: dict[str, Tool]) -> dict[str, Tool]:
        if not v:
            raise ValueError("a suite needs at least one tool")
        for name in v:
            _check_name(name, "tool name")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Suite:
        seen: set[str] = set()
        for op in self.operations:
            if op.name in seen:
                raise ValueError(f"operation {op.name!r} is defined twice")
            seen.add(op.name)
            for tool in [*op.commands, *op.na]:
                if tool not in self.tools:
                    raise ValueError(
                        f"operation {op.name!r} names tool {tool!r}, which is not in `tools` "
                        f"(known: {', '.join(self.tools)})"
                    )
            both = set(op.commands) & set(op.na)
            if both:
                raise ValueError(f"operation {op.name!r} gives both a command and n/a for {sorted(both)}")
            missing = set(self.tools) - set(op.commands) - set(op.na)
            if missing:
                raise ValueError(
                    f"operation {op.name!r} says nothing about tool(s) {sorted(missing)}: "
                    "add a command, or `na: {tool: reason}` where the operation has no meaning"
                )
            for tool, cmd in op.commands.items():
                for probe in op.equivalence:
                    if probe not in cmd.probes and probe not in self.tools[tool].probes:
                        raise ValueError(
                            f"operation {op.name!r} checks state probe {probe!r}, which tool {tool!r} does not "
                            "define: add it under tools.<tool>.probes or commands.<tool>.probes"
                        )
                unknown = _template_names(cmd, op) - KNOWN_VARS - set(op.params)
                if unknown:
                    raise ValueError(
                        f"operation {op.name!r}, tool {tool!r} uses unknown template name(s) "
                        f"{', '.join('${' + u + '}' for u in sorted(unknown))}; known: {', '.join(sorted(KNOWN_VARS))}"
                    )
        if not self.operations:
            raise ValueError("a suite needs at least one operation")
        planned = sum(op.combinations for op in self.operations)
        if planned > MAX_OPERATIONS:
            raise ValueError(
                f"the operations expand to {planned:,} (parameter combinations counted); at most "
                f"{MAX_OPERATIONS:,} are allowed: use fewer parameter values or split the suite"
            )
        if self.reference_tool is not None and self.reference_tool not in self.tools:
            raise ValueError(f"reference_tool {self.reference_tool!r} is not in `tools`")
        return self

    @property
    def reference(self) -> str:
        return self.reference_tool or next(iter(self.tools))

    def expanded_operations(self) -> list[Operation]:
        """Operations with parameter ranges expanded into one operation per combination."""
        return [expanded for op in self.operations for expanded in op.expand()]

    def operation(self, name: str) -> Operation:
        for op in self.expanded_operations():
            if op.name == name:
                return op
        raise SuiteError(
            f"suite {self.name!r} has no operation {name!r}", fix="`bench-pipeline suites` lists them"
        )

    def select_tools(self, requested: list[str] | None) -> list[str]:
        """The tools a run measures: all of the suite's, or ``requested`` (tool names and ``tool@rev``)."""
        if not requested:
            return list(self.tools)
        known = self.with_revisions(requested).tools
        unknown = [t for t in requested if t not in known]
        if unknown:
            raise SuiteError(
                f"suite {self.name!r} has no tool {', '.join(map(repr, unknown))}",
                fix=f"choose among: {', '.join(self.tools)} (a revision: TOOL@REV, for a tool with `build:`)",
            )
        return list(dict.fromkeys(requested))

    def with_revisions(self, names: Iterable[str] | None) -> Suite:
        """A copy in which every ``tool@rev`` among ``names`` is a tool of its own (SPEC §16).

        The revision has its tool's definition — version command, setup, probes, commands and
        ``na`` of every operation — and is built from the tool's ``build:`` recipe at ``rev``
        (``bench_pipeline.builds``). Everything downstream (rounds, statistics, reports,
        partitions ``<suite>|<tool>@<rev>``) sees just another tool, so two revisions are measured
        interleaved and compared exactly like two tools. Plain tool names are left alone.
        """
        wanted = [
            n for n in dict.fromkeys(names or []) if split_tool(n)[1] is not None and n not in self.tools
        ]
        if not wanted:
            return self
        tools = dict(self.tools)
        for name in wanted:
            base, rev = split_tool(name)
            assert rev is not None
            if base not in self.tools:
                raise SuiteError(
                    f"suite {self.name!r} has no tool {base!r} (in {name!r})",
                    fix=f"choose among: {', '.join(self.tools)}",
                )
            if self.tools[base].build is None:
                raise SuiteError(
                    f"tool {base!r} has no `build:` section, so revision {rev!r} cannot be built",
                    where=f"{self.source}: tools.{base}",
                    fix="declare how the tool is built (docs/suite-format.md, `build`)",
                )
            try:
                valid_tool_rev(rev)
            except ValueError as exc:
                raise SuiteError(str(exc), where=name) from None
            tools[name] = self.tools[base]
        operations = []
        for op in self.operations:
            commands, na = dict(op.commands), dict(op.na)
            for name in wanted:
                base = split_tool(name)[0]
                if base in op.commands:
                    commands[name] = op.commands[base]
                if base in op.na:
                    na[name] = op.na[base]
            operations.append(op.model_copy(update={"commands": commands, "na": na}))
        return self.model_copy(update={"tools": tools, "operations": operations})

    def only_operations(self, names: Iterable[str]) -> Suite:
        """A copy restricted to the operations ``names`` (expanded names such as ``log[n=10]`` allowed)."""
        wanted = list(dict.fromkeys(names))
        ops = [self.operation(n) for n in wanted]  # a SuiteError names an unknown one
        return self.model_copy(update={"operations": ops})


def _template_names(cmd: ToolCommand, op: Operation) -> set[str]:
    texts: list[str] = [cmd.run] if isinstance(cmd.run, str) else list(cmd.run)
    for group in (cmd.prepare or op.prepare, cmd.conclude or op.conclude):
        for argv in group:
            texts.extend(argv)
    if cmd.cwd:
        texts.append(cmd.cwd)
    names: set[str] = set()
    for text in texts:
        for match in string.Template.pattern.finditer(text):
            name = match.group("named") or match.group("braced")
            if name:
                names.add(name)
    return names


def expand(text: str, values: dict[str, str], *, where: str) -> str:
    """Substitute ``${name}``/``$name``; ``$$`` is a literal ``$``. Unknown names are an error."""
    try:
        return string.Template(text).substitute(values)
    except KeyError as exc:
        raise SuiteError(f"unknown template name ${{{exc.args[0]}}}", where=where) from None
    except ValueError as exc:
        raise SuiteError(
            f"bad template {text!r}: {exc}", where=where, fix="write a literal $ as $$"
        ) from None


def expand_argv(argv: Argv, values: dict[str, str], *, where: str) -> Argv:
    return [expand(a, values, where=where) for a in argv]


# ---------------------------------------------------------------------------- loading


def parse_suite(text: str, source: str = "<string>") -> Suite:
    """Parse and validate suite YAML; every problem is a SuiteError naming source:line and field."""
    try:
        loaded = load_yaml(text)
    except YamlProblem as exc:
        raise SuiteError(
            exc.message,
            where=f"{source}:{exc.line}" if exc.line else source,
            fix=exc.fix or "check indentation and quoting near that line",
        ) from None
    data = loaded.data
    if not isinstance(data, dict):
        raise SuiteError(
            "a suite file must be a YAML mapping with `name`, `tools` and `operations`",
            where=source,
            fix="see docs/suite-format.md",
        )
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:5]:
            loc = tuple(err["loc"])
            line = loaded.line_for(tuple(p for p in loc if not str(p).startswith("function-after")))
            field = ".".join(str(p) for p in loc) or "(top level)"
            problems.append(f"{source}:{line or '?'}: field `{field}`: {err['msg']}")
        more = len(exc.errors()) - len(problems)
        if more > 0:
            problems.append(f"... and {more} more problem(s)")
        raise SuiteError(
            "invalid suite file\n  " + "\n  ".join(problems),
            where=source,
            fix="correct the field(s) above; docs/suite-format.md describes each one",
        ) from None
    digest = hashlib.sha256(text.encode()).hexdigest()
    return suite.model_copy(update={"source": source, "sha256": digest})


def load_suite_file(path: Path) -> Suite:
    try:
        if not path.is_file():
            raise SuiteError(
                "suite file not found" if not path.exists() else "not a regular file",
                where=str(path),
                fix="pass the path of a suite YAML file",
            )
        if path.stat().st_size > MAX_YAML_BYTES:
            raise SuiteError(
                f"the file is over {MAX_YAML_BYTES:,} bytes",
                where=str(path),
                fix="a suite file is small; check the path",
            )
        text = path.read_text()
    except FileNotFoundError:
        raise SuiteError("suite file not found", where=str(path), fix="check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"cannot read suite file: {exc}", where=str(path)) from None
    return parse_suite(text, str(path))


def available_suites() -> dict[str, Path]:
    """Suite files by name across ``paths.suite_dirs()``; an earlier directory wins."""
    found: dict[str, Path] = {}
    for directory in suite_dirs():
        for p in sorted(directory.glob("*.yaml")):
            found.setdefault(p.stem, p)
    return found


def find_suite(name_or_path: str) -> Suite:
    """A suite by name (``suites/<name>.yaml``, or in ``BENCH_PIPELINE_SUITES``) or by path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return load_suite_file(path)
    known = available_suites()
    if name_or_path not in known:
        raise SuiteError(
            f"no suite named {name_or_path!r}",
            fix=f"known suites: {', '.join(known) or '(none)'}; or pass a path to a suite file",
        )
    suite = load_suite_file(known[name_or_path])
    if suite.name != name_or_path:
        raise SuiteError(
            f"file declares name {suite.name!r}",
            where=str(known[name_or_path]),
            fix=f"rename the file to {suite.name}.yaml or set `name: {name_or_path}`",
        )
    return suite


def suite_delta(name: str) -> float:
    """The suite's practical margin δ (``settings.delta``); the default for a suite without a file
    (an ingested one) or whose file does not load."""
    try:
        return float(find_suite(name).settings.delta)
    except SuiteError:
        return float(Settings.model_fields["delta"].default)
