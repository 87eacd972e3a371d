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
   403 and echoes the Authorization header.
This patches only the emulation, for local runs and tests; deployed code never imports this module.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from chalice import local

from chalicelib.http import gateway_responses
from chalicelib.http.gateway_responses import Context
from chalicelib.tokens import catalog
from local import access_log, iam


class AuthorizerFailure(local.LocalGatewayException):
    CODE = 500
    RESPONSE_TYPE = "AUTHORIZER_FAILURE"


class NoSuchRoute(local.LocalGatewayException):
    CODE = 404
    RESPONSE_TYPE = "MISSING_AUTHENTICATION_TOKEN"


_last_auth = threading.local()  # the authorizer's answer for the request this thread serves


def _headers(trace_id: str) -> dict[str, str]:
    return {"x-amzn-RequestId": trace_id, "X-Trace-Id": trace_id, "Content-Type": "application/json"}


def install_api_gateway_behaviour() -> None:
    emulator = local.LocalGatewayAuthorizer
    if getattr(emulator.authorize, "_api_gateway_behaviour", False):
        return
    original = emulator.authorize
    original_event = local.LocalGateway._generate_lambda_event
    original_options = local.LocalGateway._autogen_options_headers

    def authorize(self: Any, raw_path: str, lambda_event: Any, lambda_context: Any) -> Any:
        trace_id = lambda_context.aws_request_id
        headers = _headers(trace_id)
        request = lambda_event["requestContext"]
        _last_auth.context = {}
        try:
            return original(self, raw_path, lambda_event, lambda_context)
        except local.ForbiddenError:
            method, route = request["httpMethod"], request["resourcePath"]
            scopes = _last_auth.context.get("scopes", "")
            opening = gateway_responses.needs(catalog.scopes_opening(method, route), scopes)
            context = Context(method, route, scopes, trace_id, opening)
            raise local.ForbiddenError(headers, gateway_responses.body("ACCESS_DENIED", context)) from None
        except local.NotAuthorizedError:
            context = Context(trace_id=trace_id)
            raise local.NotAuthorizedError(headers, gateway_responses.body("UNAUTHORIZED", context)) from None
        except local.LocalGatewayException:
            raise
        except Exception as error:
            context = Context(trace_id=trace_id)
            if str(error) == "Unauthorized":
                raise local.NotAuthorizedError(
                    headers, gateway_responses.body("UNAUTHORIZED", context)
                ) from None
            # Any other authorizer failure is a 500 on API Gateway: never an Allow.
            raise AuthorizerFailure(headers, gateway_responses.body("AUTHORIZER_FAILURE", context)) from None

    def check_can_invoke(self: Any, arn: str, auth_result: dict[str, Any]) -> bool:
        _last_auth.context = auth_result.get("context") or {}
        access_log.note_authorizer(auth_result)
        return iam.evaluate(auth_result.get("policyDocument") or {"Statement": []}, arn)

    def generate_event(self: Any, method: str, path: str, headers: Any, body: Any) -> Any:
        try:
            return original_event(self, method, path, headers, body)
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
    authorize._api_gateway_behaviour = True  # type: ignore[attr-defined]
    emulator.authorize = authorize  # type: ignore[method-assign]
    access_log.install()  # one access-log line per request, as the deployed stage writes
    emulator._check_can_invoke_view_function = check_can_invoke  # type: ignore[method-assign]
    local.LocalGateway._generate_lambda_event = generate_event  # type: ignore[method-assign]
