"""The token item: its own module so the authorizer imports one model, not all of them."""

from __future__ import annotations

from datetime import datetime, timedelta

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

from chalicelib.core import clock, config
from chalicelib.core.model_base import index_meta, table_meta
from chalicelib.core.vocabulary import Owner, TokenState
from chalicelib.tokens import format as token_format

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
    # The cleanup run that is sending this token's reminder; its lease is `dueAt` moved ahead, so a run
    # that dies before it records the reminder leaves the token due again for the next run.
    reminder_claim = UnicodeAttribute(attr_name="reminderClaim", null=True)
    by_due = DueIndex()


def reminder_due(token_created_at: datetime) -> int:
    """When the cleanup job should emit the token's "rotation recommended" event."""
    return clock.epoch(token_created_at + timedelta(days=config.settings.rotation_recommended_after_days))


def new_token_item(
    plaintext: str, *, integration_id: str, owner: Owner, scopes: list[str], created_at: datetime
) -> TokenModel:
    """A current token: carries everything the authorizer needs, so authorizing is one GetItem."""
    token_hash = token_format.digest(plaintext)
    return TokenModel(
        token_hash,
        integration_id=integration_id,
        owner_type=owner.type,
        owner_id=owner.id,
        agency_id=owner.agency_id,
        scopes=list(scopes),
        state=TokenState.ACTIVE,
        hint=token_format.hint(plaintext),
        created_at=created_at,
        due_bucket=due_bucket(token_hash),
        due_at=reminder_due(created_at),
    )
