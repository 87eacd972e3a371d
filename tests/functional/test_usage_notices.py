"""`token.unused` and `integration.idle` (issue 27): recorded once each by the cleanup, from the counts.

Requests go through the emulated gateway and its access log into the aggregator; the cleanup runs on the
controllable clock (never a sleep). The notices are audit events, so the outbox publishes them as every
other (test_outbox.py). Claims are conditional writes inside transactions: both engines.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.integrations import cleanup
from chalicelib.usage import aggregator
from local import access_log
from tests.support.lifecycle_helpers import create, rotate
from tests.support.v2_client import V
from tests.support.world import Api, FakeClock

pytestmark = pytest.mark.engines


@pytest.fixture
def lines(api: Api) -> Iterator[list[str]]:
    collected: list[str] = []
    access_log.add_sink(collected.append)
    yield collected
    access_log.remove_sink(collected.append)


def use(api: Api, lines: list[str], token: str) -> None:
    headers = {"Authorization": f"Bearer {token}", **V}
    assert api.request("GET", "/locations/loc1", user=None, headers=headers).status_code == 200
    aggregator.apply([(line, 0) for line in lines])
    lines.clear()


def events(api: Api, integration_id: str, event_type: str) -> list[dict[str, Any]]:
    found = api.get(f"/private-integrations/{integration_id}/events").json_body["events"]
    return [event for event in found if event["type"] == event_type]


def test_the_old_token_is_reported_unused_once_after_24_hours_without_a_request(
    api: Api, lines: list[str], frozen_clock: FakeClock
) -> None:
    old = create(api, ["locations.readonly"])
    use(api, lines, old.token)
    rotate(api, old.integration_id, "later")
    frozen_clock.advance(hours=12)
    use(api, lines, old.token)  # the app still sends the old token, 12 hours into the rotation
    frozen_clock.advance(hours=13)
    cleanup.run(parallel=False)
    assert events(api, old.integration_id, "token.unused") == []  # used 13 hours ago
    frozen_clock.advance(hours=12)
    summary = cleanup.run(parallel=False)
    assert summary["unusedNoticesSent"] == 1
    (notice,) = events(api, old.integration_id, "token.unused")
    assert notice["details"]["lastUsedAt"] == "2026-01-16T00:00:00.000Z"
    assert notice["details"]["tokenHint"].startswith("pit-…")
    frozen_clock.advance(days=1)
    assert "unusedNoticesSent" not in cleanup.run(parallel=False)
    assert len(events(api, old.integration_id, "token.unused")) == 1
    frozen_clock.advance(days=7)
    cleanup.run(parallel=False)  # the overlap ends as before: the rotation completes
    assert len(events(api, old.integration_id, "rotation.completed")) == 1


def test_an_old_token_never_used_since_the_rotation_is_reported_a_day_into_it(
    api: Api, lines: list[str], frozen_clock: FakeClock
) -> None:
    old = create(api, ["locations.readonly"])
    new = rotate(api, old.integration_id, "later").json_body["token"]
    use(api, lines, new)
    frozen_clock.advance(hours=24)
    assert cleanup.run(parallel=False)["unusedNoticesSent"] == 1
    (notice,) = events(api, old.integration_id, "token.unused")
    assert notice["details"]["lastUsedAt"] is None


def test_an_integration_without_requests_for_30_days_is_reported_idle_once_per_quiet_stretch(
    api: Api, lines: list[str], frozen_clock: FakeClock
) -> None:
    issued = create(api, ["locations.readonly"])
    never_used = create(api, ["locations.readonly"])
    use(api, lines, issued.token)
    frozen_clock.advance(days=29)
    cleanup.run(parallel=False)
    assert events(api, issued.integration_id, "integration.idle") == []
    frozen_clock.advance(days=2)
    assert cleanup.run(parallel=False)["idleNoticesSent"] == 1
    (notice,) = events(api, issued.integration_id, "integration.idle")
    assert notice["details"] == {
        "noticeId": notice["details"]["noticeId"],
        "lastUsedAt": "2026-01-15T12:00:00.000Z",
        "idleDays": 30,
    }
    assert "idleNoticesSent" not in cleanup.run(parallel=False)
    assert events(api, never_used.integration_id, "integration.idle") == []
    use(api, lines, issued.token)  # back in use, then quiet again: a second notice
    frozen_clock.advance(days=31)
    cleanup.run(parallel=False)
    assert len(events(api, issued.integration_id, "integration.idle")) == 2


def test_a_deleted_integration_is_never_reported_idle(
    api: Api, lines: list[str], frozen_clock: FakeClock
) -> None:
    issued = create(api, ["locations.readonly"])
    use(api, lines, issued.token)
    assert api.delete(f"/private-integrations/{issued.integration_id}").status_code == 204
    frozen_clock.advance(days=31)
    assert "idleNoticesSent" not in cleanup.run(parallel=False)
    assert events(api, issued.integration_id, "integration.idle") == []
