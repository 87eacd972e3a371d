"""Make Chalice's API Gateway emulation (`chalice local`, chalice.test.Client) behave like API Gateway.

1. API Gateway turns a Lambda authorizer that fails with the message "Unauthorized" into a 401 and
   any other authorizer failure into a 500; the emulation lets the exception escape.
2. API Gateway evaluates the returned policy with IAM rules (an explicit Deny wins); the emulation
   only looks at Allow statements.
3. Its own answer to OPTIONS gets a trace id too, as every response does.
4. The emulation's HTTP server answers methods it has no handler for (TRACE, PROPFIND, ...) with an
   HTML 501; here every method reaches the app, which answers 405 in SPEC's JSON. And it wrote a body
   after the headers of a HEAD answer, which breaks the client's connection; no more.
5. Our deployed API answers every case it decides itself with SPEC's JSON (infra's GatewayResponses):
   so does this, from the same templates, including 404 "no such route" where the emulation answers
   403 and echoes the Authorization header, and the 403 for a caller's address outside an allowlist.
6. The deployed authorizer is REQUEST-typed (infra/build.py) and its Lambda runs
   chalicelib.tokens.entry.handler; the emulation knows only Chalice's TOKEN authorizer and calls the
   app's function. Here the emulation sends that same handler the REQUEST event API Gateway sends
   (headers, methodArn, requestContext.identity.sourceIp), and sourceIp is the TCP peer of the
   connection (the emulation writes 127.0.0.1 for every request), never a header such as
   X-Forwarded-For. In-process tests (chalice.test.Client) have no socket: `client_address` sets it.
This patches only the emulation, for local runs and tests; deployed code never imports this module.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from chalice import local

from chalicelib.http import gateway_responses
from chalicelib.http.gateway_responses import Context
from chalicelib.tokens import catalog, entry
from chalicelib.tokens.authorizer import REFUSAL, SOURCE_IP
from local import access_log, iam


class AuthorizerFailure(local.LocalGatewayException):
    CODE = 500
    RESPONSE_TYPE = "AUTHORIZER_FAILURE"


class NoSuchRoute(local.LocalGatewayException):
    CODE = 404
    RESPONSE_TYPE = "MISSING_AUTHENTICATION_TOKEN"


_peer = threading.local()  # the address of the client whose request this thread serves


@contextlib.contextmanager
def client_address(address: str) -> Iterator[None]:
    """Requests this thread makes through chalice.test.Client come from `address` (there is no socket
    whose peer could say it): what API Gateway would put in `context.identity.sourceIp`."""
    before = getattr(_peer, "address", None)
    _peer.address = address
    access_log.note_peer(address)
    try:
        yield
    finally:
        _peer.address = before
        access_log.note_peer(before or "")


def request_authorizer_event(method_arn: str, lambda_event: dict[str, Any]) -> dict[str, Any]:
    """What API Gateway sends a REQUEST authorizer (REST API), from the request's own event."""
    request = lambda_event["requestContext"]
    query = lambda_event.get("multiValueQueryStringParameters") or {}
    return {
        "type": "REQUEST",
        "methodArn": method_arn,
        "resource": request["resourcePath"],
        "path": request["path"],
        "httpMethod": request["httpMethod"],
        "headers": dict(lambda_event.get("headers") or {}),
        "queryStringParameters": {name: values[-1] for name, values in query.items()},
        "multiValueQueryStringParameters": query,
        "pathParameters": lambda_event.get("pathParameters") or {},
        "stageVariables": lambda_event.get("stageVariables") or {},
        "requestContext": request,
    }


def _headers(trace_id: str) -> dict[str, str]:
    return {"x-amzn-RequestId": trace_id, "X-Trace-Id": trace_id, "Content-Type": "application/json"}


def install_api_gateway_behaviour() -> None:
    emulator = local.LocalGatewayAuthorizer
    if getattr(emulator.authorize, "_api_gateway_behaviour", False):
        return
    original_event = local.LocalGateway._generate_lambda_event
    original_options = local.LocalGateway._autogen_options_headers

    def authorize(self: Any, raw_path: str, lambda_event: Any, lambda_context: Any) -> Any:
        trace_id = lambda_context.aws_request_id
        headers = _headers(trace_id)
        request = lambda_event["requestContext"]
        route_entry = self._route_for_event(lambda_event)
        if route_entry is None or route_entry.authorizer is None:
            return lambda_event, lambda_context
        arn = self._arn_builder.build_arn(request["httpMethod"], raw_path)
        try:
            # As deployed: the authorizer Lambda's own handler, given API Gateway's REQUEST event.
            answer = entry.handler(request_authorizer_event(arn, lambda_event), lambda_context)
        except Exception as error:
            context = Context(trace_id=trace_id)
            if str(error) == "Unauthorized":
                raise local.NotAuthorizedError(
                    headers, gateway_responses.body("UNAUTHORIZED", context)
                ) from None
            # Any other authorizer failure is a 500 on API Gateway: never an Allow.
            raise AuthorizerFailure(headers, gateway_responses.body("AUTHORIZER_FAILURE", context)) from None
        access_log.note_authorizer(answer)  # the access log's $context.authorizer.* (a Deny's too)
        found = answer.get("context") or {}
        if not iam.evaluate(answer.get("policyDocument") or {"Statement": []}, arn):
            method, route = request["httpMethod"], request["resourcePath"]
            scopes = str(found.get("scopes", ""))
            opening = gateway_responses.needs(catalog.scopes_opening(method, route), scopes)
            refusal, source_ip = str(found.get(REFUSAL, "")), str(found.get(SOURCE_IP, ""))
            context = Context(method, route, scopes, trace_id, opening, refusal, source_ip)
            raise local.ForbiddenError(headers, gateway_responses.body("ACCESS_DENIED", context))
        return self._update_lambda_event(lambda_event, answer), lambda_context

    def generate_event(self: Any, method: str, path: str, headers: Any, body: Any) -> Any:
        try:
            event = original_event(self, method, path, headers, body)
            peer = getattr(_peer, "address", None)
            if peer:
                event["requestContext"]["identity"]["sourceIp"] = peer
            return event
        except ValueError:
            # API Gateway's MISSING_AUTHENTICATION_TOKEN, with or without a token: never echo it.
            trace_id = self._generate_lambda_context().aws_request_id
            context = Context(method=method, route=path.split("?")[0], trace_id=trace_id)
            raise NoSuchRoute(
                _headers(trace_id), gateway_responses.body("MISSING_AUTHENTICATION_TOKEN", context)
            ) from None

    def options_headers(self: Any, lambda_event: Any) -> Any:
        return {**original_options(self, lambda_event), "X-Trace-Id": uuid.uuid4().hex}

    def any_method(self: Any, name: str) -> Any:
        if name.startswith("do_"):  # BaseHTTPRequestHandler looks up `do_<METHOD>`
            return self._generic_handle
        raise AttributeError(name)

    original_send = local.ChaliceRequestHandler._send_http_response_with_body
    original_handle = local.ChaliceRequestHandler._generic_handle

    def handle_from_peer(self: Any) -> None:
        _peer.address = self.client_address[0]  # the socket's peer, whatever the headers claim
        access_log.note_peer(_peer.address)
        try:
            original_handle(self)
        finally:
            _peer.address = None

    def send_with_body(self: Any, code: int, headers: Any, body: str | bytes) -> None:
        if self.command != "HEAD":
            return original_send(self, code, headers, body)
        data = body if isinstance(body, bytes) else body.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))  # what a GET would send; no body (RFC 9110)
        self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
        self._send_headers(headers)
        return None

    local.ChaliceRequestHandler._send_http_response_with_body = send_with_body  # type: ignore[method-assign]
    local.LocalGateway._autogen_options_headers = options_headers  # type: ignore[method-assign]
    local.ChaliceRequestHandler.__getattr__ = any_method
    local.ChaliceRequestHandler._generic_handle = handle_from_peer  # type: ignore[method-assign]
    for verb in ("GET", "PUT", "POST", "HEAD", "DELETE", "PATCH", "OPTIONS"):  # aliases of the original
        setattr(local.ChaliceRequestHandler, f"do_{verb}", handle_from_peer)
    authorize._api_gateway_behaviour = True  # type: ignore[attr-defined]
    emulator.authorize = authorize  # type: ignore[method-assign]
    access_log.install()  # one access-log line per request, as the deployed stage writes
    local.LocalGateway._generate_lambda_event = generate_event  # type: ignore[method-assign]
