"""The background jobs' AWS calls x {throttling, connection error, commit then timeout}: the cleanup,
the outbox's publisher, the authorizer (fails closed), the usage aggregator and the usage notices.
Split from test_faults.py (the management and v2 actions) so the two halves run in parallel.
"""


from __future__ import annotations

from typing import Any

import pytest
from chalice.test import Client

from chalicelib.audit.models import EventModel
from chalicelib.core import clock, db
from chalicelib.integrations import cleanup
from chalicelib.integrations.models import IntegrationModel
from chalicelib.tokens import token_text
from chalicelib.tokens.models import TokenModel
from tests.support.bus import Bus
from tests.support.faults import COMMIT_THEN_TIMEOUT, KINDS, Faults, install
from tests.support.lifecycle_helpers import assert_consistent, create, rotate
from tests.support.world import Api, FakeClock, seeded_world

Context = dict[str, Any]


def _due_world(api: Api, clock: FakeClock) -> dict[str, str]:
    """One rotation whose overlap has ended, one token due for its 90-day reminder, and one token
    due for its 7-day expiry notice."""
    rotating_id, _ = create(api)
    rotate(api, rotating_id, "later")
    reminded_id, reminded_token = create(api)
    clock.advance(days=83)
    expiring = api.post(
        "/locations/loc1/private-integrations",
        {"name": "app", "scopes": ["contacts.readonly"], "expiresInDays": 14},
    ).json_body
    clock.advance(days=7)
    return {
        "rotating": rotating_id,
        "reminded": reminded_id,
        "token": reminded_token,
        "expiring": expiring["privateIntegration"]["id"],
        "expiring_token": expiring["token"],
    }


def _recorded(integration_id: str, event_type: str) -> int:
    return sum(
        1
        for event in EventModel.scan(consistent_read=True)
        if event.integration_id == integration_id and event.type == event_type
    )


def _run_cleanup() -> dict[str, int]:
    return cleanup.run(parallel=False)  # the same order of calls every time, so every call is faulted


@pytest.mark.parametrize("kind", KINDS)
def test_every_call_of_the_cleanup_can_fail(
    kind: str, frozen_clock: FakeClock, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = frozen_clock.current

    def world_calls(index: int | None) -> tuple[list[str], Faults]:
        frozen_clock.current = start
        with seeded_world():
            api = Api(client)
            world = _due_world(api, frozen_clock)
            faults = install(monkeypatch)
            if index is not None:
                faults.arm(index, kind)
            try:
                summary = _run_cleanup()  # a failing token must not stop the run
            except Exception as error:
                # Only an unreadable shard of the due index fails the run (after the other shards'
                # work is done); the next run reads it again.
                assert db.is_unavailable(error)
                assert any(c.fault and c.operation == "dynamodb.Query" for c in faults.calls)
                summary = {"itemsRead": 1}
            calls = faults.operations()
            faults.armed.clear()
            # The next run: everything due is done, and each notice recorded exactly once (the outbox
            # publishes what is recorded; the cleanup itself never calls EventBridge).
            _run_cleanup()
            monkeypatch.undo()
            assert summary["itemsRead"] >= 1
            assert _recorded(world["reminded"], "token.rotation_recommended") == 1, "a reminder was lost"
            assert _recorded(world["expiring"], "token.expiring") == 1, "an expiry notice was lost"
            reminded = TokenModel.get(token_text.digest(world["token"]))
            assert reminded.rotation_notified and reminded.due_at is None
            expiring = TokenModel.get(token_text.digest(world["expiring_token"]))
            assert expiring.expiry_notice == "7d"
            rotating = IntegrationModel.get(world["rotating"])
            assert rotating.previous_token_hash is None
            assert_consistent()
            return calls, faults

    calls, _ = world_calls(None)
    assert "dynamodb.TransactWriteItems" in calls
    assert not [call for call in calls if call.startswith("eventbridge.")]
    for index in range(len(calls)):
        world_calls(index)


# --- the outbox ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_every_call_of_the_publisher_can_fail(
    kind: str, frozen_clock: FakeClock, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PutEvents failing, or its answer lost, at each call: every event still reaches EventBridge
    (at least once; a lost answer is the one case of a duplicate, which consumers drop by id)."""

    def world_calls(index: int | None) -> list[str]:
        with seeded_world():
            api = Api(client)
            for _ in range(12):  # two PutEvents calls: 10 entries, then 2
                create(api)
            bus = Bus()
            faults = install(monkeypatch)
            if index is not None:
                faults.arm(index, kind)
            bus.mapping.drain()
            calls = [c.operation for c in faults.calls if c.operation.startswith("eventbridge.")]
            monkeypatch.undo()
            published = [message["detail"]["id"] for message in bus.published()]
            stored = {event.id for event in EventModel.scan()}
            assert set(published) == stored, "an event was lost"
            if kind != COMMIT_THEN_TIMEOUT:
                assert len(published) == len(stored), "an event was published twice"
            assert bus.dead_lettered() == []
            return calls

    calls = world_calls(None)
    assert calls == ["eventbridge.PutEvents", "eventbridge.PutEvents"]
    # Fault each PutEvents call (counted among every call the fault wrapper sees).
    with seeded_world():
        api = Api(client)
        for _ in range(12):
            create(api)
        bus = Bus()
        faults = install(monkeypatch)
        bus.mapping.drain()
        indexes = [i for i, c in enumerate(faults.calls) if c.operation == "eventbridge.PutEvents"]
        monkeypatch.undo()
    for index in indexes:
        world_calls(index)


# --- the authorizer -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_the_authorizer_fails_closed(kind: str, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    _, token = create(api)
    faults = install(monkeypatch)
    faults.arm(0, kind)
    response = api.client.http.get(
        "/locations/loc1", headers={"Authorization": f"Bearer {token}", "Version": "2021-07-28"}
    )
    assert faults.operations()[0] == "dynamodb.GetItem"
    if kind == COMMIT_THEN_TIMEOUT:
        assert response.status_code == 200  # the read was retried and answered: a true Allow
    else:
        assert response.status_code == 500, response.body  # never an Allow without a read


# --- the usage aggregator -------------------------------------------------------------------------


def _usage_lines(integration_ids: list[str]) -> list[tuple[str, int]]:
    """Access-log lines of two integrations: A 3 current + 2 previous, B 4 current (15 minutes apart)."""
    from chalicelib.usage import access_log as log_format

    start = int(clock.now().timestamp() * 1000)
    plan = [(integration_ids[0], "current")] * 3 + [(integration_ids[0], "previous")] * 2
    plan += [(integration_ids[1], "current")] * 4
    return [
        (
            log_format.render(
                {
                    "$context.requestTimeEpoch": start + n * 60_000,
                    "$context.status": 200,
                    "$context.authorizer.integrationId": integration_id,
                    "$context.authorizer.tokenRole": role,
                    "$context.identity.sourceIp": f"198.51.100.{n}",
                }
            ),
            0,
        )
        for n, (integration_id, role) in enumerate(plan)
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_every_call_of_the_usage_aggregator_can_fail(
    kind: str, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed write fails the batch after every other key was written; Lambda's retry delivers it
    again: afterwards no request is missing from the counts, none is counted more than twice (at least
    once), and the last use is the newest line's. A lost answer (commit then timeout) is resent by
    botocore: the one case of a double count without a retry."""
    from chalicelib.usage import aggregator, report

    def world_calls(index: int | None) -> list[str]:
        with seeded_world():
            api = Api(client)
            ids = [create(api).integration_id, create(api).integration_id]
            lines = _usage_lines(ids)
            faults = install(monkeypatch)
            if index is not None:
                faults.arm(index, kind)
            try:
                aggregator.apply(lines)
            except Exception as error:
                # Only a counter write fails the batch (a summary is written again by the next hour).
                assert kind != COMMIT_THEN_TIMEOUT and db.is_unavailable(error)
                faults.armed.clear()
                aggregator.apply(lines)  # the retry (Lambda's, or Firehose's for its processor)
            calls = faults.operations()
            monkeypatch.undo()
            first, second = (report.report(i, 1) for i in ids)
            counted = {
                "A current": first["totals"]["current"]["allowed"],
                "A previous": first["totals"]["previous"]["allowed"],
                "B current": second["totals"]["current"]["allowed"],
            }
            expected = {"A current": 3, "A previous": 2, "B current": 4}
            for key, n in expected.items():
                assert n <= counted[key] <= 2 * n, (key, counted)
            if index is None:
                assert counted == expected
            assert first["lastUsed"]["ip"] == "198.51.100.4" and first["lastUsed"]["token"] == "previous"
            assert second["lastUsed"]["ip"] == "198.51.100.8"
            # The addresses seen: best effort (a failed write never fails the batch), never a wrong one.
            seen = {i: {a["ip"] for a in report.report(i, 1)["addresses"]} for i in ids}
            expected_seen = {
                ids[0]: {f"198.51.100.{n}" for n in range(5)},
                ids[1]: {f"198.51.100.{n}" for n in range(5, 9)},
            }
            for integration_id, addresses in seen.items():
                assert addresses in (expected_seen[integration_id], set()), (integration_id, addresses)
            if index is None:
                assert seen == expected_seen
            return calls

    calls = world_calls(None)
    # 2 integrations' counters, their 3 summaries (new hour), their addresses of the day
    assert calls == ["dynamodb.UpdateItem"] * 7
    for index in range(len(calls)):
        world_calls(index)


@pytest.mark.parametrize("kind", KINDS)
def test_every_call_of_the_usage_notices_can_fail(
    kind: str, frozen_clock: FakeClock, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cleanup's token.unused and integration.idle, each call faulted: afterwards (the next run)
    each notice is recorded exactly once, and the rotation it concerns is untouched."""
    from chalicelib.usage import aggregator

    start = frozen_clock.current

    def world_calls(index: int | None) -> list[str]:
        frozen_clock.current = start
        with seeded_world():
            api = Api(client)
            idle, _ = create(api)
            aggregator.apply(_usage_lines([idle, idle])[:1])  # one request, then nothing
            frozen_clock.advance(days=30)
            rotating, _ = create(api)
            rotate(api, rotating, "later")
            frozen_clock.advance(hours=25)
            faults = install(monkeypatch)
            if index is not None:
                faults.arm(index, kind)
            try:
                _run_cleanup()
            except Exception as error:
                assert db.is_unavailable(error)  # an unreadable index fails the run; the next reads it
            calls = faults.operations()
            faults.armed.clear()
            _run_cleanup()
            monkeypatch.undo()
            assert _recorded(idle, "integration.idle") == 1, "an idle notice was lost or repeated"
            assert _recorded(rotating, "token.unused") == 1, "an unused notice was lost or repeated"
            assert IntegrationModel.get(rotating).previous_token_hash is not None  # still in its overlap
            assert_consistent()
            return calls

    calls = world_calls(None)
    assert "dynamodb.TransactWriteItems" in calls
    for index in range(len(calls)):
        world_calls(index)
