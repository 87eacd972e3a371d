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
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.model_base import index_meta, table_meta


class DueIndex(GlobalSecondaryIndex):
    # ALL: the cleanup reads what it needs from the index alone (items are small).
    Meta = index_meta("by-due", AllProjection())
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
