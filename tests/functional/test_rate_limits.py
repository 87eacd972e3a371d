"""The platform's Private Integration rate limits (issue 26), as an integrator sees them over HTTP.

Burst: 100 requests per 10 s per (integration, location), kept across rotations. Daily: 200,000 per
location per UTC day, shared by the location's integrations. Every v2 answer after the authorizer
carries the platform's x-ratelimit-* headers and the IETF draft's RateLimit-Policy / RateLimit pair.
The clock is the controllable one: windows pass by advancing it, never by sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.core import config
from tests.support.lifecycle_helpers import create, rotate
from tests.support.v2_client import LOCATION_SCOPES, V
from tests.support.world import Api, FakeClock

BURST, INTERVAL_MS, DAILY = 100, 10_000, 200_000
# The frozen clock starts at 2026-01-15T12:00:00Z: the next UTC midnight, in epoch milliseconds.
NEXT_MIDNIGHT_MS = int(datetime(2026, 1, 16, tzinfo=UTC).timestamp() * 1000)


def call(api: Api, token: str, method: str = "GET", path: str = "/locations/loc1", body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}", **V}
    return api.request(method, path, user=None, body=body, headers=headers)


def spend(api: Api, token: str, count: int, path: str = "/locations/loc1") -> None:
    for n in range(count):
        response = call(api, token, path=path)
        assert response.status_code == 200, (n, response.status_code, response.body)


def limits(response: Any) -> dict[str, str]:
    names = (
        "x-ratelimit-max",
        "x-ratelimit-remaining",
        "x-ratelimit-interval-milliseconds",
        "x-ratelimit-limit-daily",
        "x-ratelimit-daily-remaining",
        "x-ratelimit-daily-reset",
        "ratelimit-policy",
        "ratelimit",
    )
    lowered = {name.lower(): value for name, value in response.headers.items()}
    return {name: lowered[name] for name in names if name in lowered}


def test_every_v2_answer_carries_the_platforms_headers_and_the_ietf_pair(api: Api) -> None:
    token = create(api, LOCATION_SCOPES).token
    first = call(api, token)
    assert first.status_code == 200
    assert limits(first) == {
        "x-ratelimit-max": "100",
        "x-ratelimit-remaining": "99",
        "x-ratelimit-interval-milliseconds": "10000",
        "x-ratelimit-limit-daily": "200000",
        "x-ratelimit-daily-remaining": "199999",
        "x-ratelimit-daily-reset": str(NEXT_MIDNIGHT_MS),
        "ratelimit-policy": '"burst";q=100;w=10, "daily";q=200000;w=86400',
        # The frozen clock sits on a window boundary: the burst window ends in 10 s, the day in 12 h.
        "ratelimit": '"burst";r=99;t=10, "daily";r=199999;t=43200',
    }
    # An error answer of a v2 route carries them too (it counted), and so does the handler's 403.
    missing = call(api, token, path="/contacts/nosuchcontact")
    assert missing.status_code == 404
    assert limits(missing)["x-ratelimit-remaining"] == "98"
    elsewhere = call(api, token, "POST", "/contacts/", {"locationId": "loc2", "firstName": "Elsewhere"})
    assert elsewhere.status_code == 403
    assert limits(elsewhere)["x-ratelimit-remaining"] == "97"


def test_the_101st_request_in_ten_seconds_is_refused_not_served_until_the_window_passes(
    api: Api, frozen_clock: FakeClock
) -> None:
    token = create(api, LOCATION_SCOPES).token
    spend(api, token, BURST - 1)
    frozen_clock.advance(seconds=4)
    last = call(api, token)
    assert last.status_code == 200 and limits(last)["x-ratelimit-remaining"] == "0"
    refused = call(api, token, "POST", "/contacts/", {"locationId": "loc1", "email": "late@example.com"})
    assert refused.status_code == 429
    assert refused.json_body["statusCode"] == 429
    assert refused.json_body["error"] == "Too Many Requests"
    assert refused.json_body["limit"] == "burst"
    assert refused.json_body["resetsAt"] == "2026-01-15T12:00:10.000Z"
    assert "100 requests per 10 seconds" in refused.json_body["message"]
    assert refused.headers["Retry-After"] == "6"
    headers = limits(refused)
    assert headers["x-ratelimit-max"] == "100" and headers["x-ratelimit-remaining"] == "0"
    assert headers["x-ratelimit-daily-remaining"] == str(DAILY - BURST)
    assert headers["ratelimit"] == '"burst";r=0;t=6, "daily";r=199900;t=43196'
    frozen_clock.advance(seconds=6)
    # Not served: the refused contact does not exist; a new window serves again.
    found = call(api, token, "GET", "/contacts/?locationId=loc1&query=late@example.com")
    assert found.status_code == 200 and found.json_body["contacts"] == []
    assert limits(found)["x-ratelimit-remaining"] == "99"


def test_rotating_the_token_keeps_the_burst_counter(api: Api) -> None:
    integration_id, token = create(api, LOCATION_SCOPES)
    spend(api, token, 60)
    newer = rotate(api, integration_id, "later").json_body["token"]
    spend(api, newer, 20)
    spend(api, token, 10)  # the old token, still in its overlap, shares the counter
    newest = rotate(api, integration_id, "now").json_body["token"]
    response = call(api, newest)
    assert limits(response)["x-ratelimit-remaining"] == "9"
    spend(api, newest, 9)
    assert call(api, newest).status_code == 429


def test_another_integration_of_the_location_is_unaffected_by_one_at_its_burst_limit(api: Api) -> None:
    busy = create(api, LOCATION_SCOPES).token
    quiet = create(api, LOCATION_SCOPES).token
    spend(api, busy, BURST)
    assert call(api, busy).status_code == 429
    response = call(api, quiet)
    assert response.status_code == 200
    assert limits(response)["x-ratelimit-remaining"] == "99"
    # ...but the location's daily count is shared by both.
    assert limits(response)["x-ratelimit-daily-remaining"] == str(DAILY - BURST - 1)


def test_an_agency_token_has_a_burst_window_per_location(api: Api) -> None:
    token = create(api, ["locations.readonly"], owner="agencies/ag1").token
    spend(api, token, BURST, path="/locations/loc1")
    assert call(api, token, path="/locations/loc1").status_code == 429
    other = call(api, token, path="/locations/loc2")
    assert other.status_code == 200
    assert limits(other)["x-ratelimit-remaining"] == "99"
    assert limits(other)["x-ratelimit-daily-remaining"] == str(DAILY - 1)


def test_the_daily_limit_is_the_locations_until_the_next_utc_day(
    api: Api, frozen_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config, "settings", config.settings._replace(rate_limit_daily=5))
    first, second = create(api, LOCATION_SCOPES).token, create(api, LOCATION_SCOPES).token
    spend(api, first, 3)
    spend(api, second, 2)
    refused = call(api, second)
    assert refused.status_code == 429
    assert refused.json_body["limit"] == "daily"
    assert refused.json_body["resetsAt"] == "2026-01-16T00:00:00.000Z"
    assert refused.headers["Retry-After"] == str(12 * 3600)
    assert limits(refused)["x-ratelimit-daily-remaining"] == "0"
    assert limits(refused)["x-ratelimit-limit-daily"] == "5"
    assert call(api, first).status_code == 429  # shared by every integration of the location
    frozen_clock.advance(hours=11, minutes=59, seconds=59)
    assert call(api, first).status_code == 429
    frozen_clock.advance(seconds=1)
    again = call(api, first)
    assert again.status_code == 200
    assert limits(again)["x-ratelimit-daily-remaining"] == "4"
    assert limits(again)["x-ratelimit-daily-reset"] == str(NEXT_MIDNIGHT_MS + 86_400_000)


def test_an_agency_admin_lowers_an_integrations_burst_limit(api: Api) -> None:
    integration_id, token = create(api, LOCATION_SCOPES)
    shown = api.get(f"/private-integrations/{integration_id}").json_body["privateIntegration"]
    assert shown["rateLimits"] == {"burstMax": 100, "burstIntervalMilliseconds": 10000, "dailyLimit": 200000}
    assert shown["burstLimit"] is None
    edited = api.patch(f"/private-integrations/{integration_id}", {"burstLimit": 5})
    assert edited.status_code == 200, edited.body
    assert edited.json_body["privateIntegration"]["burstLimit"] == 5
    assert edited.json_body["privateIntegration"]["rateLimits"]["burstMax"] == 5
    events = api.get(f"/private-integrations/{integration_id}/events").json_body["events"]
    assert events[0]["details"]["changes"]["burstLimit"] == {"before": None, "after": 5}
    spend(api, token, 4)
    last = call(api, token)
    assert last.status_code == 200 and limits(last)["x-ratelimit-max"] == "5"
    assert call(api, token).status_code == 429
    # Back to the platform's default.
    assert api.patch(f"/private-integrations/{integration_id}", {"burstLimit": None}).status_code == 200
    assert call(api, token).status_code == 200


def test_only_an_agency_admin_changes_the_burst_limit(api: Api) -> None:
    integration_id, _ = create(api, LOCATION_SCOPES)
    refused = api.patch(f"/private-integrations/{integration_id}", {"burstLimit": 5}, user="staff_flags")
    assert refused.status_code == 403
    assert "agency admin" in refused.json_body["message"]
    # The same user still edits what its permission allows.
    renamed = api.patch(f"/private-integrations/{integration_id}", {"name": "x"}, user="staff_flags")
    assert renamed.status_code == 200


@pytest.mark.parametrize("value", [0, -1, 101, 1.5, "10", True, 10**30])
def test_a_bad_burst_limit_is_422(api: Api, value: Any) -> None:
    integration_id, _ = create(api, LOCATION_SCOPES)
    response = api.patch(f"/private-integrations/{integration_id}", {"burstLimit": value})
    assert response.status_code == 422
    assert any("burstLimit" in problem and "100" in problem for problem in response.json_body["message"])


def test_the_page_shows_each_locations_daily_use_today(api: Api, frozen_clock: FakeClock) -> None:
    token = create(api, LOCATION_SCOPES).token
    agency_token = create(api, ["locations.readonly"], owner="agencies/ag1").token
    spend(api, token, 3)
    spend(api, agency_token, 2, path="/locations/loc2")
    listed = api.get("/locations/loc1/private-integrations").json_body
    assert listed["dailyUsage"] == [
        {
            "locationId": "loc1",
            "name": "Loc One",
            "used": 3,
            "limit": DAILY,
            "resetsAt": "2026-01-16T00:00:00.000Z",
        },
    ]
    agency = api.get("/agencies/ag1/private-integrations").json_body
    assert [(u["locationId"], u["used"]) for u in agency["dailyUsage"]] == [("loc1", 3), ("loc2", 2)]
    frozen_clock.advance(days=1)
    assert api.get("/locations/loc1/private-integrations").json_body["dailyUsage"][0]["used"] == 0


def test_a_database_error_admits_a_bounded_local_budget_then_refuses_never_a_500(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.ratelimit import store

    token = create(api, LOCATION_SCOPES).token
    spend(api, token, 1)

    def throttled(*args: Any, **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "UpdateItem")

    monkeypatch.setattr(store, "reserve", throttled)
    statuses = [call(api, token).status_code for _ in range(40)]
    served = statuses.count(200)
    # What the container still held (a lease of at most 10) plus one lease's worth on its own word:
    # never unlimited, and never a 500.
    assert 10 <= served <= 20, statuses
    assert set(statuses) <= {200, 429}


def _counter(key_prefix: str) -> list[int]:
    from chalicelib.ratelimit.models import CounterModel

    return [int(item.reserved) for item in CounterModel.scan() if item.key.startswith(key_prefix)]


def test_a_key_its_container_sees_once_a_window_costs_no_write_and_the_next_request_counts_both(
    api: Api,
) -> None:
    from chalicelib.integrations import rate_limits

    integration_id, token = create(api, LOCATION_SCOPES)
    rate_limits.limiter.reset()
    assert call(api, token).status_code == 200
    assert _counter(f"b#{integration_id}#") == []  # the burst window: no write
    assert _counter("d#l:loc1#") == [1]  # the daily count is exact (its leases last the day)
    assert call(api, token).status_code == 200
    # The second request's reservation counts the first one with it.
    assert _counter(f"b#{integration_id}#") == [2]


def test_a_key_hot_in_its_containers_last_window_is_reserved_from_the_first_request(
    api: Api, frozen_clock: FakeClock
) -> None:
    from chalicelib.integrations import rate_limits

    token = create(api, LOCATION_SCOPES).token
    spend(api, token, 30)
    frozen_clock.advance(seconds=10)
    writes = rate_limits.limiter.writes
    assert call(api, token).status_code == 200
    assert rate_limits.limiter.writes == writes + 1  # the new burst window; today's lease still holds


@pytest.mark.parametrize("unreserved", [0, 1, 2])
def test_containers_together_admit_at_most_the_limit_plus_their_unreserved_requests(
    api: Api, unreserved: int
) -> None:
    """Any interleaving of requests from several containers in one window: the counter never passes
    the limit, and admitted requests pass it by at most `unreserved` per container (the stated bound)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from chalicelib.ratelimit import Limiter, burst_window
    from chalicelib.ratelimit.models import CounterModel

    limit, containers = 7, 4
    runs = iter(range(10_000))

    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.integers(0, containers - 1), min_size=1, max_size=30))
    def interleaving(order: list[int]) -> None:
        key = f"prop-{unreserved}-{next(runs)}"
        limiters = [Limiter() for _ in range(containers)]
        window = burst_window(key, limit, 10_000, 3, datetime(2026, 1, 15, 12, tzinfo=UTC), unreserved)
        admitted = sum(limiters[index].check([window]).admitted for index in order)
        try:
            counted = int(CounterModel.get(window.key).reserved)
        except CounterModel.DoesNotExist:
            counted = 0
        assert counted <= limit
        assert admitted <= limit + unreserved * len(set(order))
        if len(order) > limit + unreserved * containers:  # enough requests: the limit is reached
            assert admitted >= limit - 3 * (containers - 1)  # less at most the leases stranded

    interleaving()


def test_a_limit_below_the_lease_size_holds_and_the_counter_never_passes_it(api: Api) -> None:
    """A container hot under the default limit, then the integration lowered to 1 (or 3): every window
    admits at most the limit and the counter never passes it (a reservation never asks for more)."""
    from datetime import timedelta

    from chalicelib.ratelimit import Limiter, burst_window
    from chalicelib.ratelimit.models import CounterModel

    start = datetime(2026, 1, 15, 12, tzinfo=UTC)
    for lowered in (1, 3):
        limiter = Limiter()
        key = f"lowered-{lowered}#l:loc1"
        hot = burst_window(key, BURST, INTERVAL_MS, 10, start, 1)
        assert sum(limiter.check([hot]).admitted for _ in range(BURST)) == BURST
        for n in range(1, 4):
            window = burst_window(key, lowered, INTERVAL_MS, 10, start + timedelta(seconds=10 * n), 0)
            assert sum(limiter.check([window]).admitted for _ in range(30)) == lowered
            assert int(CounterModel.get(window.key).reserved) == lowered
        cold = burst_window(f"cold-{lowered}#l:loc1", lowered, INTERVAL_MS, 10, start, 1)
        fresh = Limiter()
        assert sum(fresh.check([cold]).admitted for _ in range(30)) == lowered
        assert _counter(cold.key) in ([], [lowered])  # a limit used up unreserved is never written


def test_a_lowered_burst_limit_and_the_daily_limit_admit_nothing_unreserved(api: Api) -> None:
    """Unreserved admissions are for the platform's default burst limit only: an admin's lowered limit
    is exact, and so is the daily count the page shows (one request: counted at once)."""
    from chalicelib.integrations import rate_limits
    from chalicelib.ratelimit.models import CounterModel

    integration_id, token = create(api, LOCATION_SCOPES)
    assert api.patch(f"/private-integrations/{integration_id}", {"burstLimit": 5}).status_code == 200
    rate_limits.limiter.reset()
    assert call(api, token).status_code == 200
    keys = {item.key.split("#")[0]: int(item.reserved) for item in CounterModel.scan()}
    assert keys == {"b": 1, "d": 1}


def test_a_lowered_burst_limit_reaches_every_container_with_the_next_request(api: Api) -> None:
    """The limit travels on the token items (the authorizer's one read) and the authorizer caches are
    flushed: a container that read the default a moment ago applies the lowered limit at once, and a
    v2 request reads no integration for it."""
    from chalicelib.integrations import rate_limits
    from chalicelib.tokens.models import TokenModel
    from chalicelib.tokens.token_text import digest

    integration_id, token = create(api, LOCATION_SCOPES)
    assert limits(call(api, token))["x-ratelimit-max"] == "100"
    assert api.patch(f"/private-integrations/{integration_id}", {"burstLimit": 5}).status_code == 200
    assert int(TokenModel.get(digest(token)).burst_limit) == 5
    # Another container, which read the default a moment ago and would trust it for a minute:
    far = datetime(2099, 1, 1, tzinfo=UTC)
    rate_limits._burst_limits[integration_id] = (None, far)
    assert limits(call(api, token))["x-ratelimit-max"] == "5"
    newer = rotate(api, integration_id, "now").json_body["token"]
    assert int(TokenModel.get(digest(newer)).burst_limit) == 5
    assert limits(call(api, newer))["x-ratelimit-max"] == "5"
    assert api.patch(f"/private-integrations/{integration_id}", {"burstLimit": None}).status_code == 200
    rate_limits._burst_limits[integration_id] = (5, far)
    assert limits(call(api, newer))["x-ratelimit-max"] == "100"
