"""``bench-pipeline tier``: run the hot → warm → cold moves now (docs/tiering.md)."""

from __future__ import annotations

import json
import sys
from datetime import date

import click

from bench_pipeline.errors import BenchError
from bench_pipeline.timestamps import TimestampError, parse_date


def _parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return parse_date(value)
    except TimestampError as exc:
        raise BenchError(
            str(exc), where="--as-of", fix="give it as YYYY-MM-DD, between 1970 and 2200"
        ) from None


@click.command("tier")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD", help="move as if today were this date")
@click.option("--hot-days", type=int, default=None, help="override hot_days (default 7, or the settings)")
@click.option("--warm-days", type=int, default=None, help="override warm_days (default 90, or the settings)")
@click.option("--verify", is_flag=True, help="afterwards, check every tier file's rows and SHA-256")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object as the last line of stdout")
def tier_cmd(
    as_of: str | None, hot_days: int | None, warm_days: int | None, verify: bool, as_json: bool
) -> None:
    """Move samples older than hot_days into warm Parquet aggregates, and warm rows older than
    warm_days into the yearly cold archives; print the counts moved per tier.

    Idempotent and crash-safe: run it again after an interruption. Settings: BENCH_PIPELINE_HOT_DAYS,
    BENCH_PIPELINE_WARM_DAYS, or the `tiering:` section of $BENCH_PIPELINE_HOME/operations.yaml.
    """
    from bench_pipeline.ops.tiering import TierError, TierSettings, tier, verify_tiers

    settings = TierSettings.load(hot_days=hot_days, warm_days=warm_days)
    result = tier(_parse_date(as_of), settings)
    problems = verify_tiers() if verify else []
    out = result.to_dict()
    if verify:
        out["verified"] = not problems
        out["problems"] = problems
    if as_json:
        sys.stdout.write(json.dumps(out, default=str) + "\n")
    else:
        w, r, c = result.warm, result.raw, result.cold
        click.echo(
            f"tier as of {result.as_of} (hot {result.hot_days} d, warm {result.warm_days} d), "
            f"{result.seconds:.1f}s"
        )
        click.echo(
            f"  hot → warm: {w['runs']} runs, {w['samples']} samples → {w['cells']} cell rows "
            f"({w['files']} file(s))"
        )
        if r["samples"]:
            click.echo(f"  raw kept:   {r['samples']} samples ({r['files']} file(s))")
        click.echo(f"  warm → cold: {c['runs']} runs, {c['cells']} cell rows ({c['files']} file(s))")
        if result.discarded:
            click.echo(f"  dropped {result.discarded} duplicate cell rows of runs tiered before")
        if result.recovered:
            click.echo(f"  cleaned up interrupted moves: {', '.join(result.recovered)}")
        for name, t in result.totals.items():
            click.echo(f"  now {name:<4} " + ", ".join(f"{k} {v}" for k, v in t.items()))
        if verify and not problems:
            click.echo("  verified: every tier file matches its rows and SHA-256")
    if problems:
        raise TierError(
            "tier files failed verification: " + "; ".join(problems),
            fix="restore the named files from a backup; the manifests list their checksums",
        )


COMMANDS = [tier_cmd]
