"""What a create or edit body may hold: 422 naming every problem."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.core import clock, config
from chalicelib.core.errors import ValidationFailed
from chalicelib.tokens import allowlist, catalog

NAME_MAX = 100
DESCRIPTION_MAX = 500
EDITABLE_FIELDS = ("name", "description", "scopes", "burstLimit", "allowedIps", "ipRestriction")
# Fields whose model attribute is named differently (audit events and problems use the API's names).
ATTRIBUTES = {"burstLimit": "burst_limit", "allowedIps": "allowed_ips", "ipRestriction": "ip_restriction"}
API_NAMES = {attribute: name for name, attribute in ATTRIBUTES.items()}
# A token's expiry is chosen when it is made (create, rotate), never edited afterwards.
EXPIRY_FIELDS = ("expiresInDays", "expiresAt")
MAX_EXPIRY_DAYS = 366
# Bidirectional embeddings, overrides and isolates: they make a name read differently from what it is.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def validate(body: dict[str, Any], level: str, *, partial: bool) -> dict[str, Any]:
    """The cleaned fields of a create (all, plus the token's expiry as `expires_at`) or edit (some)
    body, or 422 naming every problem."""
    allowed = EDITABLE_FIELDS if partial else EDITABLE_FIELDS + EXPIRY_FIELDS
    problems = [
        f"'{key}' is not a field of a private integration (allowed: {', '.join(allowed)})"
        for key in body
        if key not in allowed
    ]
    cleaned: dict[str, Any] = {}
    if not partial:
        cleaned["expires_at"], expiry_problems = token_expiry(body)
        problems.extend(expiry_problems)
    if "name" in body or not partial:
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= NAME_MAX:
            problems.append(f"name is required: a string of 1 to {NAME_MAX} characters (after trimming)")
        elif unsafe := unsafe_character(name, allowed=""):
            problems.append(f"name must not contain control characters or bidi overrides (found {unsafe})")
        else:
            cleaned["name"] = name.strip()
    if "description" in body or not partial:
        description = body.get("description")
        if description is None:
            cleaned["description"] = ""
        elif not isinstance(description, str) or len(description.strip()) > DESCRIPTION_MAX:
            problems.append(f"description must be a string of at most {DESCRIPTION_MAX} characters")
        elif unsafe := unsafe_character(description, allowed="\t\n"):
            problems.append(
                "description must not contain control characters other than tab and newline, "
                f"nor bidi overrides (found {unsafe})"
            )
        else:
            cleaned["description"] = description.strip()
    if "scopes" in body or not partial:
        scope_problems = catalog.scope_problems(body.get("scopes"), level)
        problems.extend(scope_problems)
        if not scope_problems:
            cleaned["scopes"] = list(body["scopes"])
    if "burstLimit" in body:
        limit, limit_problems = burst_limit(body["burstLimit"])
        problems.extend(limit_problems)
        if not limit_problems:
            cleaned["burst_limit"] = limit
    if "allowedIps" in body or not partial:
        entries, ip_problems = allowlist.normalise(body.get("allowedIps", []))
        problems.extend(ip_problems)
        if not ip_problems:
            cleaned["allowed_ips"] = entries
    if "ipRestriction" in body or not partial:
        mode = body.get("ipRestriction", allowlist.ENFORCE)
        mode_problems = allowlist.mode_problems(mode)
        problems.extend(mode_problems)
        if not mode_problems:
            cleaned["ip_restriction"] = mode
    if partial and not body:
        problems.append(f"send at least one of {', '.join(EDITABLE_FIELDS)}")
    if problems:
        raise ValidationFailed(problems)
    return cleaned


def burst_limit(value: Any) -> tuple[int | None, list[str]]:
    """An integration's own burst limit: a whole number from 1 to the configured default (it can only be
    lowered), or null for the default."""
    default = config.settings.rate_limit_burst
    if value is None:
        return None, []
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= default:
        shown = repr(value)[:40] if isinstance(value, str) else str(value)[:40]
        return None, [
            f"burstLimit must be a whole number of requests from 1 to {default} (per "
            f"{config.settings.rate_limit_interval_ms} ms), or null for the default, got {shown}"
        ]
    return value, []


def token_expiry(body: dict[str, Any]) -> tuple[datetime | None, list[str]]:
    """A new token's expiry from `expiresInDays` (1-366) or `expiresAt` (ISO 8601, in the future, at
    most 366 days ahead); neither, or null: it never expires. Whole seconds (the TTL attribute's)."""
    days, at = body.get("expiresInDays"), body.get("expiresAt")
    now = clock.now()
    latest = now + timedelta(days=MAX_EXPIRY_DAYS)
    if days is not None and at is not None:
        return None, ["send expiresInDays or expiresAt, not both (or neither: the token never expires)"]
    if days is not None:
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_EXPIRY_DAYS:
            shown = repr(days)[:40] if isinstance(days, str) else str(days)[:40]
            return None, [
                f"expiresInDays must be a whole number of days from 1 to {MAX_EXPIRY_DAYS}, or null for "
                f"no expiry, got {shown}"
            ]
        return (now + timedelta(days=days)).replace(microsecond=0), []
    if at is None:
        return None, []
    moment = _instant(at)
    if moment is None:
        return None, [
            "expiresAt must be an ISO 8601 date and time with a time zone, e.g. 2026-12-31T23:59:59Z"
        ]
    moment = moment.replace(microsecond=0)
    if moment <= now:
        return None, [f"expiresAt must be in the future (now is {clock.iso(now)})"]
    if moment > latest:
        return None, [f"expiresAt must be at most {MAX_EXPIRY_DAYS} days ahead (at most {clock.iso(latest)})"]
    return moment, []


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None  # a time without a zone means different instants to different readers
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted by its offset out of datetime's range
        return None


def unsafe_character(text: str, allowed: str) -> str | None:
    """The first C0/C1 control (except `allowed`) or bidi control in `text`, as U+XXXX, else None."""
    for char in text:
        code = ord(char)
        if (code < 0x20 or 0x7F <= code <= 0x9F or char in BIDI_CONTROLS) and char not in allowed:
            return f"U+{code:04X}"
    return None
