"""The API's JSON access log: the one definition of its format, and what a line says about a request.

The deployed stage writes it with API Gateway's `$context` variables (infra/operations.py puts
`FORMAT` on the stage); `make run`'s emulated gateway renders the same fields from the same variables
(local/access_log.py). Only `$context` variables: no header, no body, so the Authorization header (and a
token in it) is never logged. A variable with no value is written as "-" by API Gateway.

The aggregator (aggregator.py) reads four things from a line: whose request it was (`integrationId`
and `tokenRole` from the authorizer's context), when (`requestTimeEpoch`), from where (`ip`,
`userAgent`), and its outcome:
- forbidden: API Gateway refused it on the authorizer's policy (`errorType` ACCESS_DENIED, 403);
- rateLimited: answered 429 (the rate limiter behind the authorizer);
- allowed: anything else the backend answered, whatever its status;
- outsideAllowlist (issue 28, report mode): the authorizer's context said the caller's address is
  outside the integration's allowlist. Counted beside the outcome above, not instead of it.
Lines without an integration (no token, a malformed or unknown one, the management API) are not usage.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

# field -> API Gateway $context variable. Order is the line's order.
FORMAT: dict[str, str] = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "xrayTraceId": "$context.xrayTraceId",
    "requestTime": "$context.requestTime",
    "requestTimeEpoch": "$context.requestTimeEpoch",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integrationStatus",
    "authorizerStatus": "$context.authorizer.status",
    "authorizerLatency": "$context.authorizer.latency",
    "principalId": "$context.authorizer.principalId",
    "integrationId": "$context.authorizer.integrationId",
    "tokenRole": "$context.authorizer.tokenRole",
    "outsideAllowlist": "$context.authorizer.outsideAllowlist",
    "errorType": "$context.error.responseType",
}

CURRENT, PREVIOUS = "current", "previous"
ROLES = (CURRENT, PREVIOUS)
ALLOWED, FORBIDDEN, RATE_LIMITED, OUTSIDE_ALLOWLIST = (
    "allowed",
    "forbidden",
    "rateLimited",
    "outsideAllowlist",
)
OUTCOMES = (ALLOWED, FORBIDDEN, RATE_LIMITED, OUTSIDE_ALLOWLIST)
MISSING = "-"


def format_text() -> str:
    """The stage's `AccessLogSetting.Format`: one JSON object per line."""
    return json.dumps(FORMAT, separators=(",", ":"))


def render(variables: dict[str, Any]) -> str:
    """A line as API Gateway writes it, from `$context` variable -> value (absent: "-")."""
    return json.dumps(
        {field: _text(variables.get(variable)) for field, variable in FORMAT.items()}, separators=(",", ":")
    )


def _text(value: Any) -> str:
    return MISSING if value is None or value == "" else str(value)


class Request(NamedTuple):
    """One request of an integration, as the aggregator counts it."""

    integration_id: str
    role: str  # CURRENT | PREVIOUS
    outcome: str  # ALLOWED | FORBIDDEN | RATE_LIMITED
    outside_allowlist: bool
    at_ms: int
    ip: str
    user_agent: str


def _value(line: dict[str, Any], field: str) -> str:
    raw = line.get(field)
    return "" if raw is None or raw == MISSING else str(raw)


def parse(text: str, fallback_ms: int = 0) -> Request | None:
    """What one access-log line says about an integration's request; None when it is not usage (no
    integration, or not a line of this format). `fallback_ms`: the log event's own timestamp."""
    try:
        line = json.loads(text)
    except ValueError:
        return None
    if not isinstance(line, dict):
        return None
    integration_id = _value(line, "integrationId")
    if not integration_id:
        return None
    status, error_type = _value(line, "status"), _value(line, "errorType")
    if status == "403" and error_type == "ACCESS_DENIED":
        outcome = FORBIDDEN
    elif status == "429":
        outcome = RATE_LIMITED
    else:
        outcome = ALLOWED
    try:
        at_ms = int(_value(line, "requestTimeEpoch") or fallback_ms)
    except ValueError:
        at_ms = fallback_ms
    return Request(
        integration_id=integration_id,
        role=PREVIOUS if _value(line, "tokenRole") == PREVIOUS else CURRENT,
        outcome=outcome,
        outside_allowlist=_value(line, "outsideAllowlist") == "true",
        at_ms=at_ms,
        ip=_value(line, "ip"),
        user_agent=_value(line, "userAgent")[:512],
    )
