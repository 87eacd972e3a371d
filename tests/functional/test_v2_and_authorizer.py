"""The token authorizer and the v2 API, end to end through chalice.test.Client on moto."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.tokens import authorizer, token_text
from chalicelib.tokens.models import TokenModel
from local import iam
from local.dynamodb_calls import DynamoDBCalls, recording
from tests.support.lifecycle_helpers import create
from tests.support.v2_client import LOCATION_SCOPES, TokenClient, V, token_for
from tests.support.world import Api, FakeClock

# Contacts' unique guards and upserts are transactions, and the authorizer's lastUsedAt a conditional
# write: engine behaviour, so both engines (tests/support/engines.py).
pytestmark = pytest.mark.engines


@pytest.fixture
def dynamodb_calls(api: Api) -> Iterator[DynamoDBCalls]:
    with recording() as calls:
        yield calls


def test_platform_doc_examples_work(api: Api) -> None:
    token = token_for(api)
    call = TokenClient(api, token)
    response = call("GET", "/locations/loc1", headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.json_body == {
        "location": {
            "id": "loc1",
            "name": "Loc One",
            "companyId": "ag1",
            "settings": {"allowDuplicateContact": False},
        }
    }
    created = call(
        "POST",
        "/contacts/",
        {
            "firstName": "John",
            "lastName": "Doe",
            "email": "john@example.com",
            "phone": "+1234567890",
            "locationId": "loc1",
        },
    )
    assert created.status_code == 201, created.body
    contact = created.json_body["contact"]
    assert {k: contact[k] for k in ("firstName", "lastName", "email", "phone", "locationId", "name")} == {
        "firstName": "John",
        "lastName": "Doe",
        "email": "john@example.com",
        "phone": "+1234567890",
        "locationId": "loc1",
        "name": "John Doe",
    }
    assert contact["dateAdded"] == contact["dateUpdated"] == "2026-01-15T12:00:00.000Z"


def test_contacts_crud_list_and_duplicates(api: Api, frozen_clock: FakeClock) -> None:
    call = TokenClient(api, token_for(api))
    first = call("POST", "/contacts", {"locationId": "loc1", "email": "a@example.com"}).json_body["contact"]
    duplicate = call("POST", "/contacts/", {"locationId": "loc1", "email": "A@example.com", "firstName": "x"})
    assert duplicate.status_code == 400
    assert duplicate.json_body["message"] == "This location does not allow duplicated contacts."
    assert duplicate.json_body["meta"] == {"contactId": first["id"], "matchingField": "email"}
    ids = [first["id"]] + [
        call("POST", "/contacts", {"locationId": "loc1", "firstName": f"n{i}"}).json_body["contact"]["id"]
        for i in range(4)
    ]
    frozen_clock.advance(minutes=1)
    updated = call(
        "PUT", f"/contacts/{first['id']}", {"lastName": "Smith", "tags": ["vip"], "email": "b@example.com"}
    )
    assert updated.status_code == 200
    assert updated.json_body["contact"]["lastName"] == "Smith"
    assert updated.json_body["contact"]["dateUpdated"] == "2026-01-15T12:01:00.000Z"
    # The old e-mail is free again, the new one is taken.
    assert call("POST", "/contacts", {"locationId": "loc1", "email": "a@example.com"}).status_code == 201
    assert call("POST", "/contacts", {"locationId": "loc1", "email": "b@example.com"}).status_code == 400
    assert call("GET", f"/contacts/{first['id']}").json_body["contact"]["tags"] == ["vip"]

    page1 = call("GET", "/contacts/?locationId=loc1&limit=4").json_body
    assert page1["count"] == 4
    page2 = call(
        "GET", f"/contacts?locationId=loc1&limit=4&startAfterId={page1['contacts'][-1]['id']}"
    ).json_body
    assert page2["count"] == 2
    seen = [c["id"] for c in page1["contacts"] + page2["contacts"]]
    assert len(set(seen)) == 6 and set(ids) <= set(seen)
    assert call("GET", "/contacts?locationId=loc1&limit=0").status_code == 422
    assert call("GET", "/contacts").status_code == 422

    assert call("DELETE", f"/contacts/{first['id']}").json_body == {"succeded": True}
    assert call("GET", f"/contacts/{first['id']}").status_code == 404
    assert call("POST", "/contacts", {"locationId": "loc1", "email": "b@example.com"}).status_code == 201
    invalid = call("POST", "/contacts", {"locationId": "loc1", "email": "nope", "tags": "x", "age": 3})
    assert invalid.status_code == 422 and len(invalid.json_body["message"]) == 3


def test_tenancy_for_location_and_agency_tokens(api: Api) -> None:
    location = TokenClient(api, token_for(api))
    agency = TokenClient(api, token_for(api, "agencies/ag1", ["locations.readonly", "locations.write"]))
    # The location token's policy names loc1 only: API Gateway refuses loc2 before any code runs.
    denied = location("GET", "/locations/loc2")
    assert denied.status_code == 403
    assert "GET /locations/{location_id}" in denied.json_body["message"]
    assert location("POST", "/contacts", {"locationId": "loc2"}).status_code == 403
    assert location("GET", "/contacts?locationId=loc2").status_code == 403
    assert agency("GET", "/locations/loc1").status_code == 200
    assert agency("GET", "/locations/loc2").status_code == 200
    assert (
        agency("GET", "/locations/loc9").json_body["message"]
        == "The token does not have access to this location."
    )
    assert agency("GET", "/locations/nowhere").status_code == 403
    renamed = agency("PUT", "/locations/loc2", {"name": "Renamed", "companyId": "ag1"})
    assert renamed.json_body == {
        "id": "loc2",
        "name": "Renamed",
        "companyId": "ag1",
        "settings": {"allowDuplicateContact": False},
    }
    # A contact of another location is never shown.
    other = TokenClient(api, token_for(api, "locations/loc2"))
    contact_id = other("POST", "/contacts", {"locationId": "loc2", "firstName": "x"}).json_body["contact"][
        "id"
    ]
    for method in ("GET", "DELETE"):
        assert location(method, f"/contacts/{contact_id}").status_code == 404
    assert location("PUT", f"/contacts/{contact_id}", {"firstName": "y"}).status_code == 404
    assert other("GET", f"/contacts/{contact_id}").json_body["contact"]["firstName"] == "x"


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        (["locations.readonly"], {"GET /locations/loc1"}),
        (
            ["contacts.readonly"],
            {"GET /contacts/C", "GET /contacts?locationId=loc1", "POST /contacts/search", "GET duplicate"},
        ),
        (["contacts.write"], {"POST /contacts", "PUT /contacts/C", "DELETE /contacts/C", "POST upsert"}),
        (["locations/customValues.readonly"], set()),
    ],
)
def test_each_scope_opens_exactly_its_routes(api: Api, scopes: list[str], allowed: set[str]) -> None:
    seed = TokenClient(api, token_for(api))
    contact_id = seed("POST", "/contacts", {"locationId": "loc1", "firstName": "x"}).json_body["contact"][
        "id"
    ]
    call = TokenClient(api, token_for(api, scopes=scopes))
    routes = {
        "GET /locations/loc1": ("GET", "/locations/loc1", None),
        "GET /contacts/C": ("GET", f"/contacts/{contact_id}", None),
        "GET /contacts?locationId=loc1": ("GET", "/contacts?locationId=loc1", None),
        "POST /contacts": ("POST", "/contacts", {"locationId": "loc1"}),
        "PUT /contacts/C": ("PUT", f"/contacts/{contact_id}", {"firstName": "y"}),
        "DELETE /contacts/C": ("DELETE", f"/contacts/{contact_id}", None),
        # Literal routes beside /contacts/{contactId}: never taken for a contact id.
        "POST /contacts/search": ("POST", "/contacts/search", {"locationId": "loc1"}),
        "GET duplicate": ("GET", "/contacts/search/duplicate?locationId=loc1&email=x%40example.com", None),
        "POST upsert": ("POST", "/contacts/upsert", {"locationId": "loc1", "email": "u@example.com"}),
    }
    for label, (method, path, body) in routes.items():
        status = call(method, path, body).status_code
        assert (status < 300) == (label in allowed), (label, status)
        if label not in allowed:
            assert status == 403, (label, status)
            body = call(method, path, body).json_body
            assert body["statusCode"] == 403 and "scope" in body["message"]


def test_bad_tokens_are_401(api: Api, frozen_clock: FakeClock) -> None:
    integration_id, token = create(api, LOCATION_SCOPES)
    good = token
    bad_checksum = token[:-1] + ("A" if token[-1] != "A" else "B")
    unknown = token_text.generate()
    for header in [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic " + good,
        "Bearer pit-short",
        "Bearer " + bad_checksum,
        "Bearer " + unknown,
        "Bearer " + good + "x",
        good,
    ]:
        headers = dict(V)
        if header is not None:
            headers["Authorization"] = header
        assert api.client.http.get("/locations/loc1", headers=headers).status_code == 401, header
    denied = api.client.http.get("/locations/loc1", headers={**V, "Authorization": "Bearer " + unknown})
    assert denied.json_body["statusCode"] == 401 and denied.json_body["error"] == "Unauthorized"
    assert "Bearer" in denied.json_body["message"] and denied.headers["X-Trace-Id"]
    assert TokenClient(api, good)("GET", "/locations/loc1").status_code == 200
    api.delete(f"/private-integrations/{integration_id}")
    assert TokenClient(api, good)("GET", "/locations/loc1").status_code == 401


def test_expired_token_is_denied_before_ttl_deletes_it(api: Api, frozen_clock: FakeClock) -> None:
    token = token_for(api)
    item = TokenModel.get(token_text.digest(token))
    item.update(actions=[TokenModel.state.set("rotating"), TokenModel.expires_at.set(frozen_clock.current)])
    assert TokenModel.get(token_text.digest(token)).expires_at is not None  # still in the table
    assert TokenClient(api, token)("GET", "/locations/loc1").status_code == 401


def test_unknown_state_is_denied(api: Api) -> None:
    token = token_for(api)
    TokenModel.get(token_text.digest(token)).update(actions=[TokenModel.state.set("revoked")])
    assert TokenClient(api, token)("GET", "/locations/loc1").status_code == 401


def test_database_error_fails_closed(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    token = token_for(api)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("connection reset")

    monkeypatch.setattr(TokenModel, "get", broken)
    with pytest.raises(authorizer.AuthorizerUnavailable):
        authorizer.authorize(f"Bearer {token}", "arn:aws:execute-api:us-east-1:1:api/api/GET/locations/loc1")
    response = TokenClient(api, token)("GET", "/locations/loc1")
    assert response.status_code == 500


def test_one_read_per_authorization_and_none_for_malformed(api: Api, dynamodb_calls: DynamoDBCalls) -> None:
    token = token_for(api)
    arn = "arn:aws:execute-api:us-east-1:1:api/api/GET/locations/loc1"
    dynamodb_calls.calls.clear()
    for bad in ["Bearer pit-nope", "Bearer " + token[:-1] + ("A" if token[-1] != "A" else "B"), ""]:
        with pytest.raises(authorizer.Unauthorized):
            authorizer.authorize(bad, arn)
    assert dynamodb_calls.calls == []
    result = authorizer.authorize(f"Bearer {token}", arn)
    assert dynamodb_calls.count("GetItem") == 1
    assert result["context"]["ownerType"] == "location" and result["context"]["ownerId"] == "loc1"
    assert all(isinstance(value, str) for value in result["context"].values())
    assert result["context"]["scopes"] == " ".join(sorted(LOCATION_SCOPES))


def test_last_used_is_written_at_most_once_per_five_minutes(
    api: Api, frozen_clock: FakeClock, dynamodb_calls: DynamoDBCalls
) -> None:
    integration_id, token = create(api, LOCATION_SCOPES)
    arn = "arn:aws:execute-api:us-east-1:1:api/api/GET/locations/loc1"
    dynamodb_calls.calls.clear()
    for _ in range(50):
        authorizer.authorize(f"Bearer {token}", arn)
        frozen_clock.advance(seconds=5)  # 250 s in all
    assert dynamodb_calls.count("UpdateItem") == 1
    assert api.get(f"/private-integrations/{integration_id}").json_body["privateIntegration"][
        "lastUsedAt"
    ] == ("2026-01-15T12:00:00.000Z")
    frozen_clock.advance(seconds=50)  # 300 s after the first write
    authorizer.authorize(f"Bearer {token}", arn)
    assert dynamodb_calls.count("UpdateItem") == 2
    assert api.get(f"/private-integrations/{integration_id}").json_body["privateIntegration"][
        "lastUsedAt"
    ] == ("2026-01-15T12:05:00.000Z")


def test_failed_last_used_write_never_fails_the_request(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    token = token_for(api)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("throttled")

    monkeypatch.setattr(TokenModel, "update", broken)
    assert TokenClient(api, token)("GET", "/locations/loc1").status_code == 200


def test_scope_edit_applies_to_the_next_request(api: Api) -> None:
    integration_id, token = create(api, LOCATION_SCOPES)
    call = TokenClient(api, token)
    assert call("GET", "/locations/loc1").status_code == 200
    api.patch(f"/private-integrations/{integration_id}", {"scopes": ["contacts.readonly"]})
    assert call("GET", "/locations/loc1").status_code == 403
    assert call("GET", "/contacts?locationId=loc1").status_code == 200


def test_version_header_on_v2_routes(api: Api) -> None:
    token = token_for(api)
    response = api.client.http.get("/locations/loc1", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400 and "Version" in response.json_body["message"]
    for accepted in ("2021-07-28", "2021-04-15", "2023-02-21"):
        response = api.client.http.get(
            "/locations/loc1", headers={"Authorization": f"Bearer {token}", "Version": accepted}
        )
        assert response.status_code == 200, accepted
    for refused in ("2021-07-29", "2023-02-21 ", "v2", ""):
        response = api.client.http.get(
            "/locations/loc1", headers={"Authorization": f"Bearer {token}", "Version": refused}
        )
        assert response.status_code == 400, refused
        message = response.json_body["message"]
        assert "Version" in message and all(v in message for v in ("2021-07-28", "2021-04-15", "2023-02-21"))


def test_session_tokens_do_not_open_v2_and_integration_tokens_do_not_open_management(api: Api) -> None:
    token = token_for(api)
    from chalicelib.directory import sessions

    session = sessions.mint("admin")
    assert (
        api.client.http.get(
            "/locations/loc1", headers={"Authorization": f"Bearer {session}", **V}
        ).status_code
        == 401
    )
    response = api.client.http.get("/me", headers={"Authorization": f"Bearer {token}", **V})
    assert response.status_code == 401


def imported_in_a_fresh_interpreter(statements: str, modules: tuple[str, ...]) -> list[str]:
    """Which of `modules` are loaded after running `statements` in a new Python process (a cold start)."""
    import subprocess
    import sys

    code = f"import sys; {statements}; print(','.join(m for m in {modules!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [name for name in result.stdout.strip().split(",") if name]


def test_authorizer_import_path_is_lean() -> None:
    """The deployed authorizer's entry module pulls in no Chalice app, JWT library, boto3 or v2 code."""
    heavy = ("boto3", "jwt", "chalice", "app", "chalicelib.v2", "chalicelib.http", "aws_lambda_powertools")
    assert imported_in_a_fresh_interpreter("import chalicelib.tokens.entry", heavy) == []


def test_the_allowlist_adds_no_library_to_the_authorizers_cold_start() -> None:
    """Issue 28: `ipaddress`, the one library the allowlist matcher imports, is loaded by PynamoDB's own
    import (botocore's urllib3) already: the check adds only its own small module to the cold path."""
    assert imported_in_a_fresh_interpreter("import pynamodb.models", ("ipaddress",)) == ["ipaddress"]


def test_api_handler_imports_no_jwt_or_cryptography_until_needed() -> None:
    """A cold API handler pays for PyJWT (which imports `cryptography`, packaged for secret scanning) only
    when a session is checked: v2 requests never are."""
    assert imported_in_a_fresh_interpreter("import app", ("jwt", "cryptography")) == []
    minted = "import app; from chalicelib.directory import sessions; sessions.mint('user-admin')"
    assert imported_in_a_fresh_interpreter(minted, ("jwt",)) == ["jwt"]


def test_an_agency_tokens_policy_pins_no_tenant_so_the_handler_checks_the_agency(api: Api) -> None:
    """What docs/README state for downstream authors: an agency token's policy pins the API stage and
    the routes its scopes open, never a location; the handler's own check of `agencyId` is the guard."""
    token = token_for(api, "agencies/ag1", ["locations.readonly"])
    prefix = "arn:aws:execute-api:us-east-1:123456789012:api0000001/api"
    answer = authorizer.authorize(f"Bearer {token}", f"{prefix}/GET/locations/loc1")
    document = answer["policyDocument"]
    for location in ("loc1", "loc9", "any-other-agencys-location"):
        assert iam.evaluate(document, f"{prefix}/GET/locations/{location}")  # admitted at the gateway
    assert not iam.evaluate(document, f"{prefix}/GET/contacts/c1")  # a route its scopes do not open
    other_api = "arn:aws:execute-api:us-east-1:123456789012:other00001/api/GET/locations/loc1"
    assert not iam.evaluate(document, other_api)
    assert answer["context"]["agencyId"] == "ag1"
    refused = TokenClient(api, token)("GET", "/locations/loc9")  # another agency's location
    assert refused.status_code == 403
    assert refused.json_body["message"] == "The token does not have access to this location."
