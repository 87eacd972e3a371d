"""Expiry dates chosen at create and rotate: the TTL attribute, the authorizer, the cleanup's notices."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.audit.models import EventModel
from chalicelib.core import clock
from chalicelib.integrations import cleanup
from chalicelib.tokens.models import TokenModel
from tests.support import engines
from tests.support.lifecycle_helpers import (
    assert_consistent,
    authorizes,
    cancel,
    digest,
    race,
    rotate,
)
from tests.support.world import Api, FakeClock

# The engine's behaviour matters here: these run on moto and on DynamoDB Local (tests/support/engines.py).
pytestmark = pytest.mark.engines

NOT_A_TIME = "expiresAt must be an ISO 8601 date and time with a time zone"


def create_expiring(api: Api, **expiry: Any) -> Any:
    return api.post(
        "/locations/loc1/private-integrations", {"name": "app", "scopes": ["contacts.readonly"], **expiry}
    )


def issued(api: Api, **expiry: Any) -> tuple[str, str, dict[str, Any]]:
    response = create_expiring(api, **expiry)
    assert response.status_code == 201, response.body
    body = response.json_body
    return body["privateIntegration"]["id"], body["token"], body["privateIntegration"]


def notices(integration_id: str) -> list[tuple[str, Any]]:
    found = [e for e in EventModel.scan(consistent_read=True) if e.integration_id == integration_id]
    return [
        (e.type, e.details.get("daysLeft"))
        for e in sorted(found, key=lambda e: e.sk)
        if e.type in ("token.expiring", "token.expired", "token.rotation_recommended")
    ]


def test_the_authorizer_denies_exactly_at_the_chosen_expiry(api: Api, frozen_clock: FakeClock) -> None:
    integration_id, token, view = issued(api, expiresInDays=30)
    assert view["token"]["expiresAt"] == "2026-02-14T12:00:00.000Z"
    item = TokenModel.get(digest(token))
    assert item.expires_at is not None and item.expires_at == frozen_clock.current + timedelta(days=30)
    # The TTL attribute is epoch seconds (what DynamoDB deletes by).
    raw = TokenModel._get_connection().get_item(digest(token))["Item"]["expiresAt"]
    assert raw == {"N": str(clock.epoch(frozen_clock.current + timedelta(days=30)))}
    frozen_clock.advance(days=30, seconds=-1)
    assert authorizes(token)
    frozen_clock.advance(seconds=1)
    assert not authorizes(token)  # at expiresAt, before TTL has deleted anything
    fetched = api.get(f"/private-integrations/{integration_id}").json_body["privateIntegration"]
    assert fetched["token"]["expiresAt"] == "2026-02-14T12:00:00.000Z"


def test_expires_at_is_taken_as_sent_in_any_time_zone(api: Api, frozen_clock: FakeClock) -> None:
    _, token, view = issued(api, expiresAt="2026-03-01T09:30:00+02:00")
    assert view["token"]["expiresAt"] == "2026-03-01T07:30:00.000Z"
    _, never, plain = issued(api)
    assert plain["token"]["expiresAt"] is None and TokenModel.get(digest(never)).expires_at is None
    _, also_never, explicit = issued(api, expiresInDays=None, expiresAt=None)
    assert explicit["token"]["expiresAt"] is None
    assert authorizes(token) and authorizes(never) and authorizes(also_never)


@pytest.mark.parametrize(
    ("expiry", "problem"),
    [
        ({"expiresInDays": 0}, "expiresInDays must be a whole number of days from 1 to 366"),
        ({"expiresInDays": 367}, "expiresInDays must be a whole number of days from 1 to 366"),
        ({"expiresInDays": 1.5}, "expiresInDays must be a whole number of days from 1 to 366"),
        ({"expiresInDays": "30"}, "expiresInDays must be a whole number of days from 1 to 366"),
        ({"expiresInDays": True}, "expiresInDays must be a whole number of days from 1 to 366"),
        ({"expiresAt": "2026-01-15T11:59:59Z"}, "expiresAt must be in the future"),
        ({"expiresAt": "2027-01-17T12:00:01Z"}, "expiresAt must be at most 366 days ahead"),
        ({"expiresAt": "2026-02-01T00:00:00"}, NOT_A_TIME),
        ({"expiresAt": "next tuesday"}, NOT_A_TIME),
        ({"expiresAt": 1767225600}, NOT_A_TIME),
        # Out of datetime's range once shifted to UTC (was a 500).
        ({"expiresAt": "9999-12-31T23:59:59-23:59"}, NOT_A_TIME),
        ({"expiresAt": "0001-01-01T00:00:00+23:59"}, NOT_A_TIME),
        ({"expiresInDays": 30, "expiresAt": "2026-02-01T00:00:00Z"}, "send expiresInDays or expiresAt"),
    ],
)
def test_expiry_validation(api: Api, expiry: dict[str, Any], problem: str) -> None:
    for response in (
        create_expiring(api, **expiry),
        api.post("/private-integrations/nope/rotate", {"expire": "now", **expiry}),
    ):
        if response.status_code == 404:
            continue  # the rotate of a missing integration: checked below with a real one
        assert response.status_code == 422, response.body
        assert any(message.startswith(problem) for message in response.json_body["message"])
    integration_id, _, _ = issued(api)
    response = api.post(f"/private-integrations/{integration_id}/rotate", {"expire": "later", **expiry})
    assert response.status_code == 422
    assert any(message.startswith(problem) for message in response.json_body["message"])


def test_366_days_is_the_longest_and_edit_cannot_change_an_expiry(api: Api) -> None:
    integration_id, _, view = issued(api, expiresAt="2027-01-16T12:00:00Z")
    assert view["token"]["expiresAt"] == "2027-01-16T12:00:00.000Z"
    assert issued(api, expiresInDays=366)[2]["token"]["expiresAt"] == "2027-01-16T12:00:00.000Z"
    response = api.patch(f"/private-integrations/{integration_id}", {"expiresInDays": 5})
    assert response.status_code == 422
    assert response.json_body["message"][0].startswith("'expiresInDays' is not a field")


def test_rotate_with_and_without_a_new_expiry(api: Api, frozen_clock: FakeClock) -> None:
    integration_id, old, _ = issued(api, expiresInDays=90)
    body = {"expire": "later", "expiresInDays": 10}
    answer = api.post(f"/private-integrations/{integration_id}/rotate", body)
    assert answer.status_code == 200
    new = answer.json_body["token"]
    view = answer.json_body["privateIntegration"]
    assert view["token"]["expiresAt"] == "2026-01-25T12:00:00.000Z"
    assert view["rotation"]["expiresAt"] == "2026-01-22T12:00:00.000Z"  # the overlap, before its own end
    assert TokenModel.get(digest(new)).expires_at == frozen_clock.current + timedelta(days=10)
    (rotated,) = [e for e in EventModel.scan() if e.type == "token.rotated"]
    assert rotated.details["tokenExpiresAt"] == "2026-01-25T12:00:00.000Z"
    assert_consistent()
    # Rotating again without an expiry: the next token never expires.
    frozen_clock.advance(days=8)
    again = rotate(api, integration_id, "now")
    assert again.json_body["privateIntegration"]["token"]["expiresAt"] is None
    assert TokenModel.get(digest(again.json_body["token"])).expires_at is None
    assert not authorizes(old) and not authorizes(new) and authorizes(again.json_body["token"])
    assert_consistent()


def test_an_old_token_never_outlives_its_own_expiry_and_cancel_gives_it_back(
    api: Api, frozen_clock: FakeClock
) -> None:
    integration_id, old, _ = issued(api, expiresInDays=3)
    view = rotate(api, integration_id, "later").json_body["privateIntegration"]
    assert view["rotation"]["expiresAt"] == "2026-01-18T12:00:00.000Z"  # not the 7-day overlap
    assert TokenModel.get(digest(old)).expires_at == frozen_clock.current + timedelta(days=3)
    restored = cancel(api, integration_id).json_body["privateIntegration"]
    assert restored["token"]["expiresAt"] == "2026-01-18T12:00:00.000Z"  # its own expiry again
    assert TokenModel.get(digest(old)).expires_at == frozen_clock.current + timedelta(days=3)
    assert_consistent()
    rotate(api, integration_id, "later")
    frozen_clock.advance(days=3)
    assert not authorizes(old)
    assert cancel(api, integration_id).status_code == 409  # an expired token is never revived


def test_notices_7_days_and_1_day_before_and_at_the_end_once_each(api: Api, frozen_clock: FakeClock) -> None:
    integration_id, token, _ = issued(api, expiresInDays=30)
    item = TokenModel.get(digest(token))
    expires = item.expires_at
    assert expires is not None
    frozen_clock.advance(days=23, seconds=-1)
    assert cleanup.run()["expiryNoticesSent"] == 0
    frozen_clock.advance(seconds=1)
    assert cleanup.run()["expiryNoticesSent"] == 1
    assert cleanup.run()["itemsRead"] == 0  # once: nothing due until 1 day before
    frozen_clock.advance(days=6)
    assert cleanup.run()["expiryNoticesSent"] == 1
    assert cleanup.run()["itemsRead"] == 0
    frozen_clock.advance(days=1)
    assert authorizes(token) is False
    assert cleanup.run()["expiryNoticesSent"] == 1
    assert notices(integration_id) == [("token.expiring", 7), ("token.expiring", 1), ("token.expired", None)]
    # TTL and the cleanup agree: the item's TTL is the moment token.expired became due.
    (expired,) = [e for e in EventModel.scan() if e.type == "token.expired"]
    assert expired.details["expiresAt"] == clock.iso(expires) and expired.at == expires
    assert TokenModel.get(digest(token)).due_at is None  # nothing left to do: out of the due index
    frozen_clock.advance(days=30)
    assert cleanup.run()["itemsRead"] == 0
    assert notices(integration_id) == [("token.expiring", 7), ("token.expiring", 1), ("token.expired", None)]
    assert_consistent()


def test_a_late_run_records_only_the_latest_notice(api: Api, frozen_clock: FakeClock) -> None:
    short_id, _, _ = issued(api, expiresInDays=3)  # lives less than 7 days: no 7-day notice
    late_id, _, _ = issued(api, expiresInDays=30)
    frozen_clock.advance(days=2)
    cleanup.run()
    assert notices(short_id) == [("token.expiring", 1)]
    frozen_clock.advance(days=30)
    cleanup.run()
    assert notices(short_id) == [("token.expiring", 1), ("token.expired", None)]
    assert notices(late_id) == [("token.expired", None)]  # never a late "7 days left"


def test_reminder_and_expiry_notices_of_one_token(api: Api, frozen_clock: FakeClock) -> None:
    long_id, _, _ = issued(api, expiresInDays=100)
    short_id, _, _ = issued(api, expiresInDays=60)  # ends before 90 days: no rotation reminder
    for _ in range(110):
        frozen_clock.advance(days=1)
        cleanup.run()
    assert notices(long_id) == [
        ("token.rotation_recommended", None),
        ("token.expiring", 7),
        ("token.expiring", 1),
        ("token.expired", None),
    ]
    assert notices(short_id) == [("token.expiring", 7), ("token.expiring", 1), ("token.expired", None)]


def test_an_integration_whose_token_expired_can_be_edited_and_rotated(
    api: Api, frozen_clock: FakeClock
) -> None:
    integration_id, token, _ = issued(api, expiresInDays=1)
    frozen_clock.advance(days=2)
    TokenModel(digest(token)).delete()  # TTL deleted it (moto never does by itself)
    edited = api.patch(f"/private-integrations/{integration_id}", {"scopes": ["contacts.write"]})
    assert edited.status_code == 200, edited.body
    answer = rotate(api, integration_id, "later")
    assert answer.status_code == 200, answer.body
    assert answer.json_body["privateIntegration"]["rotation"] is None  # nothing left to overlap
    assert authorizes(answer.json_body["token"]) and not authorizes(token)
    assert TokenModel.get(digest(answer.json_body["token"])).scopes == ["contacts.write"]
    assert_consistent()


def test_a_rotation_landing_between_the_cleanups_read_and_its_notice(
    api: Api, frozen_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notice's claim is conditioned on the token still being the active one: a rotation that
    lands first wins, no notice is recorded for a token that is rotating out, and nothing breaks."""
    integration_id, old, _ = issued(api, expiresInDays=30)
    frozen_clock.advance(days=23)
    rotated: list[Any] = []
    race(monkeypatch, lambda: rotated.append(rotate(api, integration_id, "later")))
    summary = cleanup.run(parallel=False)
    monkeypatch.undo()
    assert rotated[0].status_code == 200
    assert summary["expiryNoticesSent"] == 0 and summary["failed"] == 0
    assert notices(integration_id) == []
    assert TokenModel.get(digest(old)).state == "rotating"
    assert_consistent()
    # The new token (no expiry chosen) gets no notice; the old one is finished when its overlap ends,
    # which its own expiry brings forward.
    frozen_clock.advance(days=7)
    assert cleanup.run()["rotationsCompleted"] == 1
    assert notices(integration_id) == []
    assert_consistent()


def test_a_token_deleted_by_ttl_is_refused_and_its_integration_still_answers(
    api: Api, frozen_clock: FakeClock, engine: str
) -> None:
    """DynamoDB deletes expired items by TTL some time after `expiresAt` (DynamoDB Local within about
    a second of its wall clock; moto never). Nothing a user sees may depend on when."""
    if engine != engines.DYNAMODB_LOCAL:
        pytest.skip("moto never deletes items by TTL")
    integration_id, token, _ = issued(api, expiresInDays=1)
    frozen_clock.advance(days=2)
    client = TokenModel._get_connection().connection.client
    client.update_time_to_live(  # the test world switched it off: on again, as deployed
        TableName=TokenModel.Meta.table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"},
    )
    # The controllable clock is behind the wall clock: the item is past its TTL for DynamoDB Local.
    deadline = time.monotonic() + 30
    while TokenModel.count(consistent_read=True) and time.monotonic() < deadline:
        time.sleep(0.2)  # DynamoDB Local's TTL sweeper, not the service's lifecycle
    assert TokenModel.count(consistent_read=True) == 0
    assert not authorizes(token)
    assert api.get(f"/private-integrations/{integration_id}").status_code == 200
    assert cleanup.run()["failed"] == 0
    assert api.post(f"/private-integrations/{integration_id}/rotate", {"expire": "now"}).status_code == 200
