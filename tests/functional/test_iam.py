"""Least privilege that still works: every DynamoDB call each function makes is in its IAM policy.

The calls are recorded (tests/faults.py sees every mocked AWS call) while each function does its work:
the API handler through every kind of management and v2 request, the cleanup through a rotation and a
reminder, the authorizer through an authorization. A call the policy lacks would be AccessDenied on AWS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core import config
from chalicelib.integrations import cleanup
from chalicelib.tokens import authorizer
from chalicelib.usage import aggregator
from infra import build
from local import access_log
from local.github_signing import PATH, GitHubKey, body_of, match, write_keys
from tests.support.bus import Bus
from tests.support.faults import COMMIT_THEN_TIMEOUT, Faults, install
from tests.support.lifecycle_helpers import ARN, cancel, create, expire_now, rotate
from tests.support.world import Api, FakeClock, sign_in_again_after_revoke_all

TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def table_actions(faults: Faults) -> set[tuple[str, str]]:
    """(table short name, IAM action) of every DynamoDB call recorded."""
    found: set[tuple[str, str]] = set()

    def short(table: str) -> str:
        return table[len(config.settings.table_prefix) :]

    for call in faults.calls:
        service, operation = call.operation.split(".")
        if service != "dynamodb":
            continue
        body: dict[str, Any] = json.loads(call.body or b"{}")
        if operation == "TransactWriteItems":
            for item in body["TransactItems"]:
                ((kind, inner),) = item.items()
                found.add((short(inner["TableName"]), f"dynamodb:{TRANSACT_ACTIONS[kind]}"))
        elif operation in ("BatchGetItem", "BatchWriteItem"):
            for table in body["RequestItems"]:
                found.add((short(table), f"dynamodb:{operation}"))
        else:
            found.add((short(body["TableName"]), f"dynamodb:{operation}"))
    return found


def allowed(function: str) -> set[tuple[str, str]]:
    return {(table, action) for table, actions in build.TABLE_ACCESS[function].items() for action in actions}


def test_every_call_of_each_function_is_in_its_policy(
    api: Api, frozen_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = install(monkeypatch)
    # The API handler: every kind of request (v2 requests also run the emulated authorizer here).
    api.get("/me")
    api.get("/scopes")
    integration_id, token = create(api, ["contacts.readonly", "contacts.write", "locations.readonly"])
    api.get("/locations/loc1/private-integrations")
    api.get(f"/private-integrations/{integration_id}")
    # A commit whose answer is lost: the transaction's own audit event is read to learn it landed.
    faults.arm_next("dynamodb.TransactWriteItems", COMMIT_THEN_TIMEOUT)
    assert api.patch(f"/private-integrations/{integration_id}", {"name": "renamed"}).status_code == 200
    rotate(api, integration_id, "later")
    cancel(api, integration_id)
    rotate(api, integration_id, "later")
    expire_now(api, integration_id)
    token = rotate(api, integration_id, "now").json_body["token"]
    api.get(f"/private-integrations/{integration_id}/events")
    api.get(f"/private-integrations/{integration_id}/usage")
    api.get(f"/private-integrations/{integration_id}/usage?days=90")
    api.get("/locations/loc1/private-integrations/events")
    api.put("/agencies/ag1/users/staff/permissions", {"privateIntegrations": {"agency": True}})
    api.put("/agencies/ag1/labs", {"privateIntegrations": True})
    bearer = {"Authorization": f"Bearer {token}"}
    api.get("/locations/loc1", user=None, headers=bearer)
    created = api.post("/contacts/", {"locationId": "loc1", "email": "iam@b.co"}, user=None, headers=bearer)
    contact = created.json_body["contact"]["id"]
    api.put(f"/contacts/{contact}", {"firstName": "Ann"}, user=None, headers=bearer)
    api.get("/contacts/?locationId=loc1", user=None, headers=bearer)
    api.post("/contacts/upsert", {"locationId": "loc1", "email": "iam@b.co"}, user=None, headers=bearer)
    api.delete(f"/contacts/{contact}", user=None, headers=bearer)
    api.delete(f"/private-integrations/{integration_id}")
    create(api)
    assert api.post("/agencies/ag1/private-integrations/revoke-all", {"reason": "iam"}).status_code == 200
    sign_in_again_after_revoke_all(frozen_clock)
    missing = table_actions(faults) - allowed("api_handler")
    assert not missing, f"api_handler's policy lacks {sorted(missing)}"

    # The cleanup: a rotation to finish and a reminder to send.
    other, _ = create(api)
    rotate(api, other, "later")
    frozen_clock.advance(days=90)
    faults.calls.clear()
    faults.arm_next("dynamodb.TransactWriteItems", COMMIT_THEN_TIMEOUT)
    summary = cleanup.run(parallel=False)
    assert summary["rotationsCompleted"] == 1 and summary["rotationRemindersSent"] >= 1
    missing = table_actions(faults) - allowed("scheduled_cleanup")
    assert not missing, f"scheduled_cleanup's policy lacks {sorted(missing)}"

    # The outbox: its own calls are PutEvents only (Lambda reads the stream for it: STREAM_READ).
    bus = Bus()
    faults.calls.clear()
    bus.mapping.drain()
    own = {c.operation for c in faults.calls if not c.operation.startswith("dynamodb-streams.")}
    streams = {c.operation.split(".")[1] for c in faults.calls if c.operation.startswith("dynamodb-streams.")}
    assert own == {"eventbridge.PutEvents"} and not table_actions(faults)
    publisher = build.policy("dev", "publish_audit_events")["Statement"]
    assert any(s["Action"] == ["events:PutEvents"] for s in publisher)
    granted = {a for s in publisher for a in s["Action"]}
    assert {f"dynamodb:{operation}" for operation in streams} <= granted

    # The usage aggregator: counters and last uses, nothing else (the log group invokes it).
    counted_id, counted = create(api, ["locations.readonly"])
    lines: list[str] = []
    access_log.add_sink(lines.append)
    try:
        api.get("/locations/loc1", user=None, headers={"Authorization": f"Bearer {counted}"})
        api.post(
            "/contacts/", {"locationId": "loc1"}, user=None, headers={"Authorization": f"Bearer {counted}"}
        )
    finally:
        access_log.remove_sink(lines.append)
    faults.calls.clear()
    faults.arm_next("dynamodb.UpdateItem", COMMIT_THEN_TIMEOUT)
    aggregator.apply([(line, 0) for line in lines])
    calls = table_actions(faults)
    assert calls == {("usage", "dynamodb:UpdateItem")}
    assert not calls - allowed("aggregate_usage")
    # A day's address set too full for the batch's new addresses: one GetItem learns the room.
    from chalicelib.usage.models import UsageModel, day_key

    day = aggregator.day_of(int(json.loads(lines[0])["requestTimeEpoch"]))
    UsageModel(counted_id, day_key(day)).update(
        actions=[UsageModel.addresses.add({f"198.51.100.{n}" for n in range(50)})]
    )
    aggregator.SEEN.forget()
    faults.calls.clear()
    aggregator.apply([(line, 0) for line in lines])
    calls = table_actions(faults)
    assert calls == {("usage", "dynamodb:UpdateItem"), ("usage", "dynamodb:GetItem")}
    assert not calls - allowed("aggregate_usage")

    # The authorizer: one read, and the lastUsedAt write.
    _, fresh = create(api)
    faults.calls.clear()
    authorizer.authorize(f"Bearer {fresh}", ARN)
    calls = table_actions(faults)
    assert calls == {("tokens", "dynamodb:GetItem"), ("tokens", "dynamodb:UpdateItem")}
    assert not calls - allowed("token_authorizer")


def test_a_leak_report_stays_within_the_api_handlers_policy(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GitHub's report of a rotating integration's two tokens: reads, the revocations, their events."""
    key = GitHubKey()
    keys_file = write_keys(tmp_path / "keys.json", key)
    monkeypatch.setattr(config, "settings", config.settings._replace(github_keys_file=str(keys_file)))
    integration_id, old = create(api)
    new = rotate(api, integration_id, "later").json_body["token"]
    faults = install(monkeypatch)
    faults.arm_next("dynamodb.TransactWriteItems", COMMIT_THEN_TIMEOUT)
    raw = body_of([match(old), match(new)])
    response = api.client.http.post(PATH, headers=key.headers(raw), body=raw)
    assert [entry["label"] for entry in response.json_body] == ["true_positive", "true_positive"]
    missing = table_actions(faults) - allowed("api_handler")
    assert not missing, f"api_handler's policy lacks {sorted(missing)}"
