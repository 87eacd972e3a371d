"""Usage per integration (issue 27): what the gateway's access log says, counted and shown.

Requests go through the emulated gateway (chalice.test.Client + local/gateway.py), which writes the same
access-log lines as the deployed stage; the test hands them to the aggregator as the log group's
subscription would, then reads GET /private-integrations/{id}/usage as the page does. The clock is the
controllable one. Conditional writes (the last use, newer only): both engines.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.usage import access_log as log_format
from chalicelib.usage import aggregator
from local import access_log
from tests.support.lifecycle_helpers import create, rotate
from tests.support.v2_client import V
from tests.support.world import Api, FakeClock

pytestmark = pytest.mark.engines

READ_ONLY = ["locations.readonly"]


class Lines(list[str]):
    def count(self) -> dict[str, int]:  # type: ignore[override]
        """Hand what the gateway wrote to the aggregator (as the subscription does), once."""
        written = aggregator.apply([(line, 0) for line in self])
        self.clear()
        return written


@pytest.fixture
def lines(api: Api) -> Iterator[Lines]:
    collected = Lines()
    access_log.add_sink(collected.append)
    yield collected
    access_log.remove_sink(collected.append)


def call(
    api: Api, token: str, method: str = "GET", path: str = "/locations/loc1", agent: str = "crm-sync/1.0"
) -> Any:
    headers = {"Authorization": f"Bearer {token}", "User-Agent": agent, **V}
    return api.request(method, path, user=None, headers=headers)


def usage(api: Api, integration_id: str, query: str = "", user: str = "admin") -> Any:
    return api.get(f"/private-integrations/{integration_id}/usage{query}", user=user)


def outcomes(allowed: int = 0, forbidden: int = 0, rate_limited: int = 0, outside: int = 0) -> dict[str, int]:
    return {
        "allowed": allowed,
        "forbidden": forbidden,
        "rateLimited": rate_limited,
        "outsideAllowlist": outside,
    }


def test_requests_are_counted_for_the_token_that_made_them_around_a_rotation(
    api: Api, lines: Lines, frozen_clock: FakeClock
) -> None:
    old = create(api, READ_ONLY)
    for _ in range(3):
        assert call(api, old.token).status_code == 200
    frozen_clock.advance(minutes=10)
    new = rotate(api, old.integration_id, "later").json_body["token"]
    frozen_clock.advance(minutes=10)
    assert call(api, old.token, agent="old-app/2").status_code == 200
    assert call(api, old.token, agent="old-app/2").status_code == 200
    frozen_clock.advance(minutes=1)
    assert call(api, new, agent="new-app/3").status_code == 200
    # The emulated gateway writes the deployed stage's format: the same fields, in the same order.
    assert all(list(json.loads(line)) == list(log_format.FORMAT) for line in lines)
    assert {json.loads(line)["tokenRole"] for line in lines} == {"current", "previous", "-"}  # "-": no token
    lines.count()

    body = usage(api, old.integration_id).json_body
    assert body["totals"] == {"current": outcomes(allowed=4), "previous": outcomes(allowed=2)}
    assert body["granularity"] == "hour" and len(body["buckets"]) == 7 * 24
    assert body["lastUsed"]["token"] == "current" and body["lastUsed"]["userAgent"] == "new-app/3"
    assert body["lastUsed"]["ip"] == "127.0.0.1"
    previous = body["lastUsedByToken"]["previous"]
    assert previous["userAgent"] == "old-app/2" and previous["at"] == "2026-01-15T12:20:00.000Z"
    assert sum(bucket["previous"]["allowed"] for bucket in body["buckets"][-1:]) == 2


def test_a_route_the_policy_refuses_is_counted_forbidden_and_a_backend_refusal_allowed(
    api: Api, lines: Lines
) -> None:
    issued = create(api, READ_ONLY, owner="agencies/ag1")
    assert call(api, issued.token, "POST", "/contacts").status_code == 403  # the gateway's policy
    assert call(api, issued.token, path="/locations/loc9").status_code == 403  # the backend: another agency
    assert call(api, "pit-" + "x" * 49).status_code == 401  # no integration: not anyone's usage
    lines.count()
    assert usage(api, issued.integration_id).json_body["totals"]["current"] == outcomes(
        allowed=1, forbidden=1
    )


def test_rate_limited_requests_are_counted(api: Api, lines: Lines) -> None:
    issued = create(api, READ_ONLY)
    assert api.patch(f"/private-integrations/{issued.integration_id}", {"burstLimit": 1}).status_code == 200
    assert [call(api, issued.token).status_code for _ in range(3)] == [200, 429, 429]
    lines.count()
    assert usage(api, issued.integration_id).json_body["totals"]["current"] == outcomes(
        allowed=1, rate_limited=2
    )


def test_outside_the_allowlist_in_report_mode_is_counted_beside_the_outcome(api: Api) -> None:
    issued = create(api, READ_ONLY)
    line = log_format.render(
        {
            "$context.requestTimeEpoch": 1768478400000,  # 2026-01-15T12:00:00Z
            "$context.status": 200,
            "$context.authorizer.integrationId": issued.integration_id,
            "$context.authorizer.tokenRole": "current",
            "$context.authorizer.outsideAllowlist": "true",
            "$context.identity.sourceIp": "203.0.113.9",
        }
    )
    aggregator.apply([(line, 0)])
    body = usage(api, issued.integration_id).json_body
    assert body["totals"]["current"] == outcomes(allowed=1, outside=1)
    assert body["lastUsed"]["ip"] == "203.0.113.9"


def test_a_late_line_counts_but_never_replaces_a_newer_last_use(api: Api) -> None:
    issued = create(api, READ_ONLY)

    def line(epoch_ms: int, agent: str) -> str:
        return log_format.render(
            {
                "$context.requestTimeEpoch": epoch_ms,
                "$context.status": 200,
                "$context.authorizer.integrationId": issued.integration_id,
                "$context.identity.userAgent": agent,
            }
        )

    aggregator.apply([(line(1768478400000, "newer"), 0)])
    aggregator.apply([(line(1768478300000, "older"), 0)])  # delivered late, from another log stream
    body = usage(api, issued.integration_id).json_body
    assert body["totals"]["current"]["allowed"] == 2
    assert body["lastUsed"]["userAgent"] == "newer"


def test_a_batch_costs_writes_per_integration_not_per_request(api: Api, lines: Lines) -> None:
    first, second = create(api, READ_ONLY), create(api, READ_ONLY)
    for _ in range(40):
        call(api, first.token)
        call(api, second.token)
    # One counter write per integration and hour; the hour's first batch also writes each summary, and
    # each integration's new address of the day (127.0.0.1).
    assert lines.count() == {"requests": 80, "keys": 2, "writes": 6, "failed": 0}
    for _ in range(40):
        call(api, first.token)
        call(api, second.token)
    # The same address again: this container wrote it for the day already, no address write.
    assert lines.count() == {"requests": 80, "keys": 2, "writes": 2, "failed": 0}


def test_days_choose_the_window_and_bad_values_are_422_saying_what_to_send(
    api: Api, lines: Lines, frozen_clock: FakeClock
) -> None:
    issued = create(api, READ_ONLY)
    call(api, issued.token)
    frozen_clock.advance(days=10)
    call(api, issued.token)
    lines.count()
    week = usage(api, issued.integration_id).json_body
    assert week["totals"]["current"]["allowed"] == 1  # the request 10 days ago is outside 7 days
    month = usage(api, issued.integration_id, "?days=30").json_body
    assert month["granularity"] == "day" and len(month["buckets"]) == 30
    assert month["totals"]["current"]["allowed"] == 2
    assert month["from"] == "2025-12-27T00:00:00.000Z"
    for bad in ("0", "91", "seven", "7.5", "²", " 7", "007"):
        answer = usage(api, issued.integration_id, f"?days={bad}")
        assert answer.status_code == 422, bad
        assert "days must be a whole number from 1 to 90" in answer.json_body["message"][0]


def test_another_agencys_integration_is_404_and_no_usage_is_null_not_an_error(api: Api) -> None:
    issued = create(api, READ_ONLY)
    assert usage(api, issued.integration_id, user="admin2").status_code == 404
    assert usage(api, issued.integration_id, user="staff").status_code == 403
    body = usage(api, issued.integration_id).json_body
    assert body["lastUsed"] is None and body["totals"]["previous"] == outcomes()


def test_a_failing_sink_or_aggregator_never_fails_a_request(
    api: Api, lines: Lines, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = create(api, READ_ONLY)

    def broken(line: str) -> None:
        raise OSError("disk full")

    access_log.add_sink(broken)
    try:
        assert call(api, issued.token).status_code == 200
    finally:
        access_log.remove_sink(broken)


def test_the_firehose_processor_counts_and_hands_every_line_back_unchanged(api: Api) -> None:
    issued = create(api, READ_ONLY)
    line = log_format.render(
        {"$context.status": 200, "$context.authorizer.integrationId": issued.integration_id}
    )
    management = log_format.render({"$context.status": 200, "$context.resourcePath": "/me"})
    records = [
        {
            "recordId": str(n),
            "approximateArrivalTimestamp": 1768478400000,
            "data": base64.b64encode(text.encode()).decode(),
        }
        for n, text in enumerate([line, management])
    ]
    answer = aggregator.handle_firehose({"records": records})
    assert [r["recordId"] for r in answer["records"]] == ["0", "1"]
    assert {r["result"] for r in answer["records"]} == {"Ok"}
    kept = [base64.b64decode(r["data"]).decode() for r in answer["records"]]
    assert kept == [line + "\n", management + "\n"]  # what S3 keeps: every line, one per line
    body = usage(api, issued.integration_id).json_body
    assert body["totals"]["current"]["allowed"] == 1  # the management request is nobody's usage
    assert body["lastUsed"]["at"] == "2026-01-15T12:00:00.000Z"  # the arrival time when the line has none


NOON = 1768478400000  # 2026-01-15T12:00:00Z, the frozen clock's now
DAY_MS = 24 * 3600 * 1000


def from_address(integration_id: str, ip: str, at_ms: int = NOON, status: int = 200) -> tuple[str, int]:
    text = log_format.render(
        {
            "$context.requestTimeEpoch": at_ms,
            "$context.status": status,
            "$context.authorizer.integrationId": integration_id,
            "$context.identity.sourceIp": ip,
        }
    )
    return text, 0


def stored_addresses(integration_id: str, day: str = "2026-01-15") -> set[str]:
    from chalicelib.usage.models import UsageModel, day_key

    return set(UsageModel.get(integration_id, day_key(day)).addresses or ())


def test_the_addresses_of_the_last_7_days_each_say_whether_the_current_list_admits_them(
    api: Api, frozen_clock: FakeClock
) -> None:
    issued = create(api, READ_ONLY)
    path = f"/private-integrations/{issued.integration_id}"
    aggregator.apply(
        [
            from_address(issued.integration_id, "203.0.113.7"),
            from_address(issued.integration_id, "198.51.100.20", status=403),  # refused: still a caller
            from_address(issued.integration_id, "2001:db8::5", at_ms=NOON - 6 * DAY_MS),
            from_address(issued.integration_id, "::ffff:203.0.113.9", at_ms=NOON - 2 * DAY_MS),
            from_address(issued.integration_id, "192.0.2.1", at_ms=NOON - 7 * DAY_MS),  # 8 days ago
            from_address(issued.integration_id, "-"),  # no address: not one
            from_address(issued.integration_id, "not-an-ip"),
        ]
    )
    # No list: every address is allowed.
    body = usage(api, issued.integration_id, "?days=1").json_body  # `days` is the chart's, not these
    assert body["addresses"] == [
        {"ip": "198.51.100.20", "allowed": True},
        {"ip": "203.0.113.7", "allowed": True},
        {"ip": "::ffff:203.0.113.9", "allowed": True},
        {"ip": "2001:db8::5", "allowed": True},
    ]
    # A list with a CIDR block (report mode: the list decides `allowed`, not the mode).
    changed = api.patch(path, {"allowedIps": ["203.0.113.0/24", "2001:db8::5"], "ipRestriction": "report"})
    assert changed.status_code == 200, changed.json_body
    assert usage(api, issued.integration_id).json_body["addresses"] == [
        {"ip": "198.51.100.20", "allowed": False},
        {"ip": "203.0.113.7", "allowed": True},
        {"ip": "::ffff:203.0.113.9", "allowed": True},  # IPv4-mapped: inside the IPv4 block
        {"ip": "2001:db8::5", "allowed": True},
    ]
    assert usage(api, issued.integration_id, user="admin2").status_code == 404  # another agency's
    # Another integration's callers are not this one's.
    other = create(api, READ_ONLY)
    assert usage(api, other.integration_id).json_body["addresses"] == []


def test_a_day_keeps_at_most_50_addresses_and_a_full_set_never_blocks_counting(api: Api) -> None:
    from chalicelib.usage.models import ADDRESSES_PER_DAY

    issued = create(api, READ_ONLY)
    some = [from_address(issued.integration_id, f"198.51.100.{n}") for n in range(45)]
    assert aggregator.apply(some)["writes"] == 3  # counters, summary, the day's addresses
    more = [from_address(issued.integration_id, f"203.0.113.{n}") for n in range(10)]
    assert aggregator.apply(more)["writes"] == 2  # as many as still fit: 5
    assert len(stored_addresses(issued.integration_id)) == ADDRESSES_PER_DAY
    assert {f"203.0.113.{n}" for n in range(5)} <= stored_addresses(issued.integration_id)
    # Known full in this container: no address write at all, the counts go on.
    later = [from_address(issued.integration_id, f"192.0.2.{n}") for n in range(20)]
    assert aggregator.apply(later) == {"requests": 20, "keys": 1, "writes": 1, "failed": 0}
    # Another container (knows nothing): its write's condition fails, ignored; the counts go on.
    aggregator.SEEN.forget()
    assert aggregator.apply(later) == {"requests": 20, "keys": 1, "writes": 1, "failed": 0}
    assert len(stored_addresses(issued.integration_id)) == ADDRESSES_PER_DAY
    body = usage(api, issued.integration_id).json_body
    assert body["totals"]["current"]["allowed"] == 45 + 10 + 20 + 20
    assert len(body["addresses"]) == ADDRESSES_PER_DAY
    # The next day is a new set, never more than 50 even from one batch of 60 new addresses.
    tomorrow = [from_address(issued.integration_id, f"192.0.2.{n}", at_ms=NOON + DAY_MS) for n in range(60)]
    aggregator.apply(tomorrow)
    assert len(stored_addresses(issued.integration_id, "2026-01-16")) == ADDRESSES_PER_DAY
