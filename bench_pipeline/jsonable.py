"""Stored values made ready for a JSON answer: numbers without NaN/inf, datetimes as ISO 8601 text,
JSON text columns decoded."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any


def iso_datetime(value: Any) -> Any:
    """A datetime as ISO 8601 text; any other value as it is."""
    return value.isoformat() if isinstance(value, datetime) else value


def decode_json_text(value: Any) -> Any:
    """A JSON document stored as text, decoded; other values, and text that is not JSON, as they are."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def finite_float(value: Any) -> float | None:
    """A number as a float; None for null, NaN and infinities (JSON has none of them)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float, also inside dicts and lists, as None."""
    if isinstance(value, float):
        return finite_float(value)
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value
