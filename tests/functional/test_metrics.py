"""The metric lines a request, an authorization and a cleanup run write are valid CloudWatch EMF."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.core import emf
from chalicelib.integrations import cleanup
from chalicelib.tokens import authorizer, token_text
from tests.support.faults import THROTTLE, install
from tests.support.lifecycle_helpers import authorizes, create, rotate
from tests.support.world import Api, FakeClock

# CloudWatch's units (PutMetricData's StandardUnit), as the EMF specification allows them.
UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
    "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
    "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}  # fmt: skip


def valid_emf(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Checks one EMF document against the specification; returns its metrics as
    [{"Namespace", "Name", "Unit", "Value", "Dimensions": {name: value}}] per dimension set."""
    aws = document["_aws"]
    assert isinstance(aws["Timestamp"], int) and aws["Timestamp"] > 0
    found = []
    for directive in aws["CloudWatchMetrics"]:
        assert isinstance(directive["Namespace"], str) and 1 <= len(directive["Namespace"]) <= 255
        assert 1 <= len(directive["Metrics"]) <= 100
        for dimension_set in directive["Dimensions"]:
            assert len(dimension_set) <= 30
            for name in dimension_set:
                # Every dimension a set names is a string member of the root object.
                assert isinstance(document[name], str) and document[name], name
        for metric in directive["Metrics"]:
            assert metric["Unit"] in UNITS, metric
            value = document[metric["Name"]]  # every metric is a member of the root object
            values = value if isinstance(value, list) else [value]
            assert 1 <= len(values) <= 100
            assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
            for dimension_set in directive["Dimensions"]:
                found.append(
                    {
                        "Namespace": directive["Namespace"],
                        "Name": metric["Name"],
                        "Unit": metric["Unit"],
                        "Value": sum(values),
                        "Dimensions": {name: document[name] for name in dimension_set},
                    }
                )
    return found


def emitted(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Every EMF line written to stdout since the last call, parsed and validated."""
    metrics = []
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            metrics.extend(valid_emf(json.loads(line)))
    return metrics


def value(metrics: list[dict[str, Any]], name: str, **dimensions: str) -> float:
    """The sum of `name` over the lines whose dimension set is exactly service + `dimensions`."""
    wanted = {"service": "private-integrations-test", **dimensions}
    return sum(
        m["Value"]
        for m in metrics
        if m["Name"] == name and m["Dimensions"] == wanted and m["Namespace"] == "PrivateIntegrations"
    )


def test_authorizer_counts_each_outcome_with_latency_and_last_used_writes(
    api: Api, frozen_clock: FakeClock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    integration_id, token = create(api)
    emitted(capsys)
    assert authorizes(token) and authorizes(token)  # the second use does not write lastUsedAt again
    assert not authorizes("not-a-token")
    assert not authorizes(token[:-8] + "A" * 8)  # bad checksum: malformed, no read
    rotate(api, integration_id, "later")
    frozen_clock.advance(days=8)  # past the overlap: the old token is expired (cleanup not run yet)
    assert not authorizes(token)
    metrics = emitted(capsys)
    assert value(metrics, "Authorizations", Outcome="allow") == 2
    assert value(metrics, "LastUsedWrites", Outcome="allow") == 1
    assert value(metrics, "Authorizations", Outcome="deny-malformed") == 2
    assert value(metrics, "Authorizations", Outcome="deny-revoked-or-expired") == 1
    assert value(metrics, "Authorizations") == 5  # the per-service set: what the alarms watch
    latencies = [m for m in metrics if m["Name"] == "AuthorizerLatency"]
    assert len(latencies) == 10 and all(m["Unit"] == "Milliseconds" and m["Value"] >= 0 for m in latencies)

    assert not authorizes(token_text.generate())  # well-formed, in no table
    faults = install(monkeypatch)
    faults.arm_next("dynamodb.GetItem", THROTTLE)
    with pytest.raises(authorizer.AuthorizerUnavailable):
        authorizes(token)  # the read fails: never an Allow
    monkeypatch.undo()
    metrics = emitted(capsys)
    assert value(metrics, "Authorizations", Outcome="deny-unknown") == 1
    assert value(metrics, "Authorizations", Outcome="error") == 1


def test_each_request_counts_by_action_and_status_including_409_and_503(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    integration_id, _ = create(api)
    assert rotate(api, integration_id, "later").status_code == 200
    assert rotate(api, integration_id, "later").status_code == 409
    faults = install(monkeypatch)
    faults.arm_next("dynamodb.TransactWriteItems", THROTTLE)
    assert rotate(api, integration_id, "now").status_code == 503
    monkeypatch.undo()
    metrics = emitted(capsys)
    assert value(metrics, "Requests", Action="create", Status="201") == 1
    assert value(metrics, "Requests", Action="rotate", Status="200") == 1
    assert value(metrics, "Requests", Action="rotate", Status="409") == 1
    assert value(metrics, "Requests", Action="rotate", Status="503") == 1
    assert value(metrics, "ServerErrors", Action="rotate", Status="503") == 1
    assert value(metrics, "ServerErrors") == 1 and value(metrics, "Requests") == 4
    assert all(m["Unit"] == "Milliseconds" for m in metrics if m["Name"] == "Latency")


def test_cleanup_counts_items_processed_and_reminders_sent(
    api: Api, frozen_clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    create(api)
    create(api)
    frozen_clock.advance(days=90)
    emitted(capsys)
    summary = cleanup.run(parallel=False)
    metrics = emitted(capsys)
    assert summary["rotationRemindersSent"] == 2
    assert value(metrics, "CleanupItemsProcessed") == 2
    assert value(metrics, "CleanupRemindersSent") == 2
    assert value(metrics, "CleanupFailures") == 0


def test_cleanup_counts_expiry_notices_and_the_outbox_its_records(
    api: Api, frozen_clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.bus import Bus

    api.post(
        "/locations/loc1/private-integrations",
        {"name": "short", "scopes": ["contacts.readonly"], "expiresInDays": 10},
    )
    frozen_clock.advance(days=3)
    emitted(capsys)
    cleanup.run(parallel=False)
    assert value(emitted(capsys), "CleanupExpiryNoticesSent") == 1
    Bus().published()
    metrics = emitted(capsys)
    assert value(metrics, "OutboxRecords") == 2  # integration.created, token.expiring
    assert value(metrics, "OutboxRecordsRetried") == 0


def test_the_usage_aggregator_counts_requests_writes_and_failed_writes(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.usage import access_log, aggregator

    integration_id = create(api).integration_id
    line = access_log.render({"$context.status": 200, "$context.authorizer.integrationId": integration_id})
    emitted(capsys)
    aggregator.apply([(line, 1768478400000)] * 3)
    metrics = emitted(capsys)
    assert value(metrics, "UsageRequestsCounted") == 3
    assert value(metrics, "UsageWrites") == 2  # the hour's counters and the integration's summary
    assert value(metrics, "UsageWritesFailed") == 0
    install(monkeypatch).arm(0, THROTTLE)
    with pytest.raises(Exception):  # noqa: B017 - the batch fails: Firehose retries it
        aggregator.apply([(line, 1768478400000)])
    assert value(emitted(capsys), "UsageWritesFailed") == 1


def test_metric_lines_can_be_switched_off_for_local_consoles(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make run` and `make bench` set POWERTOOLS_METRICS_DISABLED (read by both writers)."""
    _, token = create(api)
    monkeypatch.setattr(emf, "ENABLED", False)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    emitted(capsys)
    assert authorizes(token)
    assert api.get("/me").status_code == 200
    assert emitted(capsys) == []


def test_an_address_refusal_is_its_own_outcome(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 28: a live token from outside its enforced allowlist counts as `deny-address`, no write."""
    response = api.post(
        "/locations/loc1/private-integrations",
        {"name": "office", "scopes": ["contacts.readonly"], "allowedIps": ["203.0.113.0/24"]},
    )
    token = response.json_body["token"]
    arn = "arn:aws:execute-api:us-east-1:123456789012:api0000001/api/GET/contacts/x1"
    emitted(capsys)
    authorizer.authorize(f"Bearer {token}", arn, "198.51.100.20")
    authorizer.authorize(f"Bearer {token}", arn, "203.0.113.7")
    metrics = emitted(capsys)
    assert value(metrics, "Authorizations", Outcome="deny-address") == 1
    assert value(metrics, "LastUsedWrites", Outcome="deny-address") == 0
    assert value(metrics, "Authorizations", Outcome="allow") == 1
