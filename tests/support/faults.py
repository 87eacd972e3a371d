"""Fault injection for every AWS call the code makes under moto (DynamoDB, EventBridge, API Gateway).

moto answers every mocked call through one botocore `before-send` handler; wrapping it here sees each
call of every client, also clients created later. Each call gets an index in `calls`; a fault can be
armed for the call with a given index:

- THROTTLE: that call and botocore's retries of it answer ThrottlingException (so the client gives up);
- CONNECTION: that call and its retries fail to connect;
- COMMIT_THEN_TIMEOUT: moto carries the call out, then its answer is lost (a read timeout); botocore
  resends it and the resend reaches moto as a second request, as it would reach DynamoDB.

`before(operation, action)` runs `action` once, just before the next call of that operation: a
competing request landing between a read and the write that follows it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from botocore.retries.quota import RetryQuota
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

THROTTLE = "throttle"
CONNECTION = "connection error"
COMMIT_THEN_TIMEOUT = "commit then timeout"
KINDS = (THROTTLE, CONNECTION, COMMIT_THEN_TIMEOUT)


@dataclass
class Call:
    operation: str  # "dynamodb.TransactWriteItems"
    body: bytes
    fault: str | None = None


@dataclass
class Faults:
    calls: list[Call] = field(default_factory=list)
    armed: dict[int, str] = field(default_factory=dict)
    persistent: tuple[str, bytes] | None = None  # the failing call whose retries keep failing
    pending_before: list[tuple[str, Callable[[], Any]]] = field(default_factory=list)
    armed_next: dict[str, str] = field(default_factory=dict)

    def arm(self, index: int, kind: str) -> None:
        """Fault the call that will have this index (counted from the start of recording)."""
        self.armed[index] = kind

    def arm_next(self, operation: str, kind: str) -> None:
        """Fault the next call of `operation` (e.g. "dynamodb.TransactWriteItems")."""
        self.armed_next[operation] = kind

    def before(self, operation: str, action: Callable[[], Any]) -> None:
        self.pending_before.append((operation, action))

    def operations(self) -> list[str]:
        return [call.operation for call in self.calls]

    def delivered(self, operation: str) -> list[dict[str, Any]]:
        """JSON bodies of the calls of `operation` that reached moto (so took effect)."""
        return [
            json.loads(call.body or b"{}")
            for call in self.calls
            if call.operation == operation and call.fault in (None, COMMIT_THEN_TIMEOUT)
        ]

    def reset(self) -> None:
        self.calls.clear()
        self.armed.clear()
        self.persistent = None

    # --- the wrapped handler ------------------------------------------------------------------------

    def handle(self, stubber: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        operation = ".".join(event_name.split(".")[1:3])
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        for waiting in list(self.pending_before):
            if waiting[0] == operation:
                self.pending_before.remove(waiting)
                waiting[1]()  # may make calls of its own: they are counted before this one
        call = Call(operation, body)
        index = len(self.calls)
        self.calls.append(call)
        kind = self.armed.get(index) or self.armed_next.pop(operation, None)
        if kind is None and self.persistent == (operation, body):
            kind = self._retry_kind
        else:
            self.persistent = None
        call.fault = kind
        if kind == THROTTLE:
            self.persistent, self._retry_kind = (operation, body), THROTTLE
            return _error_response(request.url, "ThrottlingException", "Rate of requests exceeds the allowed")
        if kind == CONNECTION:
            self.persistent, self._retry_kind = (operation, body), CONNECTION
            raise EndpointConnectionError(endpoint_url=request.url)
        response = ORIGINAL_CALL(stubber, event_name, request, **kwargs)
        if kind == COMMIT_THEN_TIMEOUT:
            raise ReadTimeoutError(endpoint_url=request.url)
        return response

    _retry_kind: str | None = None


def _error_response(url: str, code: str, message: str) -> AWSResponse:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}).encode()
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": code}
    return AWSResponse(url, 400, headers, MockRawResponse(body))


ORIGINAL_CALL = BotocoreStubber.__call__


def install(monkeypatch: pytest.MonkeyPatch) -> Faults:
    """Record (and fault, when armed) every mocked AWS call until `monkeypatch` is undone."""
    faults = Faults()

    def call(stubber: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        if not stubber.enabled:
            return None
        return faults.handle(stubber, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", call)
    # No back-off sleeps, and a retry budget that never runs out, so every run retries alike.
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=lambda seconds: None))
    monkeypatch.setattr(RetryQuota, "acquire", lambda self, capacity_amount: True)
    return faults
