"""Alerts: a row in the ``alerts`` table for each failure worth a person's attention, and an
optional JSON POST to a webhook (whose URL may hold a token, so it never appears in a message)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime

from bench_pipeline.ops.settings import load_settings
from bench_pipeline.store import Store


def post_webhook(url: str, payload: dict, timeout: float) -> str:
    """POST ``payload`` as JSON; the outcome as text. The URL (it may hold a token) never appears in it."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, default=str).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "bench-pipeline"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (configured URL)
            return f"sent {response.status}"
    except urllib.error.HTTPError as exc:
        return f"failed: HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"failed: {type(exc).__name__}: {str(reason).replace(url, '<webhook>')}"[:300]


def record_alert(
    *,
    kind: str,
    message: str,
    dagster_run_id: str | None = None,
    job_name: str | None = None,
    partition_key: str | None = None,
    suite: str | None = None,
    details: dict | None = None,
    severity: str = "error",
    store: Store | None = None,
) -> dict:
    """Write an alert row (and POST it to the webhook, when one is configured); returns the alert."""
    alerts = load_settings().alerts
    alert = {
        "alert_id": uuid.uuid4().hex,
        "created_at": datetime.now(UTC),
        "kind": kind,
        "severity": severity,
        "dagster_run_id": dagster_run_id,
        "job_name": job_name,
        "partition_key": partition_key,
        "suite": suite,
        "message": message,
        "details": details or {},
    }
    webhook = None
    if alerts.enabled and alerts.webhook_url:
        webhook = post_webhook(
            alerts.webhook_url, {**alert, "source": "bench-pipeline"}, alerts.timeout_seconds
        )
    alert["webhook_status"] = webhook
    (store or Store()).insert_alert(alert)
    return alert
