"""The audit events table.

Query by ownerKey (agency#ID or location#ID), sort key `sk` = zero-padded epoch ms + event id,
descending = newest first. GSI `by-integration` (integrationId, sk) for one integration's feed;
events survive the integration's deletion. Its stream (new images) is the outbox that publishes every
event to EventBridge (outbox.py).
"""

from __future__ import annotations

from pynamodb.attributes import (
    JSONAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.core.model_base import index_meta, table_meta


class IntegrationEventsIndex(GlobalSecondaryIndex):
    Meta = index_meta("by-integration", AllProjection())
    integration_id = UnicodeAttribute(hash_key=True, attr_name="integrationId")
    sk = UnicodeAttribute(range_key=True)


class EventModel(Model):
    Meta = table_meta("events", stream_view_type="NEW_IMAGE")
    owner_key = UnicodeAttribute(hash_key=True, attr_name="ownerKey")
    sk = UnicodeAttribute(range_key=True)
    id = UnicodeAttribute()
    type = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    actor_id = UnicodeAttribute(attr_name="actorId")
    integration_id = UnicodeAttribute(attr_name="integrationId", null=True)
    owner_type = UnicodeAttribute(attr_name="ownerType")
    owner_id = UnicodeAttribute(attr_name="ownerId")
    agency_id = UnicodeAttribute(attr_name="agencyId")
    details = JSONAttribute(default=dict)
    by_integration = IntegrationEventsIndex()
