"""``bench-pipeline doctor``: what is here, what a run will do about what is missing, and (``--aa``)
whether this machine's noise lets verdicts be trusted."""

from __future__ import annotations

import sys

import click

from bench_pipeline.execution.backends import BACKENDS
from bench_pipeline.interfaces.cli.app import code_location, emit_json, err, progress


def _aa_check(backend: str) -> dict:
    """Run the A/A suite (two identical git tools) through the whole run path; count its verdicts."""
    code_location()
    from bench_pipeline.interfaces.inprocess import run_pipeline
    from bench_pipeline.store import Store

    with progress():
        result = run_pipeline("aa", quick=True, backend=backend, formats=("md",))
    rows = (
        Store()
        .query(
            "SELECT verdict, operation, ratio, ci_low, ci_high FROM comparisons "
            "WHERE run_id = ? AND metric = 'wall' ORDER BY operation",
            [result.run_id],
        )
        .rows(named=True)
    )
    pairs = len(rows)
    same = sum(r["verdict"] == "equivalent" for r in rows)
    alarms = [
        f"{r['operation']} {r['ratio']:.3f} ({r['ci_low']:.3f}–{r['ci_high']:.3f})"
        for r in rows
        if r["verdict"] in ("slower", "faster")
    ]
    false = len(alarms)
    ok = false == 0 and same * 2 >= pairs
    return {
        "run_id": result.run_id,
        "pairs": pairs,
        "equivalent": same,
        "false_alarms": false,
        "undecided": pairs - same - false,
        "false_alarm_operations": alarms,
        "ok": ok,
        "report": result.reports.get("md"),
        "verdict": (
            f"A/A check: {same} of {pairs} identical pairs called equivalent (±3 %), {false} false "
            f"slower/faster, {pairs - same - false} undecided — "
            + (
                "verdicts can be trusted on this machine"
                if ok
                else "this machine is too noisy for verdicts at ±3 %: close other load, or use "
                "--backend docker with a resource profile"
                if false == 0
                else f"false alarms ({', '.join(alarms)}, b / a with its interval): check for CPU frequency "
                "scaling or background load; after heavy work (a compile, a test session) copies of one "
                "repository can differ by 5–30 % on commands that walk the working tree: the run writes "
                "the tools' read-only copies in lockstep against that on the local backend, but not in "
                "containers or for mutable copies. Let the machine settle, run the check again, and do "
                "not trust verdicts near ±3 % until it passes (benchmarks/RESULTS.md, 'Where the A/A "
                "bias lives')"
            )
        ),
    }


@click.command()
@click.option("--aa", is_flag=True, help="also run the A/A check (suites/aa.yaml: about a minute)")
@click.option("--backend", default="local", show_default=True, type=click.Choice(BACKENDS), help="for --aa")
@click.option("--json", "as_json", is_flag=True)
def doctor(aa: bool, backend: str, as_json: bool) -> None:
    """What is available here (git, jj, Docker, cgroups, disk, compiler) and how to fix what is missing."""
    from bench_pipeline.ops.doctor import check_all

    components = check_all()
    check = _aa_check(backend) if aa else None
    if as_json:
        emit_json({"components": components, **({"aa": check} if check else {})})
    else:
        for c in components:
            mark = (
                "[green]ok[/green]  "
                if c["available"]
                else ("[yellow]warn[/yellow]" if not c.get("required") else "[red]MISSING[/red]")
            )
            err.print(
                f"{mark} {c['name']:<18} {c.get('version') or ''} {c.get('detail') or ''}", soft_wrap=True
            )
            if not c["available"] and c.get("fix"):
                err.print(f"       fix: {c['fix']}", soft_wrap=True)
        if check:
            err.print(
                ("[green]ok[/green]   " if check["ok"] else "[yellow]warn[/yellow] ") + check["verdict"]
            )
    if any(c.get("required") and not c["available"] for c in components) or (check and not check["ok"]):
        sys.exit(1)


COMMANDS = [doctor]
