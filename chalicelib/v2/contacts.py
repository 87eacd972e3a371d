"""The contacts routes, shaped by the platform's contacts document (chalicelib/v2/data/, read by `schema`).

Requests are validated against CreateContactDto / UpdateContactDto / UpsertContactDto; the only
hand-written checks are the formats the document describes in prose (e-mail, phone, dateOfBirth).
Responses omit unset fields. E-mail and phone are unique per location, through guard items written in
the same transaction as the contact (models.ContactKeyModel).
"""

from __future__ import annotations

from typing import Any

from chalicelib.core import db
from chalicelib.tokens.context import TokenContext
from chalicelib.v2 import access, contact_store
from chalicelib.v2.contact_fields import (
    EMAIL_MAX,
    apply,
    contact_view,
    copy,
    fields_of,
    new_contact,
)
from chalicelib.v2.contact_search import find_duplicate, list_contacts, search_contacts
from chalicelib.v2.contact_store import (
    ContactChanged,
    DuplicateContact,
    accessible_contact,
    guard_keys,
    save,
)
from chalicelib.v2.models import ContactKeyModel, ContactModel

__all__ = [
    "EMAIL_MAX",
    "ContactChanged",
    "DuplicateContact",
    "create_contact",
    "delete_contact",
    "find_duplicate",
    "get_contact",
    "list_contacts",
    "search_contacts",
    "update_contact",
    "upsert_contact",
]

ATTEMPTS = 3  # upsert re-decides when a concurrent writer took the e-mail or phone in between




def create_contact(token: TokenContext, body: dict[str, Any]) -> dict[str, Any]:
    access.require_scope(token, "contacts.write")
    fields = fields_of("CreateContactDto", body)
    location_id = fields.pop("locationId")
    access.require_location(token, location_id)
    contact = new_contact(location_id, fields)
    save(None, contact)
    return {"contact": contact_view(contact)}


def get_contact(token: TokenContext, contact_id: str) -> dict[str, Any]:
    access.require_scope(token, "contacts.readonly")
    return {"contact": contact_view(accessible_contact(token, contact_id))}


def update_contact(token: TokenContext, contact_id: str, body: dict[str, Any]) -> dict[str, Any]:
    access.require_scope(token, "contacts.write")
    before = accessible_contact(token, contact_id)
    fields = fields_of("UpdateContactDto", body)
    after = copy(before)
    apply(after, fields)
    save(before, after)
    return {"succeded": True, "contact": contact_view(after)}


def delete_contact(token: TokenContext, contact_id: str) -> dict[str, Any]:
    access.require_scope(token, "contacts.write")
    contact = accessible_contact(token, contact_id)
    def gone() -> bool:  # deleted: by this request (its answer lost) or by another one
        try:
            ContactModel.get(contact.id, consistent_read=True)
        except ContactModel.DoesNotExist:
            return True
        return False

    try:
        with db.idempotent_transaction(gone) as tx:
            # As read: a concurrent change of e-mail or phone would otherwise orphan its new guard.
            tx.delete(contact, condition=ContactModel.version == contact.version)
            for key in guard_keys(contact).values():
                tx.delete(ContactKeyModel(key))
    except db.LostRace:
        raise ContactChanged() from None
    return {"succeded": True}


def upsert_contact(token: TokenContext, body: dict[str, Any]) -> dict[str, Any]:
    """Update the contact matching the e-mail, else the phone, else create one (200 either way)."""
    access.require_scope(token, "contacts.write")
    fields = fields_of("UpsertContactDto", body)
    location_id = fields.pop("locationId")
    # Only matters where a location allows duplicates; none does here (locations.SETTINGS).
    fields.pop("createNewIfDuplicateAllowed", None)
    access.require_location(token, location_id)
    for attempt in range(ATTEMPTS):
        found = contact_store.match(location_id, fields)
        try:
            if found is None:
                contact = new_contact(location_id, fields)
                save(None, contact)
                return {"new": True, "contact": contact_view(contact)}
            field, before = found
            changes = dict(fields)
            phone = {"phone": fields.get("phone")}
            other = contact_store.match(location_id, phone) if field == "email" else None
            if other is not None and other[1].id != before.id:
                # The phone belongs to someone else: the platform updates the e-mail's contact and
                # ignores the second field rather than create a duplicate.
                changes.pop("phone")
            after = copy(before)
            apply(after, changes)
            save(before, after)
            return {"new": False, "contact": contact_view(after)}
        except (DuplicateContact, ContactChanged):
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
