"""What a new user reads: /me says what the page needs, and error messages say what to send instead."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.world import Api, FakeClock


def post_raw(api: Api, raw: bytes, content_type: str = "application/json") -> Any:
    return api.request(
        "POST", "/locations/loc1/private-integrations", raw=raw, headers={"Content-Type": content_type}
    )


def error_message(response: Any, status: int) -> Any:
    assert response.status_code == status, response.body
    body = response.json_body
    assert body["statusCode"] == status and body["error"]
    return body["message"]


def test_me_tells_the_page_what_the_caller_may_manage_the_overlap_and_the_time(
    api: Api, frozen_clock: FakeClock
) -> None:
    admin = api.get("/me").json_body
    assert admin["canManage"] == [
        {"type": "agency", "id": "ag1", "name": "Agency One"},
        {"type": "location", "id": "loc1", "name": "Loc One"},
        {"type": "location", "id": "loc2", "name": "Loc Two"},
    ]
    assert admin["rotation"] == {"overlapSeconds": 7 * 24 * 3600}
    assert admin["serverTime"] == "2026-01-15T12:00:00.000Z"
    frozen_clock.advance(minutes=5)
    assert api.get("/me").json_body["serverTime"] == "2026-01-15T12:05:00.000Z"
    # An account user with the subAccount flag: its own sub-account only, never the agency.
    assert api.get("/me", user="account_flag").json_body["canManage"] == [
        {"type": "location", "id": "loc1", "name": "Loc One"}
    ]
    # No flag, or Labs off: nothing can succeed, so nothing is offered.
    assert api.get("/me", user="staff").json_body["canManage"] == []
    assert api.get("/me", user="admin3").json_body["canManage"] == []


def test_every_scope_has_a_short_description(api: Api) -> None:
    scopes = {scope["name"]: scope for scope in api.get("/scopes").json_body["scopes"]}
    assert all(isinstance(s["description"], str) and 0 < len(s["description"]) <= 80 for s in scopes.values())
    assert scopes["contacts.readonly"]["description"] == "View contacts"
    assert scopes["contacts.write"]["description"] == "Create, change and delete contacts"
    assert scopes["locations/customFields.readonly"]["description"] == "View location custom fields"
    assert len({s["description"] for s in scopes.values()}) == len(scopes)  # tells them apart


def test_a_form_encoded_body_is_told_to_send_json(api: Api) -> None:
    response = post_raw(api, b"name=x&scopes=contacts.readonly", "application/x-www-form-urlencoded")
    message = error_message(response, 415)
    assert "Content-Type: application/json" in message
    assert "application/x-www-form-urlencoded" in message


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b'{"name": "x",}', "line 1, column 14"),
        (b'{\n  "name": "x"\n  "scopes": []\n}', "line 3, column 3"),
    ],
)
def test_invalid_json_says_where(api: Api, raw: bytes, where: str) -> None:
    message = error_message(post_raw(api, raw), 400)
    assert where in message and "not valid JSON" in message


def test_a_body_that_is_not_utf8_says_so(api: Api) -> None:
    assert "not UTF-8 (byte 10)" in error_message(post_raw(api, b'{"name": "\xff"}'), 400)


def test_an_unknown_expire_value_lists_the_allowed_ones_and_what_was_sent(api: Api) -> None:
    created = api.post("/locations/loc1/private-integrations", {"name": "x", "scopes": ["contacts.readonly"]})
    integration_id = created.json_body["privateIntegration"]["id"]
    path = f"/private-integrations/{integration_id}/rotate"
    message = error_message(api.post(path, {"expire": "tomorrow"}), 422)
    assert message == ["expire must be 'later' or 'now', got 'tomorrow'"]
    assert error_message(api.post(path, {}), 422) == [
        "expire is required: 'later' (keep the old token for the overlap) or 'now'"
    ]
    assert error_message(api.post(path, {"expire": 7}), 422) == ["expire must be 'later' or 'now', got 7"]
