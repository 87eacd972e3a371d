"""What API Gateway answers itself (locally through the emulation, on AWS through the template)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.directory import sessions
from tests.support.v2_client import TokenClient, token_for
from tests.support.world import VERSION, Api

SPEC_KEYS = {"statusCode", "error", "message"}


def spec_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    body: dict[str, Any] = json.loads(response.body)
    assert set(body) == SPEC_KEYS and body["statusCode"] == status
    assert response.headers.get("X-Trace-Id")
    return body


@pytest.mark.parametrize("path", ["/nope", "/locations/loc1/customValues", "/private-integrations"])
def test_unknown_route_is_404_with_or_without_a_token_and_never_echoes_it(api: Api, path: str) -> None:
    token = token_for(api)
    session = sessions.mint("admin")
    for authorization in (None, f"Bearer {token}", f"Bearer {session}", "Basic c2VjcmV0"):
        headers = dict(VERSION)
        if authorization:
            headers["Authorization"] = authorization
        response = api.client.http.get(path, headers=headers)
        body = spec_error(response, 404)
        assert body["message"].startswith("No such route")
        for secret in (token, session, "c2VjcmV0"):
            assert secret not in response.body.decode()


def test_missing_scope_names_the_route_the_scopes_held_and_get_scopes(api: Api) -> None:
    token = token_for(api, scopes=["contacts.readonly", "locations.readonly"])
    body = spec_error(TokenClient(api, token)("PUT", "/locations/loc1", {"name": "x"}), 403)
    message = str(body["message"])
    assert "PUT /locations/{location_id}" in message
    assert "[contacts.readonly locations.readonly]" in message
    assert "GET /scopes" in message
    assert token not in message


def test_missing_scope_names_the_scope_that_would_open_the_route(api: Api) -> None:
    """The README's first example makes a read-only token; its next is a POST: say what it lacks."""
    call = TokenClient(api, token_for(api, scopes=["contacts.readonly", "locations.readonly"]))
    message = str(spec_error(call("POST", "/contacts", {"locationId": "loc1"}), 403)["message"])
    assert message.startswith("This token may not call POST /contacts: it needs contacts.write.")
    message = str(spec_error(call("PUT", "/locations/loc1", {"name": "x"}), 403)["message"])
    assert "PUT /locations/{location_id}: it needs locations.write." in message
    # The scope is held; another location is refused: no scope to name, the location rule says why.
    message = str(spec_error(call("GET", "/locations/loc2"), 403)["message"])
    assert "it needs" not in message and "reaches only its own location" in message


def test_the_401_says_what_to_check_in_plain_text(api: Api) -> None:
    response = api.client.http.get("/locations/loc1", headers={**VERSION, "Authorization": "Bearer pit-x"})
    assert b"\\u2026" not in response.body  # no escaped ellipsis for curl to print
    message = str(spec_error(response, 401)["message"])
    for check in ("'Bearer '", "53 characters", "checksum", "not a session token", "revoked or expired"):
        assert check in message


def test_unauthorized_and_authorizer_answers_carry_spec_json_and_a_trace_id(api: Api) -> None:
    response = api.client.http.get("/locations/loc1", headers={**VERSION, "Authorization": "Bearer pit-x"})
    assert "pit-x" not in spec_error(response, 401)["message"]
    response = api.client.http.get("/locations/loc1", headers=VERSION)
    spec_error(response, 401)
