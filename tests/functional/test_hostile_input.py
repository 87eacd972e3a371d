"""Input an attacker would send: every answer is a 4xx in SPEC's shape that says what to fix, never a 5xx."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from chalicelib.directory import sessions
from chalicelib.tokens import catalog
from tests.support.v2_client import TokenClient, token_for
from tests.support.world import VERSION, Api, FakeClock

LOCATION_BODY = {"name": "app", "scopes": ["contacts.readonly"]}


def spec_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.body
    body = json.loads(response.body)
    assert set(body) == {"statusCode", "error", "message"} and body["statusCode"] == status
    return body


def created(api: Api) -> str:
    response = api.post("/locations/loc1/private-integrations", LOCATION_BODY)
    assert response.status_code == 201
    return str(response.json_body["privateIntegration"]["id"])


# --- ?limit= -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["²", "\uff11", "\u0663", "1e3", "-1", " 5", "99999999999999999999999"])
def test_limit_with_unicode_digits_or_junk_is_422_on_every_paged_route(api: Api, limit: str) -> None:
    integration_id = created(api)
    token = token_for(api)
    for response in (
        api.get(f"/private-integrations/{integration_id}/events?limit={limit}"),
        api.get(f"/locations/loc1/private-integrations/events?limit={limit}"),
        api.get(f"/agencies/ag1/private-integrations/events?limit={limit}"),
        TokenClient(api, token)("GET", f"/contacts?locationId=loc1&limit={limit}"),
    ):
        assert "limit" in str(spec_error(response, 422)["message"])


# --- bodies ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"[" * 60_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000])
def test_deeply_nested_json_is_400_not_a_recursion_error(api: Api, raw: bytes) -> None:
    assert len(raw) < 64 * 1024
    integration_id = created(api)
    token = token_for(api)
    for response in (
        api.request("POST", "/locations/loc1/private-integrations", raw=raw),
        api.request("PATCH", f"/private-integrations/{integration_id}", raw=raw),
        api.client.http.post(
            "/contacts",
            headers={**VERSION, "Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            body=raw,
        ),
    ):
        body = spec_error(response, 400)
        assert "nested" in body["message"] or "JSON" in body["message"]


def test_nesting_just_past_the_limit_is_400_and_says_so(api: Api) -> None:
    deep: Any = "x"
    for _ in range(40):
        deep = {"d": deep}
    response = api.post("/locations/loc1/private-integrations", {**LOCATION_BODY, "description": deep})
    assert "nested deeper than 32 levels" in spec_error(response, 400)["message"]


def test_a_lone_surrogate_is_422_naming_the_field_on_create_patch_and_contacts(api: Api) -> None:
    lone = b'"\\ud800"'
    raw = b'{"name": ' + lone + b', "scopes": ["contacts.readonly"]}'
    body = spec_error(api.request("POST", "/locations/loc1/private-integrations", raw=raw), 422)
    assert body["message"] == ["name: holds a lone surrogate (invalid Unicode): send valid text"]
    integration_id = created(api)
    raw = b'{"description": "ok ' + b"\\udc00" + b'"}'
    body = spec_error(api.request("PATCH", f"/private-integrations/{integration_id}", raw=raw), 422)
    assert body["message"] == ["description: holds a lone surrogate (invalid Unicode): send valid text"]
    token = token_for(api, scopes=["contacts.write"])
    response = api.client.http.post(
        "/contacts",
        headers={**VERSION, "Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        body=b'{"locationId": "loc1", "tags": ["a", "\\ud83d"]}',
    )
    assert spec_error(response, 422)["message"] == [
        "tags[1]: holds a lone surrogate (invalid Unicode): send valid text"
    ]
    # A proper pair (an emoji) is fine.
    raw = b'{"name": "app \\ud83d\\ude00", "scopes": ["contacts.readonly"]}'
    assert api.request("POST", "/locations/loc1/private-integrations", raw=raw).status_code == 201


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "bad\x00name"),
        ("name", "tab\tname"),
        ("name", "\u202eevil"),
        ("name", "c1\x85"),
        ("name", "del\x7f"),
        ("description", "bell\x07"),
        ("description", "\u2066isolate"),
        ("description", "cr\r"),
    ],
)
def test_control_characters_and_bidi_overrides_are_422(api: Api, field: str, value: str) -> None:
    body = spec_error(api.post("/locations/loc1/private-integrations", {**LOCATION_BODY, field: value}), 422)
    assert any(m.startswith(field) and "U+" in m for m in body["message"])
    integration_id = created(api)
    spec_error(api.patch(f"/private-integrations/{integration_id}", {field: value}), 422)


def test_tab_and_newline_are_fine_in_a_description(api: Api) -> None:
    response = api.post(
        "/locations/loc1/private-integrations", {**LOCATION_BODY, "description": "line one\n\tline two"}
    )
    assert response.status_code == 201
    assert response.json_body["privateIntegration"]["description"] == "line one\n\tline two"


# --- session JWTs ------------------------------------------------------------------------------------


def signed(payload: bytes) -> str:
    """An HS256 JWT over a raw JSON payload (to send NaN, Infinity and 1e400, which JSON parsers take)."""

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + b64(payload)
    signature = hmac.new(sessions.session_secret().encode(), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + b64(signature)).decode()


@pytest.mark.parametrize(
    "claims",
    [
        b'{"sub": "admin", "exp": NaN}',
        b'{"sub": "admin", "exp": Infinity}',
        b'{"sub": "admin", "exp": 1e400}',
        b'{"sub": "admin", "exp": "9999999999"}',
        b'{"sub": "admin", "exp": true}',
        b'{"sub": "admin", "exp": 4102444800, "nbf": NaN}',
        b'{"sub": "admin", "exp": 4102444800, "iat": Infinity}',
        b'{"sub": "admin", "exp": 4102444800, "nbf": 4102444000}',
    ],
)
def test_session_tokens_with_non_finite_or_future_times_are_401(api: Api, claims: bytes) -> None:
    response = api.client.http.get("/me", headers={**VERSION, "Authorization": f"Bearer {signed(claims)}"})
    spec_error(response, 401)


def test_a_finite_session_token_still_follows_the_test_clock(api: Api, frozen_clock: FakeClock) -> None:
    token = signed(b'{"sub": "admin", "exp": %d}' % (int(frozen_clock.current.timestamp()) + 60))
    headers = {**VERSION, "Authorization": f"Bearer {token}"}
    assert api.client.http.get("/me", headers=headers).status_code == 200
    frozen_clock.advance(seconds=61)
    assert "expired" in spec_error(api.client.http.get("/me", headers=headers), 401)["message"]


# --- one 500 -----------------------------------------------------------------------------------------


def test_chalices_own_500_is_ours_with_the_trace_id(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("bug")

    monkeypatch.setattr(catalog, "scopes_view", broken)
    response = api.get("/scopes")
    body = spec_error(response, 500)
    assert response.headers["X-Trace-Id"] in body["message"]
    assert "bug" not in body["message"]


# --- caching -----------------------------------------------------------------------------------------


def test_no_response_may_be_cached(api: Api) -> None:
    create = api.post("/locations/loc1/private-integrations", LOCATION_BODY)
    integration_id = create.json_body["privateIntegration"]["id"]
    rotate = api.post(f"/private-integrations/{integration_id}/rotate", {"expire": "later"})
    assert rotate.status_code == 200 and "token" in rotate.json_body
    token = token_for(api)
    for response in (
        create,
        rotate,
        api.get(f"/private-integrations/{integration_id}"),
        api.get("/locations/loc1/private-integrations"),
        api.get("/me"),
        api.get("/private-integrations/nope"),
        TokenClient(api, token)("GET", "/locations/loc1"),
    ):
        assert response.headers.get("Cache-Control") == "no-store", response.status_code
