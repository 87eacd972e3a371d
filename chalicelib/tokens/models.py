"""The token item: its own module so the authorizer imports one model, not all of them."""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from chalicelib.core import clock, config
from chalicelib.core.model_base import index_meta, table_meta

# The sparse cleanup index is spread over this many partition keys, by token digest: every create,
# rotation and reminder writes it, and one key takes at most ~1,000 writes/s (make scale).
DUE_SHARDS = 16
# What the cleanup reads from the index. Not ALL: then every lastUsedAt write (the authorizer's) would
# also write the index.
DUE_INDEX_ATTRIBUTES = [
    "integrationId",
    "ownerType",
    "ownerId",
    "agencyId",
    "state",
    "hint",
    "createdAt",
    "expiresAt",
    "rotationNotified",
    "expiryNotice",
]
# A token with an expiry chosen by its owner gets these notices, once each: (name, how long before).
EXPIRY_NOTICES = (("7d", timedelta(days=7)), ("1d", timedelta(days=1)), ("expired", timedelta(0)))


def _bucket(shard: int) -> str:
    return f"due#{shard:02d}"


def due_bucket(token_hash: str) -> str:
    """The token's partition key in the cleanup index: `due#00` .. `due#15`."""
    return _bucket(int(token_hash[:8], 16) % DUE_SHARDS)


def due_buckets() -> list[str]:
    return [_bucket(shard) for shard in range(DUE_SHARDS)]


class DueIndex(GlobalSecondaryIndex):
    Meta = index_meta("by-due", IncludeProjection(DUE_INDEX_ATTRIBUTES))
    due_bucket = UnicodeAttribute(hash_key=True, attr_name="dueBucket")
    due_at = NumberAttribute(range_key=True, attr_name="dueAt")


class TokenModel(Model):
    Meta = table_meta("tokens")
    token_hash = UnicodeAttribute(hash_key=True, attr_name="tokenHash")
    integration_id = UnicodeAttribute(attr_name="integrationId")
    owner_type = UnicodeAttribute(attr_name="ownerType")
    owner_id = UnicodeAttribute(attr_name="ownerId")
    agency_id = UnicodeAttribute(attr_name="agencyId")
    scopes = ListAttribute(of=UnicodeAttribute)
    state = UnicodeAttribute()  # "active" (current) | "rotating" (previous, until expiresAt) | "revoked"
    revoked_reason = UnicodeAttribute(attr_name="revokedReason", null=True)  # a RevocationReason
    hint = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute(attr_name="createdAt")
    expires_at = TTLAttribute(attr_name="expiresAt", null=True)
    last_used_at = NumberAttribute(attr_name="lastUsedAt", null=True)  # epoch seconds
    # Sparse cleanup index: set only while the scheduled job has something to do for this token
    # (an active token's 90-day rotation reminder, a rotating token's expiry).
    due_bucket = UnicodeAttribute(attr_name="dueBucket", null=True)
    due_at = NumberAttribute(attr_name="dueAt", null=True)
    rotation_notified = BooleanAttribute(attr_name="rotationNotified", default=False)
    # The last expiry notice recorded for a token with a chosen expiry ("7d", "1d", "expired").
    expiry_notice = UnicodeAttribute(attr_name="expiryNotice", null=True)
    # A rotating-out token's `token.unused` notice was recorded (integrations/usage_notices.py).
    unused_notified = BooleanAttribute(attr_name="unusedNotified", null=True)
    # The IAM policy for `scopes`, planned when they were set (stored_policy.py), and the catalog and
    # planner version it was planned under: the authorizer plans nothing while the version is current.
    policy = BinaryAttribute(null=True, legacy_encoding=False)
    policy_version = UnicodeAttribute(attr_name="policyVersion", null=True)
    # The integration's IP allowlist and its mode, packed (tokens/address_match.py), copied from the
    # integration at issue and on every edit of it; absent: any address.
    allowlist = BinaryAttribute(attr_name="allowlist", null=True, legacy_encoding=False)
    # The integration's burst limit as an agency admin lowered it, 0 for the platform's default; copied
    # like the allowlist, so a v2 request reads it from the authorizer's context (absent: an item written
    # before it was copied: the rate limiter reads the integration).
    burst_limit = NumberAttribute(attr_name="burstLimit", null=True)
    by_due = DueIndex()


def rotation_recommended_at(token_created_at: datetime) -> datetime:
    """When a token is old enough that rotating it is recommended (the page, the 90-day notice)."""
    return token_created_at + timedelta(days=config.settings.rotation_recommended_after_days)


def pending_notices(
    created_at: datetime,
    expires_at: datetime | None,
    rotation_notified: bool | None,
    expiry_notice: str | None,
) -> list[tuple[str, datetime]]:
    """What the cleanup still has to record for an active token, as (notice, when), earliest first:
    "rotation_recommended" (90 days, unless the token ends before), then the expiry notices not yet
    recorded (a 7-day notice of a token that lives less than 7 days is never due)."""
    pending: list[tuple[str, datetime]] = []
    reminder = rotation_recommended_at(created_at)
    if not rotation_notified and (expires_at is None or reminder < expires_at):
        pending.append(("rotation_recommended", reminder))
    if expires_at is not None:
        done = [name for name, _ in EXPIRY_NOTICES].index(expiry_notice) + 1 if expiry_notice else 0
        for name, lead in EXPIRY_NOTICES[done:]:
            if lead == timedelta(0) or expires_at - lead > created_at:
                pending.append((name, expires_at - lead))
    return sorted(pending, key=lambda notice: notice[1])


def next_due(pending: list[tuple[str, datetime]]) -> int | None:
    """The due index's `dueAt` for these pending notices (None: nothing left, leave the index)."""
    return clock.epoch(pending[0][1]) if pending else None
