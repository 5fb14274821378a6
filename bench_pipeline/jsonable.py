"""Stored values made ready for a JSON answer: datetimes as ISO 8601 text, JSON text columns decoded."""

from __future__ import annotations

import json
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
