"""The token item: its own module so the authorizer imports one model, not all of them."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

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
    "reminderClaim",
]


def due_bucket(token_hash: str) -> str:
    """The token's partition key in the cleanup index: `due#00` .. `due#15`."""
    return f"due#{int(token_hash[:8], 16) % DUE_SHARDS:02d}"


def due_buckets() -> list[str]:
    return [f"due#{shard:02d}" for shard in range(DUE_SHARDS)]


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
    state = UnicodeAttribute()  # "active" (current) | "rotating" (previous, until expiresAt)
    hint = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute(attr_name="createdAt")
    expires_at = TTLAttribute(attr_name="expiresAt", null=True)
    last_used_at = NumberAttribute(attr_name="lastUsedAt", null=True)  # epoch seconds
    # Sparse cleanup index: set only while the scheduled job has something to do for this token
    # (an active token's 90-day rotation reminder, a rotating token's expiry).
    due_bucket = UnicodeAttribute(attr_name="dueBucket", null=True)
    due_at = NumberAttribute(attr_name="dueAt", null=True)
    rotation_notified = BooleanAttribute(attr_name="rotationNotified", default=False)
    # The cleanup run that is sending this token's reminder; its lease is `dueAt` moved ahead, so a run
    # that dies before it records the reminder leaves the token due again for the next run.
    reminder_claim = UnicodeAttribute(attr_name="reminderClaim", null=True)
    by_due = DueIndex()
