"""Retention settings of the tiers (section ``tiering`` of the operations file, or the environment),
and :class:`TierError`, the failure family of tiering."""

from __future__ import annotations

import os
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bench_pipeline.errors import BenchError
from bench_pipeline.ops.settings import OperationsConfigError, operations_file, read_config_section


class TierError(BenchError):
    """Tier settings are invalid, or a tier file failed its verification."""


class TierSettings(BaseModel):
    """Retention of the tiers. Precedence: explicit values > environment > operations file > defaults."""

    model_config = ConfigDict(extra="forbid")

    hot_days: int = Field(7, ge=0, le=36_500, description="raw samples younger than this stay in DuckDB")
    warm_days: int = Field(90, ge=1, le=36_500, description="older than this: yearly cold archives")
    warm_level: int = Field(3, ge=1, le=22, description="ZSTD level of warm files")
    cold_level: int = Field(19, ge=1, le=22, description="ZSTD level of cold archives")
    raw_level: int = Field(9, ge=1, le=22, description="ZSTD level of kept raw samples")
    keep_raw_suites: list[str] = Field(
        default_factory=list, description="keep raw samples of these suites too (besides keep_raw: true)"
    )

    @model_validator(mode="after")
    def _ordered(self) -> TierSettings:
        if self.warm_days <= self.hot_days:
            raise ValueError(f"warm_days ({self.warm_days}) must be greater than hot_days ({self.hot_days})")
        return self

    ENV: ClassVar[dict[str, str]] = {
        "hot_days": "BENCH_PIPELINE_HOT_DAYS",
        "warm_days": "BENCH_PIPELINE_WARM_DAYS",
        "keep_raw_suites": "BENCH_PIPELINE_KEEP_RAW_SUITES",
    }

    @classmethod
    def load(cls, **overrides: Any) -> TierSettings:
        try:
            values: dict[str, Any] = dict(read_config_section("tiering"))
        except OperationsConfigError as exc:  # tiering reports its own family, with the same detail
            raise TierError(exc.message, where=exc.where, fix=exc.fix) from None
        for key, var in cls.ENV.items():
            raw = os.environ.get(var)
            if raw:
                values[key] = (
                    [s.strip() for s in raw.split(",") if s.strip()] if key == "keep_raw_suites" else raw
                )
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'tiering'}: {e['msg']}" for e in exc.errors()
            )
            raise TierError(
                f"invalid tier settings: {problems}",
                where=f"{operations_file()} (section tiering) or BENCH_PIPELINE_HOT_DAYS/WARM_DAYS",
                fix="hot_days >= 0, warm_days > hot_days (whole days)",
            ) from None
