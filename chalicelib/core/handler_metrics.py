"""EMF metrics of the API handler and the cleanup, written with Powertools for AWS Lambda.

Same namespace and `service` dimension as the authorizer's (chalicelib/core/emf.py). Each request and
each cleanup run is flushed as its own EMF line at once, so nothing waits for the end of an invocation.

  Requests (Count), ServerErrors (Count), Latency (Milliseconds)   by Action and Status
  CleanupItemsProcessed, CleanupRotationsCompleted, CleanupRemindersSent, CleanupFailures (Count)
"""

from __future__ import annotations

import logging

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from chalicelib.core.emf import NAMESPACE, SERVICE

log = logging.getLogger("private_integrations.metrics")

# Management actions by (method, Chalice resource path); any other route counts as "METHOD path".
ACTIONS = {
    ("POST", "/agencies/{agency_id}/private-integrations"): "create",
    ("POST", "/locations/{location_id}/private-integrations"): "create",
    ("PATCH", "/private-integrations/{integration_id}"): "edit",
    ("DELETE", "/private-integrations/{integration_id}"): "delete",
    ("POST", "/private-integrations/{integration_id}/rotate"): "rotate",
    ("POST", "/private-integrations/{integration_id}/rotation/cancel"): "cancel-rotation",
    ("POST", "/private-integrations/{integration_id}/rotation/expire-now"): "expire-now",
    ("POST", "/agencies/{agency_id}/private-integrations/revoke-all"): "revoke-all",
    ("PUT", "/agencies/{agency_id}/users/{user_id}/permissions"): "set-permissions",
    ("PUT", "/agencies/{agency_id}/labs"): "set-labs",
    ("POST", "/secret-scanning/github"): "leak-report",
}


def action_name(method: str, resource_path: str) -> str:
    return ACTIONS.get((method, resource_path), f"{method} {resource_path or '(no route)'}")


def _flush(values: dict[str, tuple[float, MetricUnit]], dimensions: dict[str, str]) -> None:
    """One EMF line; a metric that cannot be written is logged, never fails the request or the run."""
    try:
        line = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
        for name, (value, unit) in values.items():
            line.add_metric(name=name, unit=unit, value=value)
        if dimensions:
            line.add_dimensions(service=SERVICE, **dimensions)
        line.flush_metrics()
    except Exception as error:
        log.warning("metric not written: %s", type(error).__name__)


def request(method: str, resource_path: str, status: int, latency_ms: float) -> None:
    """One served request, by action and status: every action's 409s and 503s are visible."""
    _flush(
        {
            "Requests": (1, MetricUnit.Count),
            "ServerErrors": (int(status >= 500), MetricUnit.Count),
            "Latency": (round(latency_ms, 3), MetricUnit.Milliseconds),
        },
        {"Action": action_name(method, resource_path), "Status": str(status)},
    )


def cleanup(summary: dict[str, int], failed_run: bool) -> None:
    _flush(
        {
            "CleanupItemsProcessed": (summary.get("itemsRead", 0), MetricUnit.Count),
            "CleanupRotationsCompleted": (summary.get("rotationsCompleted", 0), MetricUnit.Count),
            "CleanupRemindersSent": (summary.get("rotationRemindersSent", 0), MetricUnit.Count),
            "CleanupExpiryNoticesSent": (summary.get("expiryNoticesSent", 0), MetricUnit.Count),
            "CleanupFailures": (summary.get("failed", 0) + int(failed_run), MetricUnit.Count),
        },
        {},
    )
