"""Management API through chalice.test.Client on moto: routes, bodies, token shown once, audit trail."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from chalicelib.directory.models import AgencyModel, LocationModel
from chalicelib.integrations.models import IntegrationModel
from chalicelib.tokens import token_text
from chalicelib.tokens.models import TokenModel
from tests.support.world import Api, FakeClock, readable, scan_all_items

# The engine's behaviour matters here: these run on moto and on DynamoDB Local (tests/support/engines.py).
pytestmark = pytest.mark.engines

LOCATION_BODY = {
    "name": "  Zapier sync  ",
    "description": "Nightly",
    "scopes": ["contacts.readonly", "locations.readonly"],
}
AGENCY_BODY = {"name": "Reporting", "scopes": ["locations.readonly", "locations.write"]}


def create(
    api: Api, owner: str = "locations/loc1", body: dict[str, Any] | None = None, user: str = "admin"
) -> Any:
    return api.post(f"/{owner}/private-integrations", body or LOCATION_BODY, user=user)


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.body
    body = response.json_body
    assert body["statusCode"] == status
    assert isinstance(body["error"], str) and body["error"]
    assert body["message"]
    assert response.headers.get("X-Trace-Id")
    return body


def test_health_needs_no_header_and_no_token(api: Api) -> None:
    response = api.client.http.get("/health")
    assert response.status_code == 200
    assert response.json_body == {"status": "ok"}
    assert response.headers["X-Trace-Id"]


@pytest.mark.parametrize("version", [None, "2021-07-27", ""])
def test_every_other_route_requires_the_version_header(api: Api, version: str | None) -> None:
    headers = {} if version is None else {"Version": version}
    for path in ["/me", "/scopes", "/locations/loc1/private-integrations", "/private-integrations/x"]:
        response = api.client.http.get(path, headers=headers)
        body = assert_error(response, 400)
        assert "Version" in body["message"] and "2021-07-28" in body["message"]


def test_me_shows_user_permissions_and_labs(api: Api) -> None:
    body = api.get("/me", user="account_flag").json_body
    assert body == {
        "user": {
            "id": "account_flag",
            "agencyId": "ag1",
            "type": "account",
            "role": "user",
            "locationIds": ["loc1"],
        },
        "agency": {"id": "ag1", "name": "Agency One"},
        "locations": [{"id": "loc1", "name": "Loc One"}],
        "permissions": {"privateIntegrations": {"agency": False, "subAccount": True}},
        "labs": {"privateIntegrations": True},
        "canManage": [{"type": "location", "id": "loc1", "name": "Loc One"}],
        "rotation": {"overlapSeconds": 7 * 24 * 3600},
        "serverTime": "2026-01-15T12:00:00.000Z",
    }
    admin = api.get("/me").json_body
    assert admin["permissions"]["privateIntegrations"] == {"agency": True, "subAccount": True}
    assert admin["locations"] == [{"id": "loc1", "name": "Loc One"}, {"id": "loc2", "name": "Loc Two"}]


def test_scopes_serves_the_whole_catalog(api: Api) -> None:
    scopes = api.get("/scopes").json_body["scopes"]
    assert len(scopes) == 90
    assert sum(len(scope["routes"]) for scope in scopes) == 248
    by_name = {scope["name"]: scope for scope in scopes}
    assert by_name["contacts.readonly"]["levels"] == ["location"]
    assert by_name["locations.readonly"]["levels"] == ["agency", "location"]
    assert by_name["locations.write"]["levels"] == ["agency"]
    assert "GET /contacts/:contactId" in by_name["contacts.readonly"]["routes"]
    assert "POST /contacts/search" in by_name["contacts.readonly"]["routes"]
    assert "POST /contacts/upsert" in by_name["contacts.write"]["routes"]
    # Descriptions read as a person would write them (ours where the generated ones read oddly).
    assert by_name["blogs/post-update.write"]["description"] == "Update blog posts"
    slug = by_name["blogs/check-slug.readonly"]["description"]
    assert slug == "Check whether a blog post URL slug is taken"
    assert by_name["funnels/funnel.readonly"]["description"] == "View funnels"
    assert by_name["locations/customFields.readonly"]["description"] == "View location custom fields"
    for scope in scopes:
        words = scope["description"].lower().split()
        assert all(a != b for a, b in itertools.pairwise(words)), scope  # no "funnel funnel"


def test_create_returns_the_token_once_and_stores_only_its_digest(api: Api) -> None:
    response = create(api)
    assert response.status_code == 201
    body = response.json_body
    token = body["token"]
    assert token_text.is_well_formed(token)
    integration = body["privateIntegration"]
    assert integration["name"] == "Zapier sync"
    assert integration["description"] == "Nightly"
    assert integration["scopes"] == ["contacts.readonly", "locations.readonly"]
    assert integration["ownerType"] == "location" and integration["ownerId"] == "loc1"
    assert integration["agencyId"] == "ag1" and integration["createdBy"] == "admin"
    assert integration["createdAt"] == "2026-01-15T12:00:00.000Z"
    assert integration["token"] == {
        "hint": "pit-…" + token[-4:],
        "createdAt": "2026-01-15T12:00:00.000Z",
        "expiresAt": None,  # no expiry chosen: it never expires
    }
    assert integration["rotation"] is None and integration["lastUsedAt"] is None
    assert integration["rotationRecommended"] is False

    # The token item is keyed by the digest and carries what the authorizer needs.
    item = TokenModel.get(token_text.digest(token))
    assert (item.integration_id, item.owner_type, item.owner_id, item.agency_id) == (
        integration["id"],
        "location",
        "loc1",
        "ag1",
    )
    assert item.scopes == ["contacts.readonly", "locations.readonly"]
    assert item.state == "active" and item.expires_at is None

    # Nothing ever shows the plaintext again: not later responses, not the tables.
    later = [
        api.get(f"/private-integrations/{integration['id']}"),
        api.get("/locations/loc1/private-integrations"),
        api.patch(f"/private-integrations/{integration['id']}", {"name": "Renamed"}),
        api.get(f"/private-integrations/{integration['id']}/events"),
        api.get("/locations/loc1/private-integrations/events"),
    ]
    for response in later:
        assert response.status_code == 200
        assert token not in response.body.decode()
        assert token[4:] not in response.body.decode()
    dumped = json.dumps(scan_all_items(), default=readable)
    assert token[4:] not in dumped
    assert token_text.digest(token) in dumped


def test_get_list_edit_delete_roundtrip(api: Api, frozen_clock: FakeClock) -> None:
    first = create(api).json_body["privateIntegration"]
    frozen_clock.advance(minutes=1)
    second = create(api, body={"name": "Second", "scopes": ["contacts.write"]}).json_body[
        "privateIntegration"
    ]
    listed = api.get("/locations/loc1/private-integrations").json_body["privateIntegrations"]
    assert [i["id"] for i in listed] == [second["id"], first["id"]]
    assert api.get("/locations/loc2/private-integrations").json_body["privateIntegrations"] == []

    frozen_clock.advance(minutes=1)
    edited = api.patch(
        f"/private-integrations/{first['id']}",
        {"name": "New name", "description": None, "scopes": ["contacts.write"]},
    )
    assert edited.status_code == 200
    after = edited.json_body["privateIntegration"]
    assert (after["name"], after["description"], after["scopes"]) == ("New name", "", ["contacts.write"])
    assert after["updatedAt"] == "2026-01-15T12:02:00.000Z" and after["createdAt"] == first["createdAt"]
    assert after["token"] == first["token"]
    assert api.get(f"/private-integrations/{first['id']}").json_body["privateIntegration"] == after

    deleted = api.delete(f"/private-integrations/{first['id']}")
    assert deleted.status_code == 204 and deleted.body in (b"", None)
    assert_error(api.get(f"/private-integrations/{first['id']}"), 404)
    assert_error(api.delete(f"/private-integrations/{first['id']}"), 404)
    assert [
        i["id"] for i in api.get("/locations/loc1/private-integrations").json_body["privateIntegrations"]
    ] == [second["id"]]


def test_edit_of_scopes_reaches_every_token_item_and_delete_removes_them(api: Api) -> None:
    created = create(api).json_body
    integration_id = created["privateIntegration"]["id"]
    api.patch(f"/private-integrations/{integration_id}", {"scopes": ["contacts.write"]})
    assert TokenModel.get(token_text.digest(created["token"])).scopes == ["contacts.write"]
    api.delete(f"/private-integrations/{integration_id}")
    assert TokenModel.count() == 0
    assert IntegrationModel.count() == 0
    assert LocationModel.get("loc1").integration_count == 0


def test_agency_integrations_and_the_contacts_rule(api: Api) -> None:
    response = create(api, "agencies/ag1", AGENCY_BODY)
    assert response.status_code == 201
    integration = response.json_body["privateIntegration"]
    assert (integration["ownerType"], integration["ownerId"]) == ("agency", "ag1")
    assert (
        api.get("/agencies/ag1/private-integrations").json_body["privateIntegrations"][0]["id"]
        == integration["id"]
    )
    body = assert_error(create(api, "agencies/ag1", {"name": "x", "scopes": ["contacts.readonly"]}), 422)
    assert body["message"] == ["scopes: 'contacts.readonly' cannot be held by an agency integration"]
    edit = api.patch(f"/private-integrations/{integration['id']}", {"scopes": ["contacts.write"]})
    assert assert_error(edit, 422)["message"] == [
        "scopes: 'contacts.write' cannot be held by an agency integration"
    ]
    body = assert_error(create(api, body={"name": "x", "scopes": ["locations.write"]}), 422)
    assert body["message"] == [
        "scopes: 'locations.write' cannot be held by a sub-account (location) integration"
    ]


def test_validation_lists_every_problem(api: Api) -> None:
    body = assert_error(
        create(
            api,
            body={
                "name": "   ",
                "description": "d" * 501,
                "scopes": ["nope", "contacts.readonly", "contacts.readonly", 5],
                "extra": 1,
            },
        ),
        422,
    )
    assert body["error"] == "Unprocessable Entity"
    assert body["message"] == [
        "'extra' is not a field of a private integration "
        "(allowed: name, description, scopes, burstLimit, allowedIps, ipRestriction, expiresInDays, "
        "expiresAt)",
        "name is required: a string of 1 to 100 characters (after trimming)",
        "description must be a string of at most 500 characters",
        "scopes: 'nope' is not a known scope (see GET /scopes)",
        "scopes: 'contacts.readonly' is listed more than once",
        "scopes: every entry must be a string, got int",
    ]
    # A near miss gets a suggestion (the platform's read scopes end in ".readonly").
    near = create(api, body={"name": "n", "scopes": ["contacts.read", "calendar.readonly"]})
    assert assert_error(near, 422)["message"] == [
        "scopes: 'contacts.read' is not a known scope; did you mean 'contacts.readonly'? (see GET /scopes)",
        "scopes: 'calendar.readonly' is not a known scope; did you mean 'calendars.readonly'? "
        "(see GET /scopes)",
    ]
    assert assert_error(create(api, body={"name": "n" * 101, "scopes": []}), 422)["message"] == [
        "name is required: a string of 1 to 100 characters (after trimming)",
        "scopes must be a non-empty list of scope names from GET /scopes",
    ]
    assert (
        create(
            api, body={"name": "n" * 100, "description": "d" * 500, "scopes": ["contacts.readonly"]}
        ).status_code
        == 201
    )
    integration_id = api.get("/locations/loc1/private-integrations").json_body["privateIntegrations"][0]["id"]
    assert assert_error(api.patch(f"/private-integrations/{integration_id}", {}), 422)["message"] == [
        "send at least one of name, description, scopes, burstLimit, allowedIps, ipRestriction"
    ]
    assert assert_error(
        api.patch(f"/private-integrations/{integration_id}", {"scopes": "contacts.readonly"}), 422
    )
    # Nothing was half-written by the failures.
    assert IntegrationModel.count() == 1 and TokenModel.count() == 1


@pytest.mark.parametrize(
    "raw",
    [
        b"[1, 2]",
        b'"text"',
        b"null",
        b"{not json",
        b"\xff\xfe\x00binary",
        b"",
        b'{"name": "n", "scopes": [], "expiresInDays": ' + b"1" * 5000 + b"}",  # beyond Python's digit limit
    ],
)
def test_a_body_that_is_not_a_json_object_is_400(api: Api, raw: bytes) -> None:
    response = api.request(
        "POST", "/locations/loc1/private-integrations", raw=raw, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400)
    assert IntegrationModel.count() == 0


def test_a_huge_body_is_rejected_cleanly(api: Api) -> None:
    huge = json.dumps({"name": "x", "scopes": ["contacts.readonly"], "description": "d" * 2_000_000}).encode()
    assert_error(api.request("POST", "/locations/loc1/private-integrations", raw=huge), 413)
    assert IntegrationModel.count() == 0


def test_unknown_ids_are_404(api: Api) -> None:
    assert_error(api.get("/private-integrations/does-not-exist"), 404)
    assert_error(api.get("/private-integrations/does-not-exist/events"), 404)
    assert_error(api.get("/locations/nowhere/private-integrations"), 404)
    assert_error(api.get("/agencies/nowhere/private-integrations"), 404)
    assert_error(api.get("/agencies/ag1/users/ghost/permissions"), 404)


def test_limit_of_100_integrations_per_owner(api: Api) -> None:
    LocationModel("loc1").update(actions=[LocationModel.integration_count.set(99)])
    assert create(api).status_code == 201
    body = assert_error(create(api), 409)
    assert "100" in body["message"]
    assert IntegrationModel.count() == 1 and TokenModel.count() == 1
    assert LocationModel.get("loc1").integration_count == 100
    # Deleting one makes room again.
    integration_id = api.get("/locations/loc1/private-integrations").json_body["privateIntegrations"][0]["id"]
    api.delete(f"/private-integrations/{integration_id}")
    assert create(api).status_code == 201


def test_two_creates_racing_for_the_last_slot(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.lifecycle_helpers import race

    LocationModel("loc1").update(actions=[LocationModel.integration_count.set(99)])
    results: dict[str, Any] = {}
    race(monkeypatch, lambda: results.setdefault("first", create(api)))
    second = create(api)
    assert sorted([results["first"].status_code, second.status_code]) == [201, 409]
    assert LocationModel.get("loc1").integration_count == 100
    assert IntegrationModel.count() == 1 and TokenModel.count() == 1


def test_limit_holds_for_real_creates(api: Api) -> None:
    for _ in range(100):
        assert create(api, "agencies/ag1", AGENCY_BODY).status_code == 201
    assert_error(create(api, "agencies/ag1", AGENCY_BODY), 409)
    assert AgencyModel.get("ag1").integration_count == 100
    assert len(api.get("/agencies/ag1/private-integrations").json_body["privateIntegrations"]) == 100


def test_audit_trail_records_every_change_newest_first_and_survives_delete(
    api: Api, frozen_clock: FakeClock
) -> None:
    integration_id = create(api).json_body["privateIntegration"]["id"]
    frozen_clock.advance(seconds=5)
    api.patch(
        f"/private-integrations/{integration_id}",
        {"name": "Renamed", "scopes": ["contacts.write"]},
        user="staff_flags",
    )
    frozen_clock.advance(seconds=5)
    api.delete(f"/private-integrations/{integration_id}", user="account_flag")

    events = api.get("/locations/loc1/private-integrations/events").json_body["events"]
    assert [e["type"] for e in events] == [
        "integration.deleted",
        "integration.updated",
        "integration.created",
    ]
    assert [e["actorId"] for e in events] == ["account_flag", "staff_flags", "admin"]
    assert [e["at"] for e in events] == [
        "2026-01-15T12:00:10.000Z",
        "2026-01-15T12:00:05.000Z",
        "2026-01-15T12:00:00.000Z",
    ]
    assert all(e["integrationId"] == integration_id for e in events)
    assert events[1]["details"] == {
        "changes": {
            "name": {"before": "Zapier sync", "after": "Renamed"},
            "scopes": {"before": ["contacts.readonly", "locations.readonly"], "after": ["contacts.write"]},
        }
    }
    # The integration's own feed is still readable by its owner's managers after the delete.
    feed = api.get(f"/private-integrations/{integration_id}/events")
    assert feed.status_code == 200 and len(feed.json_body["events"]) == 3
    assert_error(api.get(f"/private-integrations/{integration_id}/events", user="admin2"), 404)


def test_an_edit_that_changes_nothing_writes_no_event(api: Api) -> None:
    integration_id = create(api).json_body["privateIntegration"]["id"]
    assert api.patch(f"/private-integrations/{integration_id}", {"name": "Zapier sync"}).status_code == 200
    events = api.get(f"/private-integrations/{integration_id}/events").json_body["events"]
    assert [e["type"] for e in events] == ["integration.created"]


def test_feeds_page_with_limit_and_cursor(api: Api, frozen_clock: FakeClock) -> None:
    integration_id = create(api).json_body["privateIntegration"]["id"]
    for n in range(5):
        frozen_clock.advance(seconds=1)
        api.patch(f"/private-integrations/{integration_id}", {"name": f"name {n}"})
    first = api.get(f"/private-integrations/{integration_id}/events?limit=4").json_body
    assert len(first["events"]) == 4 and first["nextCursor"]
    second = api.get(
        f"/private-integrations/{integration_id}/events?limit=4&cursor={first['nextCursor']}"
    ).json_body
    assert len(second["events"]) == 2 and second["nextCursor"] is None
    assert second["events"][-1]["type"] == "integration.created"
    owner_page = api.get("/locations/loc1/private-integrations/events?limit=3").json_body
    assert len(owner_page["events"]) == 3
    assert_error(api.get("/locations/loc1/private-integrations/events?limit=0"), 422)
    assert_error(api.get("/locations/loc1/private-integrations/events?limit=abc"), 422)


def test_permissions_and_labs_changes_are_audited(api: Api) -> None:
    assert api.put(
        "/agencies/ag1/users/staff/permissions", {"privateIntegrations": {"subAccount": True}}
    ).json_body == {
        "userId": "staff",
        "privateIntegrations": {"agency": False, "subAccount": True},
    }
    assert api.put("/agencies/ag1/labs", {"privateIntegrations": False}).json_body == {
        "privateIntegrations": False
    }
    events = api.get("/agencies/ag1/private-integrations/events").json_body
    # Labs is off now: the agency's integration routes say so.
    assert events["statusCode"] == 403
    api.put("/agencies/ag1/labs", {"privateIntegrations": True})
    events = api.get("/agencies/ag1/private-integrations/events").json_body["events"]
    assert [e["type"] for e in events] == ["labs.updated", "labs.updated", "permissions.updated"]
    assert events[2]["details"] == {
        "userId": "staff",
        "before": {"agency": False, "subAccount": False},
        "after": {"agency": False, "subAccount": True},
    }
    assert events[1]["details"] == {"privateIntegrations": {"before": True, "after": False}}
