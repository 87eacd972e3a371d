"""The platform's Private Integration rate limits: what a request is counted against, and the one call
a v2 handler makes (this service's own routes, and any downstream API behind the same authorizer).

    from chalicelib.integrations import rate_limits

    decision = rate_limits.check(token_context, location_id)   # raises TooManyRequests (429)
    response.headers.update(decision.headers())

- burst: `rate_limit_burst` requests per `rate_limit_interval_ms` per (integration, location), keyed on
  the integration id, so every rotation keeps the counter; an agency admin may lower it per integration
  (`burstLimit`);
- daily: `rate_limit_daily` requests per location per UTC day, shared by all the location's
  integrations; an agency token on a route that names no location counts against its agency.

Where a request is counted: a location token, against its own location (it reaches no other); an agency
token, against the location the route names when that location is its agency's, else its agency (so an
agency's token cannot spend another agency's budget). The counting itself is chalicelib/ratelimit.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from chalicelib.core import clock, config
from chalicelib.core.errors import TooManyRequests
from chalicelib.core.vocabulary import Owner, OwnerType
from chalicelib.directory.models import LocationModel
from chalicelib.integrations.models import IntegrationModel
from chalicelib.ratelimit import Decision, burst_window, daily_window, leases, limiter, store
from chalicelib.tokens.context import TokenContext

log = logging.getLogger("private_integrations.ratelimit")

# Per container: an integration's lowered burst limit (None: the default) until a moment, and the
# agency of each location (it never changes).
_burst_limits: dict[str, tuple[int | None, datetime]] = {}
_location_agency: dict[str, str | None] = {}


def check(token: TokenContext, location_id: str | None = None) -> Decision:
    """Counts one request of `token` (to `location_id`, the location its route names, if any) against the
    burst and daily limits. Returns the decision (its `headers()` go on the answer) or raises
    TooManyRequests (429, with those headers and Retry-After): the request must not be served."""
    settings = config.settings
    counted = _counted_against(token, location_id)
    now = clock.now()
    # The token item's copy (the authorizer's context); an item written before it was copied: the
    # integration, read at most once per rate_limit_settings_seconds per container.
    if token.burst_limit is None:
        burst_max = burst_limit(token.integration_id)
    else:
        burst_max = effective_burst(token.burst_limit or None)
    # Unreserved admissions (docs/rate-limits.md) only under the platform's default burst limit: a
    # limit an admin lowered is exact, and so is the daily count (its leases last the day: cheap).
    unreserved = settings.rate_limit_unreserved if burst_max == settings.rate_limit_burst else 0
    windows = [
        burst_window(
            f"{token.integration_id}#{counted}",
            burst_max,
            settings.rate_limit_interval_ms,
            settings.rate_limit_burst_lease,
            now,
            unreserved,
        ),
        daily_window(counted, settings.rate_limit_daily, settings.rate_limit_daily_lease, now),
    ]
    decision = limiter.check(windows)
    if decision.refused_by is None:
        return decision
    window = decision.refused_by
    resets = clock.iso(window.ends_at)
    wait = decision.seconds_left(window)
    if window.name == "burst":
        message = (
            f"This integration reached its burst limit of {window.limit} requests per "
            f"{settings.rate_limit_interval_ms // 1000} seconds for this location: retry after {wait} "
            f"seconds (at {resets}); read the x-ratelimit-* headers to pace requests."
        )
    else:
        message = (
            f"This location reached its daily limit of {window.limit} API requests (shared by all of its "
            f"integrations): it resets at {resets} (midnight UTC), in {wait} seconds."
        )
    raise TooManyRequests(message, {"limit": window.name, "resetsAt": resets}, decision.headers())


def _counted_against(token: TokenContext, location_id: str | None) -> str:
    if token.owner_type == OwnerType.LOCATION:
        return f"l:{token.owner_id}"
    if location_id and _agency_of(location_id) == token.agency_id:
        return f"l:{location_id}"
    return f"a:{token.agency_id}"


def _agency_of(location_id: str) -> str | None:
    if location_id not in _location_agency:
        try:
            found = LocationModel.get(location_id, attributes_to_get=["id", "agencyId"])
            _location_agency[location_id] = found.agency_id
        except LocationModel.DoesNotExist:
            return None  # not cached: a location may be created later
    return _location_agency[location_id]


def burst_limit(integration_id: str) -> int:
    """The integration's burst limit: its own (lowered) one, else the configured default. Read at most
    once per `rate_limit_settings_seconds` per container (a database error keeps what was known)."""
    settings = config.settings
    now = clock.now()
    known = _burst_limits.get(integration_id)
    if known is None or known[1] <= now:
        try:
            found = IntegrationModel.get(integration_id, attributes_to_get=["id", "burstLimit"])
            lowered = None if found.burst_limit is None else int(found.burst_limit)
        except IntegrationModel.DoesNotExist:
            lowered = None
        except (BotoCoreError, ClientError, PynamoDBException) as error:
            log.warning("burst limit of %s unreadable (%s): using the last known", integration_id, error)
            lowered = known[0] if known else None
        known = (lowered, now + timedelta(seconds=settings.rate_limit_settings_seconds))
        _burst_limits[integration_id] = known
    return effective_burst(known[0])


def effective_burst(lowered: int | None) -> int:
    default = config.settings.rate_limit_burst
    return default if lowered is None else min(lowered, default)


def forget(integration_id: str) -> None:
    """An edit changed the integration's burst limit: this container reads it again on the next request."""
    _burst_limits.pop(integration_id, None)


def reset() -> None:
    """Everything this container knows (tests start from a fresh world)."""
    _burst_limits.clear()
    _location_agency.clear()
    limiter.reset()


def settings_view(lowered: int | None) -> dict[str, int]:
    """An integration's limits as the management API shows them."""
    settings = config.settings
    return {
        "burstMax": effective_burst(lowered),
        "burstIntervalMilliseconds": settings.rate_limit_interval_ms,
        "dailyLimit": settings.rate_limit_daily,
    }


def daily_usage(owner: Owner) -> list[dict[str, Any]]:
    """Each location's use of its daily limit today (a location owner: itself; an agency: every location
    of the agency), by one BatchGetItem of today's counters. Counted are requests admitted and budget
    leased to containers and not yet used (this container's own unused lease is subtracted;
    docs/rate-limits.md)."""
    if owner.type == OwnerType.LOCATION:
        locations = [LocationModel.get(owner.id)]
    else:
        locations = sorted(LocationModel.by_agency.query(owner.agency_id), key=lambda found: found.id)
    now = clock.now()
    day = now.date().isoformat()
    keys = {location.id: leases.daily_key(f"l:{location.id}", day) for location in locations}
    used = store.used_many(list(keys.values()))
    limit = config.settings.rate_limit_daily
    resets = clock.iso(daily_window("", limit, 1, now).ends_at)
    return [
        {
            "locationId": location.id,
            "name": location.name,
            "used": min(max(0, used[keys[location.id]] + limiter.own_correction(keys[location.id])), limit),
            "limit": limit,
            "resetsAt": resets,
        }
        for location in locations
    ]
