"""The outbox: every audit event reaches EventBridge once, from the events table's stream (moto's and
DynamoDB Local's), through the app's `publish_audit_events` and the emulated event source mapping's
retry rules."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from chalicelib.audit import outbox, trail
from chalicelib.audit.models import EventModel
from chalicelib.integrations import cleanup
from chalicelib.tokens import token_text
from tests.support.bus import Bus
from tests.support.lifecycle_helpers import cancel, create, expire_now, rotate
from tests.support.world import Api, FakeClock

pytestmark = pytest.mark.engines


def stored_events() -> dict[str, EventModel]:
    return {event.id: event for event in EventModel.scan(consistent_read=True)}


def via_app(api: Api) -> Any:
    """The deployed handler's path: Chalice's DynamoDB event wrapper around outbox.handle."""
    return lambda event: api.client.lambda_.invoke("publish_audit_events", event).payload


def test_every_audit_event_type_reaches_eventbridge_once(api: Api, frozen_clock: FakeClock) -> None:
    bus = Bus(handler=via_app(api))
    shown: list[str] = []
    integration_id, token = create(api)
    shown.append(token)
    api.patch(f"/private-integrations/{integration_id}", {"name": "renamed"})
    shown.append(rotate(api, integration_id, "later").json_body["token"])
    cancel(api, integration_id)
    shown.append(rotate(api, integration_id, "later").json_body["token"])
    expire_now(api, integration_id)
    shown.append(rotate(api, integration_id, "now").json_body["token"])
    shown.append(rotate(api, integration_id, "later").json_body["token"])
    expiring = api.post(
        "/locations/loc1/private-integrations",
        {"name": "short-lived", "scopes": ["contacts.readonly"], "expiresInDays": 30},
    ).json_body
    shown.append(expiring["token"])
    api.put("/agencies/ag1/users/staff/permissions", {"privateIntegrations": {"agency": True}})
    api.put("/agencies/ag1/labs", {"privateIntegrations": False})
    api.put("/agencies/ag1/labs", {"privateIntegrations": True})
    frozen_clock.advance(days=23)
    cleanup.run(parallel=False)  # rotation.completed, token.expiring (7 days left)
    frozen_clock.advance(days=67)
    cleanup.run(parallel=False)  # token.expired, token.rotation_recommended
    api.delete(f"/private-integrations/{integration_id}")
    shown.append(create(api)[1])
    api.post("/agencies/ag1/private-integrations/revoke-all", {"reason": "drill"})

    published = bus.published()
    stored = stored_events()
    assert sorted(message["detail"]["id"] for message in published) == sorted(stored)  # each once
    assert {message["detail-type"] for message in published} == {
        "integration.created",
        "integration.updated",
        "integration.deleted",
        "token.rotated",
        "rotation.cancelled",
        "rotation.expired_now",
        "rotation.completed",
        "token.rotation_recommended",
        "token.expiring",
        "token.expired",
        "permissions.updated",
        "labs.updated",
        "agency.revoked_all",
    }
    for message in published:
        event = stored[message["detail"]["id"]]
        assert message["source"] == "private-integrations"
        assert message["detail-type"] == event.type
        assert message["detail"] == {**trail.view(event), "agencyId": event.agency_id}
    text = json.dumps(published)
    for token in shown:
        assert token not in text and token[4:] not in text and token_text.digest(token) not in text
    assert bus.published() == []  # nothing is published again


def test_a_type_nobody_listed_is_published_too(api: Api) -> None:
    """No list of types: an event type added later (issue 14's token.leaked) needs no change here."""
    bus = Bus()
    integration_id, _ = create(api)
    bus.published()
    from chalicelib.core.vocabulary import Owner, OwnerType

    owner = Owner(OwnerType.LOCATION, "loc1", "ag1")
    event = trail.new_event("token.leaked", "scanner", owner, {"tokenHint": "pit-…abcd"}, integration_id)
    with trail.recorded_change(event):
        pass
    (message,) = bus.published()
    assert message["detail-type"] == "token.leaked" and message["detail"]["id"] == event.id


def test_no_secret_leaves_even_if_an_event_carried_one(api: Api) -> None:
    _, token = create(api)
    from chalicelib.core.vocabulary import Owner, OwnerType

    owner = Owner(OwnerType.LOCATION, "loc1", "ag1")
    leaky = trail.new_event(
        "token.leaked", "x", owner, {"found": f"in a gist: {token}", "hashes": [token_text.digest(token)]}
    )
    detail = outbox.detail(leaky)
    assert detail["details"] == {"found": "in a gist: [redacted]", "hashes": ["[redacted]"]}
    digest = token_text.digest(token)
    sneaky = trail.new_event(
        "token.leaked", "x", owner, {f"key_{digest}": [f"hash_{digest.upper()}", f"x{digest}y"]}
    )
    assert outbox.detail(sneaky)["details"] == {"key_[redacted]": ["hash_[redacted]", "x[redacted]y"]}


def test_an_oversized_event_is_published_without_its_details_so_it_cannot_block_the_stream(
    api: Api,
) -> None:
    """PutEvents refuses a call over 256 KB on every attempt: such an event would take its batch to the
    failure queue. Ten entries of at most MAX_DETAIL_BYTES always fit."""
    from chalicelib.core.vocabulary import Owner, OwnerType

    owner = Owner(OwnerType.LOCATION, "loc1", "ag1")
    big = trail.new_event("integration.updated", "x", owner, {"note": "n" * 300_000})
    entry = outbox.entry(big)
    assert len(entry["Detail"].encode()) <= outbox.MAX_DETAIL_BYTES
    assert json.loads(entry["Detail"])["details"] == {"truncated": True}
    assert json.loads(entry["Detail"])["id"] == big.id
    assert 10 * outbox.MAX_DETAIL_BYTES < 256 * 1024


class RefusingBus:
    """EventBridge (moto's) except that entries whose event id is in `refuse` are refused
    (ErrorCode InternalFailure) `times` times each: a per-entry failure moto cannot produce itself."""

    def __init__(self, refuse: set[str], times: int) -> None:
        self.refuse, self.left = refuse, dict.fromkeys(refuse, times)
        self.calls: list[list[str]] = []
        self.client = boto3.client("events", region_name="us-east-1")

    def __call__(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        ids = [json.loads(entry["Detail"])["id"] for entry in entries]
        self.calls.append(ids)
        results: list[dict[str, Any]] = []
        for event_id, entry in zip(ids, entries, strict=True):
            if self.left.get(event_id, 0) > 0:
                self.left[event_id] -= 1
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "try again"})
            else:
                results.append(self.client.put_events(Entries=[entry])["Entries"][0])
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


def _three_events(api: Api) -> list[str]:
    for _ in range(3):
        create(api)
    return sorted(stored_events())  # event ids sort by time: the stream's order


def test_a_refused_entry_is_sent_again_alone(api: Api) -> None:
    ids = _three_events(api)
    send = RefusingBus({ids[1]}, times=1)
    bus = Bus(send=send)
    published = bus.published()
    assert sorted(m["detail"]["id"] for m in published) == ids  # each exactly once
    assert send.calls == [ids, [ids[1]]]  # the retry carries only the refused entry


def test_a_record_that_keeps_failing_is_retried_from_itself_then_dead_lettered(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _three_events(api)
    send = RefusingBus({ids[1]}, times=10**6)
    bus = Bus(send=send)
    retries = bus.mapping.max_retry_attempts
    published = [m["detail"]["id"] for m in bus.published()]
    # Lambda's rule with a partial batch response (bisecting applies only to a function error): the
    # batch is split at the failed record and all the rest of it is retried, then given up together.
    # The record after the refused one went through in the same PutEvents call; the retries skip it.
    assert published == [ids[0], ids[2]]  # each once: records before the failed one are never resent
    retried = [call for call in send.calls if call and call[0] == ids[1]]
    assert len(retried) >= retries  # retried from the failed record, not from the batch's start
    (dead,) = bus.dead_lettered()
    info = dead["DDBStreamBatchInfo"]
    assert dead["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["batchSize"] == 2 and info["startSequenceNumber"] != info["endSequenceNumber"]
    assert bus.published() == []


def test_given_up_records_are_republished_from_the_dead_letter_queue_once_fixed(api: Api) -> None:
    """The Runbook's step for AlarmOutboxFailuresQueued: scripts/republish_events.py."""
    from scripts import republish_events
    from tests.support.bus import streams_client

    ids = _three_events(api)
    refusing = RefusingBus({ids[1]}, times=10**6)
    bus = Bus(send=refusing)
    assert [m["detail"]["id"] for m in bus.published()] == [ids[0], ids[2]]
    refusing.left.clear()  # EventBridge takes it again
    republished, left = republish_events.republish_queue(
        bus.sqs, bus.dead_letters, streams_client(), outbox.put_events
    )
    assert (republished, left) == (2, 0)
    # The given-up range is records 1-2; record 2 was published already (remembered here; a fresh
    # process would publish it again: at least once).
    messages = bus.published()
    assert [m["detail"]["id"] for m in messages] == [ids[1]]
    assert {m["detail-type"] for m in messages} == {"integration.created"}
    assert bus.dead_lettered() == []  # the message was deleted


def test_a_failed_invocation_publishes_nothing_twice(api: Api) -> None:
    """PutEvents throttled or unreachable (after botocore's retries): the batch is retried whole."""
    ids = _three_events(api)
    down = {"left": 2}

    def flaky(entries: list[dict[str, Any]]) -> dict[str, Any]:
        if down["left"]:
            down["left"] -= 1
            raise ConnectionError("EventBridge unreachable")
        return outbox.put_events(entries)

    assert sorted(m["detail"]["id"] for m in Bus(send=flaky).published()) == ids


def test_updates_and_removals_in_the_stream_publish_nothing() -> None:
    record = {"eventName": "MODIFY", "dynamodb": {"SequenceNumber": "1", "NewImage": {"x": {"S": "y"}}}}
    calls: list[Any] = []

    def send(entries: list[dict[str, Any]]) -> dict[str, Any]:
        calls.append(entries)
        return {}

    assert outbox.handle({"Records": [record]}, send) == {"batchItemFailures": []}
    assert calls == []


@pytest.mark.parametrize(
    "answer",
    [
        ("TrimmedDataAccessException", "The operation attempted to read past the oldest stream record"),
        ("ExpiredIteratorException", "Iterator expired"),
        ("ResourceNotFoundException", "Invalid ShardId in ShardIterator"),
    ],
)
def test_an_iterator_that_stopped_working_is_replaced_and_nothing_is_missed_or_repeated(
    api: Api, answer: tuple[str, str]
) -> None:
    """DynamoDB Streams answers GetRecords this way when the iterator's records were trimmed, when it
    is over 15 minutes old, and (DynamoDB Local) for an iterator of a shard it no longer knows. The
    mapping takes a new iterator after the last record it read instead of failing on every poll."""
    create(api)
    bus = Bus()
    (first,) = bus.published()
    create(api)
    create(api)
    refusals = _refuse_next_get_records(bus.mapping.client, *answer)
    published = [message["detail"]["id"] for message in bus.published()]
    assert refusals == [answer[0]]  # the position really was refused once
    assert published == sorted(stored_events())[1:]  # the two newer ones, once each, in order
    assert first["detail"]["id"] not in published
    create(api)
    assert len(bus.published()) == 1  # and it keeps reading


def _refuse_next_get_records(client: Any, code: str, message: str) -> list[str]:
    """The streams client's next GetRecords is answered with DynamoDB Streams' error `code`."""
    from botocore.awsrequest import AWSResponse

    refused: list[str] = []

    def refuse(**kwargs: Any) -> Any:
        if refused:
            return None
        refused.append(code)
        response = AWSResponse("http://streams", 400, {}, None)
        return response, {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {}}

    client.meta.events.register("before-call.dynamodbstreams.GetRecords", refuse)
    return refused
