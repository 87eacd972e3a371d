"""The GatewayResponses templates as API Gateway renders them (VTL, with airspeed-ext, LocalStack's
Velocity engine) answer exactly what the local emulation answers for the same request: the 403's
"it needs ..." included, which on AWS comes from the template's own VTL prelude."""

from __future__ import annotations

import json

import airspeed
import pytest

from chalicelib.http import gateway_responses
from chalicelib.http.gateway_responses import Context
from chalicelib.tokens import catalog
from infra import build


def rendered(
    response_type: str, method: str, route: str, scopes: str, **authorizer: str
) -> dict[str, object]:
    template = gateway_responses.template(response_type, build.token_routes())
    context = {
        "context": {
            "httpMethod": method,
            "resourcePath": route,
            "authorizer": {"scopes": scopes, **authorizer},
            "requestId": "trace-1",
        }
    }
    return dict(json.loads(airspeed.Template(template).merge(context)))


def local(response_type: str, method: str, route: str, scopes: str) -> dict[str, object]:
    needs = gateway_responses.needs(catalog.scopes_opening(method, route), scopes)
    context = Context(method, route, scopes, "trace-1", needs)
    return dict(json.loads(gateway_responses.body(response_type, context)))


@pytest.mark.parametrize(
    ("method", "route", "scopes"),
    [
        ("POST", "/contacts", "contacts.readonly locations.readonly"),  # lacks contacts.write
        ("PUT", "/locations/{location_id}", "locations.readonly"),  # lacks locations.write
        ("GET", "/locations/{location_id}", "locations.readonly"),  # holds it: another location
        ("DELETE", "/contacts/{contact_id}", ""),
        ("GET", "/health", "contacts.readonly"),  # no token route: nothing to name
    ],
)
def test_access_denied_on_aws_says_what_the_emulation_says(method: str, route: str, scopes: str) -> None:
    assert rendered("ACCESS_DENIED", method, route, scopes) == local("ACCESS_DENIED", method, route, scopes)


def test_every_template_renders_to_spec_json() -> None:
    for response_type in gateway_responses.BY_TYPE:
        body = rendered(response_type, "GET", "/contacts", "contacts.readonly")
        assert set(body) == {"statusCode", "error", "message"}, response_type
        assert body["statusCode"] == gateway_responses.status(response_type)
        assert "$" not in str(body["message"]) and "#" not in str(body["message"]), response_type


@pytest.mark.parametrize("source_ip", ["198.51.100.20", "2001:db8::7", "unknown"])
def test_an_address_refusal_on_aws_says_what_the_emulation_says(source_ip: str) -> None:
    """The authorizer's Deny for an address outside an enforced allowlist carries `refusal` and
    `sourceIp` in its context: the 403 names the address, never a scope or the list."""
    on_aws = rendered(
        "ACCESS_DENIED", "GET", "/contacts", "contacts.readonly", refusal="address", sourceIp=source_ip
    )
    context = Context("GET", "/contacts", "contacts.readonly", "trace-1", "", "address", source_ip)
    assert on_aws == json.loads(gateway_responses.body("ACCESS_DENIED", context))
    assert on_aws["statusCode"] == 403 and source_ip in str(on_aws["message"])
    assert "scope" not in str(on_aws["message"])
    # Without the refusal (a scope or location Deny), the usual answer.
    assert "it needs contacts.write" in str(rendered("ACCESS_DENIED", "POST", "/contacts", "")["message"])
