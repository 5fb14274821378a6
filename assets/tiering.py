"""warm_tier, cold_tier: the daily storage moves (SPEC §7, docs/tiering.md), thin over bench_pipeline.ops.tiering.

Both write DuckDB, so both sit in the ``duckdb`` pool (one writer at a time).
"""

from datetime import date

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset

from bench_pipeline.errors import BenchError
from bench_pipeline.ops.tiering import TierResult, TierSettings, move_to_cold, move_to_warm
from bench_pipeline.timestamps import TimestampError, parse_date
from resources import StoreResource


class TierConfig(Config):
    as_of: str = ""  # YYYY-MM-DD; empty: today (UTC). The daily schedule passes its own date.
    hot_days: int = -1  # negative: from the settings (BENCH_PIPELINE_HOT_DAYS, operations.yaml, 7)
    warm_days: int = -1  # negative: from the settings (BENCH_PIPELINE_WARM_DAYS, operations.yaml, 90)

    def tier_settings(self) -> TierSettings:
        return TierSettings.load(
            hot_days=self.hot_days if self.hot_days >= 0 else None,
            warm_days=self.warm_days if self.warm_days >= 0 else None,
        )

    def as_of_date(self) -> date | None:
        if not self.as_of:
            return None
        try:
            return parse_date(self.as_of)
        except TimestampError as exc:
            raise BenchError(f"as_of: {exc}", fix="give it as YYYY-MM-DD, between 1970 and 2200") from None


def _metadata(result: TierResult, moved: dict[str, int]) -> dict:
    return {
        "as_of": result.as_of.isoformat(),
        "moved": MetadataValue.json(moved),
        "raw_kept": MetadataValue.json(result.raw),
        "recovered": MetadataValue.json(result.recovered),
        "tiers": MetadataValue.json(result.totals),
        "seconds": MetadataValue.float(round(result.seconds, 2)),
    }


@asset(
    pool="duckdb",
    group_name="storage",
    description="Hot → warm: samples of runs older than hot_days become per-cell aggregates in monthly Parquet.",
)
def warm_tier(context: AssetExecutionContext, config: TierConfig, store: StoreResource) -> MaterializeResult:
    result = move_to_warm(config.as_of_date(), config.tier_settings(), store=store.get())
    context.log.info(f"hot → warm: {result.warm}; raw kept: {result.raw}")
    return MaterializeResult(metadata=_metadata(result, result.warm))


@asset(
    deps=[warm_tier],
    pool="duckdb",
    group_name="storage",
    description="Warm → cold: rows of runs older than warm_days compacted into read-only yearly archives.",
)
def cold_tier(context: AssetExecutionContext, config: TierConfig, store: StoreResource) -> MaterializeResult:
    result = move_to_cold(config.as_of_date(), config.tier_settings(), store=store.get())
    context.log.info(f"warm → cold: {result.cold}")
    return MaterializeResult(metadata=_metadata(result, result.cold))


TIER_ASSETS = [warm_tier, cold_tier]
