"""The bodies API Gateway answers with when it decides, not our code (SPEC's error shape, trace id).

Used twice: infra/build.py writes them into the API's GatewayResponses (with API Gateway's `$context`
variables), and the local emulation (local_gateway.py) fills the same templates from the request, so
`make run` and AWS agree. No body ever holds a header value: API Gateway's own messages (which echo
the Authorization header for an unknown route) are never used.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import NamedTuple

SCOPES_HINT = "GET /scopes lists which scope opens which route, and at which level"


class Context(NamedTuple):
    """What a body may mention; on AWS these are `$context` variables (and `$needs`, set by the
    template's own prelude from the route: `needs_prelude`), never request headers."""

    method: str = "$context.httpMethod"
    route: str = "$context.resourcePath"
    scopes: str = "$context.authorizer.scopes"
    trace_id: str = "$context.requestId"
    needs: str = "#if($needs != ''): it needs $needs#end"  # locally: ": it needs contacts.write" or ""
    # Set by the authorizer's context on a Deny for the caller's address (tokens/authorizer.py).
    refusal: str = "$context.authorizer.refusal"
    source_ip: str = "$context.authorizer.sourceIp"


ADDRESS_REFUSAL = "address"  # the context's `refusal` when the caller's address is outside the list


def needs(opening: list[str], held: str) -> str:
    """The clause naming what would open a route (Context.needs, filled locally): nothing when the
    token holds one of them already (then its location or level is what refuses it)."""
    if not opening or set(opening) & set(held.split()):
        return ""
    return f": it needs {' or '.join(opening)}"


def needs_prelude(routes: dict[tuple[str, str], list[str]]) -> str:
    """VTL that sets `$needs` to the scopes opening the request's route, for ACCESS_DENIED on AWS:
    `routes` maps (method, resource path as API Gateway names it) to those scopes. A scope the token
    already holds is not named (as `needs` does locally)."""
    branches = [
        f"#{'if' if i == 0 else 'elseif'}($route == '{method} {path}')#set($needs = '{' or '.join(scopes)}')"
        for i, ((method, path), scopes) in enumerate(sorted(routes.items()))
        if scopes
    ]
    chain = "".join(branches) + ("#end" if branches else "")
    held = "#set($held = \" $context.authorizer.scopes \")#foreach($scope in $needs.split(' or '))"
    held += "#if($held.contains(\" $scope \"))#set($needs = '')#end#end"
    return "#set($needs = '')#set($route = \"$context.httpMethod $context.resourcePath\")" + chain + held


def _error(status: int, message: str) -> dict[str, object]:
    return {"statusCode": status, "error": HTTPStatus(status).phrase, "message": message}


def unauthorized(c: Context) -> dict[str, object]:
    # One answer for every case: API Gateway's 401 body is fixed per response type, whatever the
    # authorizer found (docs: "Why one 401 message"), so it lists what to check, most likely first.
    return _error(
        401,
        "Send a current Private Integration token as 'Authorization: Bearer pit-...'. Check: the header "
        "is there and starts with 'Bearer '; the token is whole (53 characters, starting 'pit-'; its last "
        "6 characters are a checksum, so a typo or a cut-off copy is refused); it is a Private Integration "
        "token, not a session token (those are for the management routes). An unknown, revoked or "
        "expired token gets this same answer: create or rotate one on the Private Integrations page.",
    )


def access_denied(c: Context) -> dict[str, object]:
    return _error(
        403,
        f"This token may not call {c.method} {c.route}{c.needs}. It holds the scopes [{c.scopes}]; "
        f"{SCOPES_HINT}. A sub-account (location) token reaches only its own location, and some routes "
        "only agency tokens may call.",
    )


def address_refused(c: Context) -> dict[str, object]:
    # Names the caller's address and why, never the list (a leaked token must not learn where to go).
    return _error(
        403,
        f"This request came from {c.source_ip}, and this token's integration restricts the addresses "
        "its token may be used from. Call from an allowed address, or ask the integration's owner to "
        "allow this one (Settings > Private Integrations).",
    )


def no_such_route(c: Context) -> dict[str, object]:
    return _error(404, f"No such route: {c.method} is not served at this path. See the API reference.")


def server_error(c: Context) -> dict[str, object]:
    return _error(500, f"Something went wrong on our side; quote trace id {c.trace_id} to support.")


def authorizer_failure(c: Context) -> dict[str, object]:
    return _error(500, f"The token could not be checked right now: retry shortly (trace id {c.trace_id}).")


Template = Callable[[Context], dict[str, object]]


def _fixed(status: int, message: str) -> Template:
    return lambda c: _error(status, message)


# Every API Gateway response type -> (status, body template). MISSING_AUTHENTICATION_TOKEN is what
# API Gateway answers for a path or method it does not serve, with or without a token: a 404 here.
BY_TYPE: dict[str, Template] = {
    "MISSING_AUTHENTICATION_TOKEN": no_such_route,
    "RESOURCE_NOT_FOUND": no_such_route,
    "UNAUTHORIZED": unauthorized,
    "ACCESS_DENIED": access_denied,
    "AUTHORIZER_FAILURE": authorizer_failure,
    "AUTHORIZER_CONFIGURATION_ERROR": authorizer_failure,
    "API_CONFIGURATION_ERROR": server_error,
    "EXPIRED_TOKEN": unauthorized,
    "INVALID_SIGNATURE": unauthorized,
    "INVALID_API_KEY": _fixed(403, "This API takes no API key: send 'Authorization: Bearer <token>'."),
    "WAF_FILTERED": _fixed(403, "The request was refused by the firewall."),
    "BAD_REQUEST_PARAMETERS": _fixed(400, "A required request parameter is missing or invalid."),
    "BAD_REQUEST_BODY": _fixed(400, "The request body is not valid: send a JSON object."),
    "REQUEST_TOO_LARGE": _fixed(413, "The request is too large: bodies are at most 64 KiB."),
    "UNSUPPORTED_MEDIA_TYPE": _fixed(415, "Send 'Content-Type: application/json'."),
    "THROTTLED": _fixed(429, "Too many requests: slow down and retry after a moment."),
    "QUOTA_EXCEEDED": _fixed(429, "The request quota is used up: retry later."),
    "INTEGRATION_FAILURE": server_error,
    "INTEGRATION_TIMEOUT": _fixed(504, "The request took too long: retry shortly."),
    # Anything else API Gateway answers itself; the status is fixed so that the body can say it.
    "DEFAULT_4XX": _fixed(400, "The request was refused: check the method, path, headers and body."),
    "DEFAULT_5XX": server_error,
}


def status(response_type: str) -> int:
    return int(str(BY_TYPE[response_type](Context())["statusCode"]))


def template(response_type: str, routes: dict[tuple[str, str], list[str]] | None = None) -> str:
    """The GatewayResponses entry's template: the body with `$context` variables in it. ACCESS_DENIED
    has two: the caller's address refused (the authorizer's context says so), else the route refused,
    after the VTL that names the missing scopes (`routes` as for `needs_prelude`)."""
    text = json.dumps(BY_TYPE[response_type](Context()), ensure_ascii=False)
    if response_type != "ACCESS_DENIED":
        return text
    address = json.dumps(address_refused(Context()), ensure_ascii=False)
    return (
        f"#if($context.authorizer.refusal == '{ADDRESS_REFUSAL}'){address}"
        f"#{{else}}{needs_prelude(routes or {})}{text}#{{end}}"
    )


def body(response_type: str, context: Context) -> bytes:
    """The body the local emulation answers with, the same template filled from the request."""
    if response_type == "ACCESS_DENIED" and context.refusal == ADDRESS_REFUSAL:
        return json.dumps(address_refused(context), ensure_ascii=False).encode()
    return json.dumps(BY_TYPE[response_type](context), ensure_ascii=False).encode()
