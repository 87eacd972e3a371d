"""API Gateway's access log for the emulated gateway (`make run`, and the tests' chalice.test.Client).

Every request the emulation answers becomes one line in the deployed stage's format
(chalicelib/usage/access_log.py: rendered from the same `$context` variables), handed to the sinks
registered here: `make run` appends them to a file (`<PI_DATA_DIR>/access-log.jsonl`) that its usage
poller tails (local/usage_poller.py), as the deployed Firehose stream feeds the aggregator; functional
tests collect them in a list. With no sink nothing is rendered.

Writing a line never fails a request: a sink's error is printed and the line dropped.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

from chalice import local

from chalicelib.core import clock
from chalicelib.usage import access_log

Sink = Callable[[str], None]
_sinks: list[Sink] = []
_request = threading.local()  # what the gateway learnt about the request this thread serves

ERROR_TYPES = {
    local.ForbiddenError: "ACCESS_DENIED",
    local.NotAuthorizedError: "UNAUTHORIZED",
}


def add_sink(sink: Sink) -> None:
    _sinks.append(sink)


def remove_sink(sink: Sink) -> None:
    if sink in _sinks:
        _sinks.remove(sink)


class FileSink:
    """Appends each line to a file (one writer lock: lines never interleave)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")  # the previous run's lines were counted before it stopped

    def __call__(self, line: str) -> None:
        with self.lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")


def note_authorizer(result: dict[str, Any]) -> None:
    """The authorizer's answer for this thread's request (local/gateway.py calls it)."""
    _request.principal = result.get("principalId")
    _request.context = result.get("context") or {}


def note_peer(address: str) -> None:
    """The caller's address (the HTTP server knows it; chalice.test.Client calls from 127.0.0.1)."""
    _request.peer = address


def _emit(variables: dict[str, Any]) -> None:
    line = access_log.render(variables)
    for sink in list(_sinks):
        try:
            sink(line)
        except Exception as error:
            print(f"access log line not written ({type(error).__name__}: {error})", flush=True)


def _variables(
    gateway: Any, method: str, path: str, headers: dict[str, str], status: int, trace_id: str, error_type: str
) -> dict[str, Any]:
    lowered = {k.lower(): v for k, v in headers.items()}
    started = getattr(_request, "started", None) or clock.now()
    context = getattr(_request, "context", {}) or {}
    try:
        resource = gateway.event_converter._route_matcher.match_route(path).route
    except Exception:
        resource = None
    now = clock.now()  # the product clock: tests move it, never sleep
    variables: dict[str, Any] = {
        "$context.requestId": trace_id,
        "$context.extendedRequestId": trace_id,
        "$context.requestTime": now.astimezone(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "$context.requestTimeEpoch": int(started.timestamp() * 1000),
        "$context.identity.sourceIp": getattr(_request, "peer", None) or "127.0.0.1",
        "$context.identity.userAgent": lowered.get("user-agent"),
        "$context.httpMethod": method,
        "$context.resourcePath": resource,
        "$context.status": status,
        "$context.responseLatency": int((now - started).total_seconds() * 1000),
        "$context.integrationStatus": status if not error_type else None,
        "$context.authorizer.principalId": getattr(_request, "principal", None),
        "$context.error.responseType": error_type or None,
    }
    for key, value in context.items():
        variables[f"$context.authorizer.{key}"] = value
    return variables


def install() -> None:
    """Wrap the emulation's request handling (once): a line per request to every sink."""
    gateway_class = local.LocalGateway
    if getattr(gateway_class.handle_request, "_access_log", False):
        return
    original = gateway_class.handle_request

    def handle_request(self: Any, method: str, path: str, headers: Any, body: Any) -> Any:
        _request.started, _request.context, _request.principal = clock.now(), {}, None
        try:
            response = original(self, method, path, headers, body)
        except local.LocalGatewayException as error:
            if _sinks:
                trace_id = str(error.headers.get("X-Trace-Id") or uuid.uuid4().hex)
                kind = next((name for cls, name in ERROR_TYPES.items() if isinstance(error, cls)), None)
                kind = kind or str(getattr(error, "RESPONSE_TYPE", "DEFAULT_4XX"))
                _emit(_variables(self, method, path, headers, error.CODE, trace_id, kind))
            raise
        if _sinks:
            trace_id = str((response.get("headers") or {}).get("X-Trace-Id") or uuid.uuid4().hex)
            _emit(_variables(self, method, path, headers, int(response["statusCode"]), trace_id, ""))
        return response

    handle_request._access_log = True  # type: ignore[attr-defined]
    gateway_class.handle_request = handle_request  # type: ignore[method-assign]
