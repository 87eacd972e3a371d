"""GET /private-integrations/{id}/usage: an integration's requests per hour or day, by token and outcome."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.core import clock
from chalicelib.core.errors import ValidationFailed
from chalicelib.tokens import address_match, allowlist
from chalicelib.usage.access_log import OUTCOMES, ROLES
from chalicelib.usage.models import ADDRESSES_PER_DAY, SUMMARY, UsageModel, attribute_name, day_key, hour_key

DEFAULT_DAYS, MAX_DAYS = 7, 90
ASCII_DAYS = re.compile(r"[0-9]{1,2}")
HOURLY_UP_TO_DAYS = 7  # up to a week: 24 buckets a day; longer: one a day (at most 90)
ADDRESS_DAYS = 7  # `addresses`: the distinct callers of the last 7 days (today included), whatever `days`


def parse_days(query: Mapping[str, str]) -> int:
    """`days` from the query string: a whole number 1..90, default 7; else 422 saying what to send."""
    problems = [
        f"'{name}' is not a parameter of this route (allowed: days)" for name in query if name != "days"
    ]
    raw = query.get("days")
    days = DEFAULT_DAYS
    if raw is not None:
        # ASCII digits only ("²".isdigit() is true, and int() refuses it), at most 2 of them.
        if not ASCII_DAYS.fullmatch(raw) or not 1 <= int(raw) <= MAX_DAYS:
            shown = raw if len(raw) <= 16 else raw[:16] + "…"
            problems.append(f"days must be a whole number from 1 to {MAX_DAYS} (e.g. ?days=7); got '{shown}'")
        else:
            days = int(raw)
    if problems:
        raise ValidationFailed(problems)
    return days


def _zero() -> dict[str, int]:
    return dict.fromkeys(OUTCOMES, 0)


def _counts(item: UsageModel, role: str) -> dict[str, int]:
    return {outcome: int(getattr(item, attribute_name(role, outcome)) or 0) for outcome in OUTCOMES}


def last_use(item: UsageModel | None, role: str) -> dict[str, Any] | None:
    """The last use by `role` an hour item (exact for its hour) or the summary records, or None."""
    if item is None:
        return None
    at, ip, agent = (getattr(item, f"{role}_last_{part}") for part in ("at", "ip", "user_agent"))
    if at is None:
        return None
    moment = datetime.fromtimestamp(int(at) / 1000, tz=UTC)
    return {"at": clock.iso(moment), "ip": ip, "userAgent": agent, "token": role}


def _hour_range(since: datetime, until: datetime) -> Any:
    low = hour_key(since.astimezone(UTC).strftime("%Y-%m-%dT%H"))
    return UsageModel.sk.between(low, hour_key(until.astimezone(UTC).strftime("%Y-%m-%dT%H")))


def newest_use(integration_id: str) -> datetime | None:
    """The integration's last request by either token, exactly, while its hour item lives (90 days)."""
    newest = UsageModel.query(
        integration_id, UsageModel.sk.startswith("h#"), scan_index_forward=False, limit=1
    )
    for item in newest:
        uses = [at for at in (item.current_last_at, item.previous_last_at) if at is not None]
        return datetime.fromtimestamp(int(max(uses)) / 1000, tz=UTC) if uses else None
    return None


def last_use_since(integration_id: str, role: str, since: datetime) -> datetime | None:
    """When `role`'s token last made a request at or after `since`, exactly (newest hour items first)."""
    for item in UsageModel.query(integration_id, _hour_range(since, clock.now()), scan_index_forward=False):
        at = getattr(item, f"{role}_last_at")
        if at is not None:
            moment = datetime.fromtimestamp(int(at) / 1000, tz=UTC)
            return moment if moment >= since else None
    return None


def summary_of(integration_id: str) -> UsageModel | None:
    try:
        return UsageModel.get(integration_id, SUMMARY)
    except UsageModel.DoesNotExist:
        return None


def _address_order(text: str) -> tuple[int, int]:
    address = ipaddress.ip_address(text)
    return address.version, int(address)


def seen_addresses(integration_id: str, allowed_ips: Sequence[str]) -> list[dict[str, Any]]:
    """The distinct caller addresses of the last ADDRESS_DAYS days (newest days first until
    ADDRESSES_PER_DAY, then in address order), each with whether `allowed_ips` (the integration's
    normalised list; empty: any address) admits it, as the authorizer's matcher decides."""
    today = clock.now().astimezone(UTC)
    low = day_key((today - timedelta(days=ADDRESS_DAYS - 1)).strftime("%Y-%m-%d"))
    days = UsageModel.query(
        integration_id,
        UsageModel.sk.between(low, day_key(today.strftime("%Y-%m-%d"))),
        scan_index_forward=False,
    )
    found: set[str] = set()
    for item in days:
        for address in sorted(item.addresses or (), key=_address_order):
            if len(found) >= ADDRESSES_PER_DAY:
                break
            found.add(address)
    packed = allowlist.pack(allowlist.ENFORCE, list(allowed_ips))
    listed = address_match.unpack(packed) if packed else None
    return [
        {"ip": address, "allowed": listed is None or not address_match.outside(listed, address)}
        for address in sorted(found, key=_address_order)
    ]


def report(integration_id: str, days: int, allowed_ips: Sequence[str] = ()) -> dict[str, Any]:
    """The usage answer; `allowed_ips`: the integration's current allowlist, for `addresses`' `allowed`."""
    now = clock.now()
    hourly = days <= HOURLY_UP_TO_DAYS
    if hourly:
        step = timedelta(hours=1)
        first = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(
            hours=days * 24 - 1
        )
    else:
        step = timedelta(days=1)
        first = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
            days=days - 1
        )
    starts: list[datetime] = []
    moment = first
    while moment <= now:
        starts.append(moment)
        moment += step
    buckets = {start: {role: _zero() for role in ROLES} for start in starts}
    totals = {role: _zero() for role in ROLES}
    newest: dict[str, UsageModel] = {}  # per role, the newest hour item it was used in
    for item in UsageModel.query(integration_id, _hour_range(first, now)):
        hour = datetime.strptime(item.sk[2:], "%Y-%m-%dT%H").replace(tzinfo=UTC)
        start = hour if hourly else hour.replace(hour=0)
        if start not in buckets:
            continue
        for role in ROLES:
            for outcome, n in _counts(item, role).items():
                buckets[start][role][outcome] += n
                totals[role][outcome] += n
            if getattr(item, f"{role}_last_at") is not None:
                newest[role] = item  # ascending: the last one seen is the newest
    # Exact from the window's hour items; older than the window, the summary's (its hour's first batch).
    summary = None if len(newest) == len(ROLES) else summary_of(integration_id)
    by_token = {role: last_use(newest.get(role) or summary, role) for role in ROLES}
    used = [use for use in by_token.values() if use is not None]
    return {
        "integrationId": integration_id,
        "from": clock.iso(first),
        "to": clock.iso(now),
        "granularity": "hour" if hourly else "day",
        "buckets": [{"start": clock.iso(start), **counts} for start, counts in buckets.items()],
        "totals": totals,
        "lastUsed": max(used, key=lambda use: str(use["at"])) if used else None,
        "lastUsedByToken": by_token,
        "addresses": seen_addresses(integration_id, allowed_ips),
    }
