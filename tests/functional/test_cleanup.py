"""The scheduled cleanup (EventBridge) and the authorizer cache flush."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from pynamodb.exceptions import DoesNotExist

from chalicelib.audit import outbox
from chalicelib.audit.models import EventModel
from chalicelib.core import config
from chalicelib.tokens import authorizer_cache
from chalicelib.tokens.models import TokenModel
from tests.support.bus import Bus
from tests.support.faults import install
from tests.support.lifecycle_helpers import assert_consistent, authorizes, create, digest, expire_now, rotate
from tests.support.world import Api, FakeClock

# The engine's behaviour matters here: these run on moto and on DynamoDB Local (tests/support/engines.py).
pytestmark = pytest.mark.engines


def run_cleanup(api: Api) -> dict[str, int]:
    event = api.client.events.generate_cw_event(
        source="aws.events",
        detail_type="Scheduled Event",
        detail={},
        resources=["arn:aws:events:rule/cleanup"],
    )
    return api.client.lambda_.invoke("scheduled_cleanup", event).payload


@pytest.fixture
def rotation_events(api: Api) -> Any:
    """What reached EventBridge through the outbox (moto's stream, EventBridge and an SQS queue)."""
    return Bus().published


def test_cleanup_finishes_expired_rotations_once(api: Api, frozen_clock: FakeClock) -> None:
    integration_id, old = create(api)
    new = rotate(api, integration_id, "later").json_body["token"]
    assert run_cleanup(api)["rotationsCompleted"] == 0  # overlap still running
    frozen_clock.advance(days=7, seconds=1)
    summary = run_cleanup(api)
    assert summary["rotationsCompleted"] == 1 and summary["itemsRead"] == 1
    with pytest.raises(DoesNotExist):
        TokenModel.get(digest(old))  # deleted early, not left to TTL
    view = api.get(f"/private-integrations/{integration_id}").json_body["privateIntegration"]
    assert view["rotation"] is None
    assert authorizes(new) and not authorizes(old)
    events = api.get(f"/private-integrations/{integration_id}/events").json_body["events"]
    assert events[0]["type"] == "rotation.completed" and events[0]["actorId"] == "system:cleanup"
    assert events[0]["details"]["reason"] == "previous token expired"
    assert run_cleanup(api) == {
        "itemsRead": 0,
        "rotationsCompleted": 0,
        "rotationRemindersSent": 0,
        "expiryNoticesSent": 0,
        "failed": 0,
    }
    assert_consistent()
    # A new rotation can start now.
    assert rotate(api, integration_id, "later").status_code == 200


def test_cleanup_leaves_rotations_ended_by_users_alone(api: Api, frozen_clock: FakeClock) -> None:
    integration_id, _ = create(api)
    rotate(api, integration_id, "later")
    expire_now(api, integration_id)
    frozen_clock.advance(days=8)
    assert run_cleanup(api)["rotationsCompleted"] == 0
    assert_consistent()


def test_rotation_reminder_is_emitted_once_per_due_token(
    api: Api, frozen_clock: FakeClock, rotation_events: Any
) -> None:
    integration_id, token = create(api)
    rotation_events()  # integration.created
    frozen_clock.advance(days=89)
    assert run_cleanup(api)["rotationRemindersSent"] == 0
    assert rotation_events() == []
    frozen_clock.advance(days=1)
    assert run_cleanup(api)["rotationRemindersSent"] == 1
    received = rotation_events()
    assert len(received) == 1
    assert received[0]["source"] == "private-integrations"
    assert received[0]["detail-type"] == "token.rotation_recommended"
    assert received[0]["detail"]["integrationId"] == integration_id
    assert received[0]["detail"]["actorId"] == "system:cleanup"
    assert received[0]["detail"]["details"]["ageDays"] == 90
    assert received[0]["detail"]["details"]["tokenHint"] == "pit-…" + token[-4:]
    assert token[4:] not in json.dumps(received[0])
    frozen_clock.advance(days=1)
    assert run_cleanup(api)["rotationRemindersSent"] == 0
    assert rotation_events() == []
    # A fresh token gets its own reminder 90 days later.
    rotate(api, integration_id, "now")
    frozen_clock.advance(days=90)
    assert run_cleanup(api)["rotationRemindersSent"] == 1
    assert [e["detail-type"] for e in rotation_events()] == ["token.rotated", "token.rotation_recommended"]


def test_reminders_are_recorded_while_eventbridge_is_down_and_published_once_it_is_back(
    api: Api, frozen_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cleanup never calls EventBridge: it records the reminder (once), and the outbox publishes it."""
    integration_id, _ = create(api)
    frozen_clock.advance(days=90)
    faults = install(monkeypatch)
    assert run_cleanup(api)["rotationRemindersSent"] == 1
    assert not [c for c in faults.operations() if c.startswith("eventbridge.")]
    monkeypatch.undo()
    assert run_cleanup(api)["itemsRead"] == 0  # recorded once: nothing due any more

    outage = iter(range(3))  # EventBridge unreachable for the first three invocations

    def flaky(entries: list[dict[str, Any]]) -> dict[str, Any]:
        if next(outage, None) is not None:
            raise ConnectionError("EventBridge unreachable")
        return outbox.put_events(entries)

    published = Bus(send=flaky).published()
    assert [e["detail-type"] for e in published] == ["integration.created", "token.rotation_recommended"]
    (reminder,) = [e for e in EventModel.scan() if e.type == "token.rotation_recommended"]
    assert published[1]["detail"]["id"] == reminder.id and reminder.integration_id == integration_id


def test_cleanup_reads_only_what_is_due(api: Api, frozen_clock: FakeClock) -> None:
    due = [create(api)[0] for _ in range(3)]
    for integration_id in due:
        rotate(api, integration_id, "later")
    frozen_clock.advance(days=1)
    for _ in range(20):
        create(api)  # not due for 90 days
    frozen_clock.advance(days=7)
    summary = run_cleanup(api)
    assert summary == {
        "itemsRead": 3,
        "rotationsCompleted": 3,
        "rotationRemindersSent": 0,
        "expiryNoticesSent": 0,
        "failed": 0,
    }


def test_the_due_index_spreads_over_shards_and_a_stopped_run_resumes(
    api: Api, frozen_clock: FakeClock
) -> None:
    from chalicelib.integrations import cleanup
    from chalicelib.tokens.models import DUE_SHARDS

    created = [create(api) for _ in range(24)]
    buckets = {TokenModel.get(digest(token)).due_bucket for _, token in created}
    assert len(buckets) >= DUE_SHARDS // 2 and all(b.startswith("due#") for b in buckets)
    frozen_clock.advance(days=90)
    budget = iter(range(10))  # a run that may take 10 tokens before its time is up

    def out_of_time() -> bool:
        return next(budget, None) is None

    first = cleanup.run(out_of_time, parallel=False)
    assert first["stoppedEarly"] == 1 and first["rotationRemindersSent"] == 10
    # The rest is still due: the next run takes it, and nothing is sent twice.
    second = cleanup.run()
    assert second == {
        "itemsRead": 14,
        "rotationsCompleted": 0,
        "rotationRemindersSent": 14,
        "expiryNoticesSent": 0,
        "failed": 0,
    }
    assert all(TokenModel.get(digest(token)).rotation_notified for _, token in created)
    assert cleanup.run()["itemsRead"] == 0


# --- authorizer cache flush ------------------------------------------------------------------------


@pytest.fixture
def stubbed_apigateway(monkeypatch: pytest.MonkeyPatch) -> Any:
    client = boto3.client("apigateway", region_name="us-east-1")
    stubber = Stubber(client)
    monkeypatch.setattr(authorizer_cache, "_client", lambda: client)
    monkeypatch.setattr(config, "settings", config.settings._replace(cache_flush_targets=("down1/prod",)))
    with stubber:
        yield stubber


def expect_flush(stubber: Stubber) -> None:
    stubber.add_response("flush_stage_authorizers_cache", {}, {"restApiId": "down1", "stageName": "prod"})


@pytest.mark.parametrize(
    "action", ["rotate now", "expire now", "cancel", "delete", "scope edit", "revoke all"]
)
def test_revoking_actions_flush_the_authorizer_cache(
    api: Api, stubbed_apigateway: Stubber, action: str
) -> None:
    integration_id, _ = create(api)
    if action in ("expire now", "cancel"):
        rotate(api, integration_id, "later")  # not revoking: no flush expected
    expect_flush(stubbed_apigateway)
    response = {
        "rotate now": lambda: rotate(api, integration_id, "now"),
        "expire now": lambda: expire_now(api, integration_id),
        "cancel": lambda: api.post(f"/private-integrations/{integration_id}/rotation/cancel", {}),
        "delete": lambda: api.delete(f"/private-integrations/{integration_id}"),
        "scope edit": lambda: api.patch(
            f"/private-integrations/{integration_id}", {"scopes": ["contacts.write"]}
        ),
        "revoke all": lambda: api.post("/agencies/ag1/private-integrations/revoke-all", {"reason": "leak"}),
    }[action]()
    assert response.status_code in (200, 204)
    stubbed_apigateway.assert_no_pending_responses()


def test_non_revoking_actions_do_not_flush(api: Api, stubbed_apigateway: Stubber) -> None:
    integration_id, _ = create(api)
    rotate(api, integration_id, "later")
    api.patch(f"/private-integrations/{integration_id}", {"name": "renamed"})
    stubbed_apigateway.assert_no_pending_responses()  # a call would have failed: nothing was queued


def test_flush_failure_is_logged_not_raised(api: Api, stubbed_apigateway: Stubber) -> None:
    integration_id, token = create(api)
    stubbed_apigateway.add_client_error("flush_stage_authorizers_cache", "TooManyRequestsException")
    assert rotate(api, integration_id, "now").status_code == 200
    assert not authorizes(token)


def test_own_api_stage_is_flushed_on_deployed_stages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        config, "settings", config.settings._replace(flush_own_api=True, cache_flush_targets=("down1/prod",))
    )
    own = ("own123", "api")
    assert authorizer_cache.targets(own) == [("own123", "api"), ("down1", "prod")]
    monkeypatch.setattr(config, "settings", config.settings._replace(flush_own_api=False))
    assert authorizer_cache.targets(own) == [("down1", "prod")]
