"""Contacts, the v2 data this service serves itself.

contacts      GetItem by id; GSI `by-location` (locationId, addedKey) for the platform's paging order.
contact-keys  uniqueness guards (per location and e-mail, per location and phone digits), written in
              the contact's transaction.
"""

from __future__ import annotations

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.core.model_base import index_meta, table_meta


class LocationContactsIndex(GlobalSecondaryIndex):
    Meta = index_meta("by-location", AllProjection())
    location_id = UnicodeAttribute(hash_key=True, attr_name="locationId")
    added_key = UnicodeAttribute(range_key=True, attr_name="addedKey")


class ContactModel(Model):
    Meta = table_meta("contacts")
    id = UnicodeAttribute(hash_key=True)
    location_id = UnicodeAttribute(attr_name="locationId")
    # Zero-padded dateAdded epoch ms + "#" + id: the platform's paging order (startAfter, startAfterId).
    added_key = UnicodeAttribute(attr_name="addedKey")
    email = UnicodeAttribute(null=True)  # lower-cased: e-mails match case-insensitively
    phone = UnicodeAttribute(null=True)  # "+" and digits only
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    # Every other documented CreateContactDto field, as sent (types checked against the document).
    details = MapAttribute[str, object](default=dict)
    # Lower-cased "name email phone": what `query` searches.
    search_text = UnicodeAttribute(attr_name="searchText", default="")
    date_added = UTCDateTimeAttribute(attr_name="dateAdded")
    date_updated = UTCDateTimeAttribute(attr_name="dateUpdated")
    # Every write is conditioned on the version it read: its e-mail and phone guards stay exact.
    version = NumberAttribute(default=1)
    by_location = LocationContactsIndex()


class ContactKeyModel(Model):
    """Uniqueness guard: one item per (location, e-mail) and (location, phone), written with its contact."""

    Meta = table_meta("contact-keys")
    key = UnicodeAttribute(hash_key=True)
    contact_id = UnicodeAttribute(attr_name="contactId")
