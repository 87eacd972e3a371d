"""The authorizer's CloudWatch metrics as Embedded Metric Format (EMF) lines, standard library only.

One JSON object per line on stdout; Lambda ships stdout to CloudWatch Logs, which extracts the metrics
named under `_aws`: no API call on the request's path. The API handler and the cleanup write theirs
with Powertools (core/handler_metrics.py); the authorizer does not, because Powertools' import would
take its cold import past its goal (docs/operations.md "Metrics" has the measurements).

Namespace PrivateIntegrations, dimension `service` (private-integrations-<stage>, as Powertools names
it), and per Outcome:
  Authorizations (Count), AuthorizerLatency (Milliseconds), LastUsedWrites (Count),
  PoliciesPlanned (Count: a token planned under another catalog, planned on the request path)
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from chalicelib.core import config

NAMESPACE = "PrivateIntegrations"


def service_name(stage: str) -> str:
    """One value per stage: dev and prod may share an account; each stage's alarms watch only its own."""
    return f"private-integrations-{stage}"


SERVICE = service_name(config.settings.stage)
# Powertools' own switch, honoured here too: `make run` and `make bench` keep their consoles readable.
ENABLED = os.environ.get("POWERTOOLS_METRICS_DISABLED", "false").lower() != "true"
COUNT = "Count"
MILLISECONDS = "Milliseconds"

# Authorizer outcomes (the Outcome dimension).
ALLOW = "allow"
DENY_MALFORMED = "deny-malformed"
DENY_UNKNOWN = "deny-unknown"
DENY_REVOKED_OR_EXPIRED = "deny-revoked-or-expired"
DENY_ADDRESS = "deny-address"  # a live token from outside its integration's enforced IP allowlist
ERROR = "error"


def line(
    values: dict[str, tuple[float, str]], dimensions: dict[str, str], at_ms: int | None = None
) -> dict[str, Any]:
    """One EMF document: `values` maps a metric name to (value, unit). Published twice: per service
    (what alarms watch) and per service and the extra dimensions (what a dashboard splits by)."""
    names = ["service", *dimensions]
    sets = [["service"], names] if dimensions else [["service"]]
    return {
        "_aws": {
            "Timestamp": at_ms if at_ms is not None else int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": sets,
                    "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in values.items()],
                }
            ],
        },
        "service": SERVICE,
        **dimensions,
        **{name: value for name, (value, _) in values.items()},
    }


def emit(values: dict[str, tuple[float, str]], dimensions: dict[str, str] | None = None) -> None:
    """Write one EMF line to stdout. Never raises: a metric must not fail a request."""
    if not ENABLED:
        return
    try:
        sys.stdout.write(json.dumps(line(values, dimensions or {}), separators=(",", ":")) + "\n")
        sys.stdout.flush()
    except Exception:  # noqa: S110 - a closed stdout loses a metric, never an answer
        pass


def authorization(outcome: str, latency_ms: float, last_used_written: bool, planned: bool = False) -> None:
    emit(
        {
            "Authorizations": (1, COUNT),
            "AuthorizerLatency": (round(latency_ms, 3), MILLISECONDS),
            "LastUsedWrites": (int(last_used_written), COUNT),
            "PoliciesPlanned": (int(planned), COUNT),
        },
        {"Outcome": outcome},
    )


def usage(summary: dict[str, int]) -> None:
    """One line per aggregator batch: requests counted, usage-table writes, keys whose write failed."""
    emit(
        {
            "UsageRequestsCounted": (summary["requests"], COUNT),
            "UsageWrites": (summary["writes"], COUNT),
            "UsageWritesFailed": (summary["failed"], COUNT),
        }
    )
