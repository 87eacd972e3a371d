"""The integrations table.

GetItem by id; Query GSI `by-owner` (ownerKey, createdAt) lists an owner's integrations. Every
change is conditioned on `version`, so two writers cannot both win; multi-item changes (create,
edit, delete, rotations) are single TransactWriteItems with conditions.
"""

from __future__ import annotations

from pynamodb.attributes import (
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.core.model_base import index_meta, table_meta


class OwnerIndex(GlobalSecondaryIndex):
    Meta = index_meta("by-owner", AllProjection())
    owner_key = UnicodeAttribute(hash_key=True, attr_name="ownerKey")
    created_at = UTCDateTimeAttribute(range_key=True, attr_name="createdAt")


class IntegrationModel(Model):
    Meta = table_meta("integrations")
    id = UnicodeAttribute(hash_key=True)
    owner_key = UnicodeAttribute(attr_name="ownerKey")
    owner_type = UnicodeAttribute(attr_name="ownerType")
    owner_id = UnicodeAttribute(attr_name="ownerId")
    agency_id = UnicodeAttribute(attr_name="agencyId")
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    scopes = ListAttribute(of=UnicodeAttribute)
    created_at = UTCDateTimeAttribute(attr_name="createdAt")
    created_by = UnicodeAttribute(attr_name="createdBy")
    updated_at = UTCDateTimeAttribute(attr_name="updatedAt")
    # The current token, by digest: the plaintext is never stored.
    token_hash = UnicodeAttribute(attr_name="tokenHash")
    token_hint = UnicodeAttribute(attr_name="tokenHint")
    token_created_at = UTCDateTimeAttribute(attr_name="tokenCreatedAt")
    # The expiry its owner chose for the current token (None: never); the token item's TTL carries it.
    token_expires_at = UTCDateTimeAttribute(attr_name="tokenExpiresAt", null=True)
    # The token rotating out, while a rotation is pending.
    previous_token_hash = UnicodeAttribute(attr_name="previousTokenHash", null=True)
    previous_token_hint = UnicodeAttribute(attr_name="previousTokenHint", null=True)
    previous_token_created_at = UTCDateTimeAttribute(attr_name="previousTokenCreatedAt", null=True)
    rotation_started_at = UTCDateTimeAttribute(attr_name="rotationStartedAt", null=True)
    rotation_expires_at = UTCDateTimeAttribute(attr_name="rotationExpiresAt", null=True)
    # The current token was revoked without a rotation (a RevocationReason): a rotate issues a new one.
    revoked_reason = UnicodeAttribute(attr_name="revokedReason", null=True)
    revoked_at = UTCDateTimeAttribute(attr_name="revokedAt", null=True)
    # Where GitHub's secret scanning found the leaked token (never the token itself).
    leak_url = UnicodeAttribute(attr_name="leakUrl", null=True)
    leak_source = UnicodeAttribute(attr_name="leakSource", null=True)
    # The rotating-out token's own chosen expiry: what a cancelled rotation gives back to it.
    previous_token_expires_at = UTCDateTimeAttribute(attr_name="previousTokenExpiresAt", null=True)
    # The integration's own burst limit (requests per interval), lowered by an agency admin; None: the
    # configured default (chalicelib/integrations/rate_limits.py).
    burst_limit = NumberAttribute(attr_name="burstLimit", null=True)
    # The addresses the tokens may be used from (normalised IPv4/IPv6 addresses and CIDR blocks; empty
    # or absent: any address) and whether a caller outside them is refused ("enforce", also when
    # absent) or let in and marked ("report"). Each live token item carries a packed copy.
    allowed_ips = ListAttribute(of=UnicodeAttribute, attr_name="allowedIps", null=True)
    ip_restriction = UnicodeAttribute(attr_name="ipRestriction", null=True)
    # Optimistic concurrency: every write is conditioned on the version it read.
    version = NumberAttribute(default=1)
    by_owner = OwnerIndex()
