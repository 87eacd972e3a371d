"""The v2 routes answer as the platform's documents say (issue 12): fields, shapes, searches, upsert.

Every response goes through TokenClient, which checks it against the documented response schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.v2 import schema
from chalicelib.v2.models import ContactKeyModel, ContactModel
from local import seed
from tests.support.v2_client import TokenClient, token_for
from tests.support.world import Api, FakeClock, scan_all_items

# Contacts' unique guards and upserts are transactions, and the authorizer's lastUsedAt a conditional
# write: engine behaviour, so both engines (tests/support/engines.py).
pytestmark = pytest.mark.engines

AGENCY_SCOPES = ["locations.readonly", "locations.write"]


def documented_example(dto: str) -> dict[str, Any]:
    """The platform's own example body: every property's `example` in the document."""
    fields = schema.component("contacts", dto)["properties"]
    return {key: prop["example"] for key, prop in fields.items() if "example" in prop}


def contact_client(api: Api, location: str = "loc1") -> TokenClient:
    return TokenClient(api, token_for(api, f"locations/{location}"))


def no_nulls(value: Any) -> bool:
    if isinstance(value, dict):
        return all(v is not None and no_nulls(v) for v in value.values())
    if isinstance(value, list):
        return all(no_nulls(v) for v in value)
    return True


def test_the_documented_example_body_is_stored_and_answered_field_by_field(api: Api) -> None:
    call = contact_client(api)
    body = {
        **documented_example("CreateContactDto"),
        "locationId": "loc1",
        "dndSettings": {
            "SMS": {"status": "active", "message": "asked", "code": "c1"},
            "Call": {"status": "inactive"},
        },
        "inboundDndSettings": {"all": {"status": "active", "message": "stop"}},
        "customFields": [
            {"id": "6dvNaf7VhkQ9snc5vnjJ", "key": "my_custom_field", "field_value": "My Text"},
            {"id": "num1", "field_value": 100},
            {"id": "box1", "field_value": ["test", "test2"]},
        ],
    }
    assert set(body) == set(schema.properties("contacts", "CreateContactDto"))  # every documented field
    created = call("POST", "/contacts/", body)
    assert created.status_code == 201, created.json_body
    contact = created.json_body["contact"]
    fetched = call("GET", f"/contacts/{contact['id']}").json_body["contact"]
    assert fetched == contact
    normalised = {"phone": "+18888888888", "customFields": None}
    for key, value in body.items():
        if key not in normalised:
            assert fetched[key] == value, key
    assert fetched["phone"] == "+18888888888"
    assert fetched["customFields"] == [
        {"id": "6dvNaf7VhkQ9snc5vnjJ", "value": "My Text"},
        {"id": "num1", "value": "100"},
        {"id": "box1", "value": '["test", "test2"]'},
    ]
    assert fetched["emailLowerCase"] == "rosan@deos.com"
    assert fetched["fullNameLowerCase"] == "rosan deo"


def test_unset_fields_are_omitted_and_null_clears_a_field(api: Api) -> None:
    call = contact_client(api)
    created = call("POST", "/contacts", {"locationId": "loc1", "firstName": "Ann", "city": "Oslo"}).json_body
    contact = created["contact"]
    assert no_nulls(created)
    assert "email" not in contact and "phone" not in contact and "lastName" not in contact
    updated = call("PUT", f"/contacts/{contact['id']}", {"city": None, "lastName": "Lee", "dnd": False})
    assert updated.status_code == 200
    assert updated.json_body["succeded"] is True
    after = updated.json_body["contact"]
    assert "city" not in after and after["lastName"] == "Lee" and after["dnd"] is False
    assert after["name"] == "Ann Lee"
    assert call("GET", f"/contacts/{contact['id']}").json_body["contact"] == after


def test_wrong_types_and_unknown_fields_are_422_naming_each(api: Api) -> None:
    call = contact_client(api)
    response = call(
        "POST",
        "/contacts",
        {
            "locationId": "loc1",
            "dnd": "yes",
            "tags": ["ok", 3],
            "dndSettings": {"SMS": {"status": "maybe"}, "Pager": {"status": "active"}},
            "customFields": [{"key": "no_id", "field_value": "x"}],
            "dateOfBirth": "25th of May",
            "website": 12,
            "age": 3,
            "firstName": None,
        },
    )
    assert response.status_code == 422
    problems = response.json_body["message"]
    for expected in [
        "dnd must be true or false",
        "tags[1] must be a string",
        "dndSettings.SMS.status must be one of: active, inactive, permanent",
        "'dndSettings.Pager' is not a documented field",
        "customFields[0] must match one of the documented shapes",
        "dateOfBirth must be a date",
        "website must be a string",
        "'age' is not a documented field of CreateContactDto",
    ]:
        assert any(problem.startswith(expected) for problem in problems), (expected, problems)
    assert len(problems) == 8
    assert call("POST", "/contacts", {"firstName": "x"}).json_body["message"] == ["locationId is required"]
    # UpdateContactDto has no locationId: a contact cannot move.
    contact_id = call("POST", "/contacts", {"locationId": "loc1"}).json_body["contact"]["id"]
    moved = call("PUT", f"/contacts/{contact_id}", {"locationId": "loc2"})
    assert (
        moved.status_code == 422 and "'locationId' is not a documented field" in moved.json_body["message"][0]
    )


def test_duplicates_by_email_or_phone_carry_the_platform_meta(api: Api) -> None:
    call = contact_client(api)
    first = call(
        "POST",
        "/contacts",
        {"locationId": "loc1", "name": "Jo Doe", "email": "jo@example.com", "phone": "+1 555 0100"},
    ).json_body["contact"]
    by_email = call("POST", "/contacts", {"locationId": "loc1", "email": "JO@example.com"})
    assert by_email.status_code == 400
    assert by_email.json_body["message"] == "This location does not allow duplicated contacts."
    assert by_email.json_body["meta"] == {
        "contactId": first["id"],
        "matchingField": "email",
        "contactName": "Jo Doe",
    }
    by_phone = call("POST", "/contacts", {"locationId": "loc1", "phone": "+1 (555) 0100"})
    assert by_phone.status_code == 400
    assert by_phone.json_body["meta"] == {
        "contactId": first["id"],
        "matchingField": "phone",
        "contactName": "Jo Doe",
    }
    other = call("POST", "/contacts", {"locationId": "loc1", "phone": "+15550199"}).json_body["contact"]
    taken = call("PUT", f"/contacts/{other['id']}", {"phone": "15550100"})
    assert taken.status_code == 400 and taken.json_body["meta"]["matchingField"] == "phone"
    # Another location may hold the same e-mail.
    assert (
        contact_client(api, "loc2")(
            "POST", "/contacts", {"locationId": "loc2", "email": "jo@example.com"}
        ).status_code
        == 201
    )


def test_get_contacts_query_and_paging_as_documented(api: Api, frozen_clock: FakeClock) -> None:
    call = contact_client(api)
    ids = []
    for i in range(5):
        frozen_clock.advance(seconds=1)
        body = {"locationId": "loc1", "firstName": f"Person{i}", "email": f"p{i}@example.com"}
        ids.append(call("POST", "/contacts", body).json_body["contact"]["id"])
    found = call("GET", "/contacts/?locationId=loc1&query=p3@example.com").json_body
    assert [c["id"] for c in found["contacts"]] == [ids[3]]
    assert call("GET", "/contacts/?locationId=loc1&query=PERSON").json_body["count"] == 5
    assert call("GET", "/contacts/?locationId=loc1&query=nobody").json_body["contacts"] == []
    # A page is `limit` matches, however many non-matching contacts come before them.
    late_match = call("GET", "/contacts/?locationId=loc1&query=person4&limit=1").json_body
    assert [c["id"] for c in late_match["contacts"]] == [ids[4]] and late_match["meta"]["total"] == 1

    page1 = call("GET", "/contacts/?locationId=loc1&limit=2").json_body
    assert [c["id"] for c in page1["contacts"]] == ids[:2]
    meta = page1["meta"]
    assert meta["total"] == 5 and meta["startAfterId"] == ids[1]
    page2 = call(
        "GET",
        f"/contacts/?locationId=loc1&limit=2&startAfter={meta['startAfter']}&startAfterId={meta['startAfterId']}",
    ).json_body
    assert [c["id"] for c in page2["contacts"]] == ids[2:4]
    by_id_only = call("GET", f"/contacts/?locationId=loc1&limit=2&startAfterId={ids[3]}").json_body
    assert [c["id"] for c in by_id_only["contacts"]] == ids[4:]
    # startAfter alone: contacts added after that moment (each was added a second apart).
    by_time = call("GET", f"/contacts/?locationId=loc1&startAfter={meta['startAfter']}").json_body
    assert [c["id"] for c in by_time["contacts"]] == ids[2:]
    bad = call("GET", "/contacts/?locationId=loc1&startAfter=yesterday&sortBy=name")
    assert bad.status_code == 422 and len(bad.json_body["message"]) == 2
    assert "'sortBy'" in bad.json_body["message"][0]


def test_search_serves_documented_filters_and_refuses_the_rest(api: Api, frozen_clock: FakeClock) -> None:
    call = contact_client(api)
    people: list[dict[str, Any]] = [
        {"firstName": "Ann", "city": "Oslo", "tags": ["vip"], "email": "ann@example.com"},
        {"firstName": "Bob", "city": "Oslo", "tags": ["new"], "dnd": True},
        {"firstName": "Cid", "city": "Rome", "tags": ["vip", "new"]},
    ]
    ids = []
    for person in people:
        frozen_clock.advance(seconds=1)
        ids.append(call("POST", "/contacts", {"locationId": "loc1", **person}).json_body["contact"]["id"])

    def search(**body: Any) -> Any:
        return call("POST", "/contacts/search", {"locationId": "loc1", **body})

    def found(**body: Any) -> list[str]:
        response = search(**body)
        assert response.status_code == 200, response.json_body
        return [c["id"] for c in response.json_body["contacts"]]

    assert found() == ids
    assert found(filters=[{"field": "city", "operator": "eq", "value": "Oslo"}]) == ids[:2]
    assert found(filters=[{"field": "tags", "operator": "eq", "value": "vip"},
                          {"field": "city", "operator": "not_eq", "value": "Oslo"}]) == [ids[2]]  # fmt: skip
    assert found(filters=[{"field": "email", "operator": "exists"}]) == [ids[0]]
    assert found(filters=[{"field": "dnd", "operator": "eq", "value": True}]) == [ids[1]]
    assert found(filters=[{"field": "email", "operator": "eq", "value": "ANN@example.com"}]) == [ids[0]]
    assert found(query="bo") == [ids[1]]
    first = search(pageLimit=2).json_body
    assert first["total"] == 3 and len(first["contacts"]) == 2
    assert found(pageLimit=2, searchAfter=first["contacts"][-1]["searchAfter"]) == [ids[2]]

    refused = search(
        filters=[
            {"field": "dateAdded", "operator": "range", "value": {"gt": 1}},
            {"group": "OR", "filters": []},
            {"field": "city", "operator": "contains", "value": "Os"},
        ],
        sort=[{"field": "firstName", "direction": "desc"}],
        page=2,
        pageLimit=500,
        anything=1,
    )
    assert refused.status_code == 422
    problems = refused.json_body["message"]
    assert len(problems) == 7, problems
    for fragment in ["'anything'", "pageLimit", "page:", "sort", "filters[0].field 'dateAdded'",
                     "filters[1]: filter groups", "filters[2].operator 'contains'"]:  # fmt: skip
        assert any(fragment in problem for problem in problems), (fragment, problems)
    assert search(locationId="loc2").status_code == 403


def test_upsert_matches_email_then_phone_in_one_transaction(api: Api) -> None:
    call = contact_client(api)
    created = call(
        "POST", "/contacts/upsert", {"locationId": "loc1", "email": "a@example.com", "firstName": "A"}
    )
    assert created.status_code == 200 and created.json_body["new"] is True
    contact_id = created.json_body["contact"]["id"]
    by_email = call(
        "POST", "/contacts/upsert", {"locationId": "loc1", "email": "A@example.com", "phone": "+4711111"}
    )
    assert by_email.json_body["new"] is False
    assert (
        by_email.json_body["contact"]["id"] == contact_id
        and by_email.json_body["contact"]["phone"] == "+4711111"
    )
    by_phone = call("POST", "/contacts/upsert", {"locationId": "loc1", "phone": "4711111", "city": "Oslo"})
    assert by_phone.json_body["new"] is False and by_phone.json_body["contact"]["city"] == "Oslo"
    other = call(
        "POST", "/contacts/upsert", {"locationId": "loc1", "phone": "+4799999", "firstName": "B"}
    ).json_body
    assert other["new"] is True
    # E-mail names the first contact, phone the second: the e-mail wins and the phone is left alone.
    both = call(
        "POST", "/contacts/upsert", {"locationId": "loc1", "email": "a@example.com", "phone": "+4799999"}
    )
    assert both.json_body["contact"]["id"] == contact_id and both.json_body["contact"]["phone"] == "4711111"
    assert len(list(ContactModel.scan())) == 2
    guards = {guard.key: guard.contact_id for guard in ContactKeyModel.scan()}
    assert guards == {
        "loc1#email#a@example.com": contact_id,
        "loc1#phone#4711111": contact_id,
        "loc1#phone#4799999": other["contact"]["id"],
    }
    assert call("POST", "/contacts/upsert", {"email": "x@example.com"}).status_code == 422
    assert (
        call("POST", "/contacts/upsert", {"locationId": "loc2", "email": "x@example.com"}).status_code == 403
    )


def test_delete_frees_the_email_and_phone(api: Api) -> None:
    call = contact_client(api)
    body = {"locationId": "loc1", "email": "d@example.com", "phone": "+4712345"}
    contact_id = call("POST", "/contacts", body).json_body["contact"]["id"]
    assert call("DELETE", f"/contacts/{contact_id}").json_body == {"succeded": True}
    assert not [item for item in scan_all_items() if "contactId" in item]
    assert call("POST", "/contacts", body).status_code == 201


def test_duplicate_lookup(api: Api) -> None:
    call = contact_client(api)
    contact_id = call(
        "POST", "/contacts", {"locationId": "loc1", "email": "e@example.com", "phone": "+1423164516"}
    ).json_body["contact"]["id"]
    for query in [
        "email=E%40example.com",
        "number=%2B1423164516",
        "email=none%40example.com&number=1423164516",
    ]:
        response = call("GET", f"/contacts/search/duplicate?locationId=loc1&{query}")
        assert response.status_code == 200 and response.json_body["contact"]["id"] == contact_id, query
    assert call("GET", "/contacts/search/duplicate?locationId=loc1&email=x%40example.com").json_body == {
        "contact": None
    }
    assert call("GET", "/contacts/search/duplicate?locationId=loc1").status_code == 422
    assert call("GET", "/contacts/search/duplicate?locationId=loc2&email=e%40example.com").status_code == 403


def test_location_update_takes_the_documented_body_and_answers_flat(api: Api) -> None:
    agency = TokenClient(api, token_for(api, "agencies/ag1", AGENCY_SCOPES))
    body = {
        "companyId": "ag1",
        "name": "Loc One Renamed",
        "phone": "+1410039940",
        "address": "4th fleet street",
        "city": "New York",
        "state": "Illinois",
        "country": "US",
        "postalCode": "567654",
        "website": "https://yourwebsite.com",
        "timezone": "US/Central",
        "social": {"facebookUrl": "https://www.facebook.com/"},
    }
    updated = agency("PUT", "/locations/loc1", body)
    assert updated.status_code == 200
    expected = {**body, "id": "loc1", "settings": {"allowDuplicateContact": False}}
    assert updated.json_body == expected
    assert agency("GET", "/locations/loc1").json_body == {"location": expected}
    refused = agency(
        "PUT",
        "/locations/loc1",
        {"companyId": "ag2", "country": "XX", "twilio": {"sid": "a", "authToken": "b"}},
    )
    assert refused.status_code == 422
    problems = refused.json_body["message"]
    assert len(problems) == 3 and any("companyId must be this location's agency 'ag1'" in p for p in problems)
    assert agency("PUT", "/locations/loc1", {"name": "No company"}).json_body["message"] == [
        "companyId is required"
    ]


def test_upsert_racing_a_create_never_makes_a_duplicate(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer takes the e-mail between upsert's lookup and its write: the guard's condition
    cancels the transaction and upsert decides again, updating that contact."""
    from chalicelib.v2 import contact_store

    call = contact_client(api)
    existing = call("POST", "/contacts", {"locationId": "loc1", "email": "race@example.com"}).json_body[
        "contact"
    ]
    real_match = contact_store.match
    calls: list[int] = []

    def stale_first_lookup(location_id: str, fields: dict[str, Any]) -> Any:
        calls.append(1)
        return None if len(calls) == 1 else real_match(location_id, fields)

    monkeypatch.setattr(contact_store, "match", stale_first_lookup)
    upserted = call(
        "POST", "/contacts/upsert", {"locationId": "loc1", "email": "race@example.com", "city": "Oslo"}
    )
    assert upserted.status_code == 200, upserted.json_body
    assert upserted.json_body["new"] is False and upserted.json_body["contact"]["id"] == existing["id"]
    assert len(list(ContactModel.scan())) == 1
    assert {guard.contact_id for guard in ContactKeyModel.scan()} == {existing["id"]}


def test_concurrent_update_is_409_and_keeps_guards_consistent(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.v2 import contacts

    call = contact_client(api)
    contact_id = call("POST", "/contacts", {"locationId": "loc1", "email": "one@example.com"}).json_body[
        "contact"
    ]["id"]
    stale = ContactModel.get(contact_id)
    assert call("PUT", f"/contacts/{contact_id}", {"email": "two@example.com"}).status_code == 200
    monkeypatch.setattr(contacts, "accessible_contact", lambda token, cid: stale)
    # Saving the stale copy would bring back the old e-mail without its guard: refused instead.
    late = call("PUT", f"/contacts/{contact_id}", {"city": "Oslo"})
    assert late.status_code == 409 and "send it again" in late.json_body["message"]
    assert ContactModel.get(contact_id).email == "two@example.com"
    assert "city" not in call("GET", f"/contacts/{contact_id}").json_body["contact"]
    assert [guard.key for guard in ContactKeyModel.scan()] == ["loc1#email#two@example.com"]
    stale_delete = call("DELETE", f"/contacts/{contact_id}")
    assert stale_delete.status_code == 409
    assert [guard.key for guard in ContactKeyModel.scan()] == ["loc1#email#two@example.com"]


def test_seeded_location_fields_are_answered_and_checked(api: Api, tmp_path: Path) -> None:
    directory_file = tmp_path / "seed.json"
    extra = {"address": "1 Main St", "city": "Oslo", "country": "NO", "email": "desk@example.com"}
    location_seven = {"id": "loc7", "agencyId": "ag1", "name": "Seven", **extra}
    directory_file.write_text(json.dumps({"locations": [location_seven]}))
    seed.load_seed(directory_file)
    agency = TokenClient(api, token_for(api, "agencies/ag1", AGENCY_SCOPES))
    location = agency("GET", "/locations/loc7").json_body["location"]
    assert location == {
        "id": "loc7",
        "companyId": "ag1",
        "name": "Seven",
        **extra,
        "settings": {"allowDuplicateContact": False},
    }
    bad = {"id": "loc8", "agencyId": "ag1", "city": 5, "color": "red"}
    directory_file.write_text(json.dumps({"locations": [bad]}))
    with pytest.raises(ValueError, match=r"city must be a string.*'color' is not a documented field"):
        seed.load_seed(directory_file)
