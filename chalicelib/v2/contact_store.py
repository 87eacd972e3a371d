"""Storing contacts: e-mail and phone unique per location through guard items written in the same
transaction as the contact (models.ContactKeyModel), and reading one the token may reach."""

from __future__ import annotations

from typing import Any

from chalicelib.core import clock, db
from chalicelib.core.errors import BadRequest, Conflict, Forbidden, NotFound
from chalicelib.tokens.context import TokenContext
from chalicelib.v2 import access
from chalicelib.v2.contact_fields import UNIQUE_FIELDS, contact_view, phone_key
from chalicelib.v2.models import ContactKeyModel, ContactModel

DUPLICATE_MESSAGE = "This location does not allow duplicated contacts."


class DuplicateContact(BadRequest):
    """400 with the platform's meta {contactId, matchingField, contactName}."""


class ContactChanged(Conflict):
    def __init__(self) -> None:
        super().__init__("The contact was changed by another request at the same time: send it again.")




def guard_key(location_id: str, field: str, value: str) -> str:
    return f"{location_id}#{field}#{phone_key(value) if field == 'phone' else value}"


def guard_keys(contact: ContactModel | None) -> dict[str, str]:
    if contact is None:
        return {}
    values = {field: getattr(contact, field) for field in UNIQUE_FIELDS}
    return {field: guard_key(contact.location_id, field, v) for field, v in values.items() if v}


def owner_of(key: str) -> ContactModel | None:
    try:
        contact_id = ContactKeyModel.get(key, consistent_read=True).contact_id
        return ContactModel.get(contact_id, consistent_read=True)
    except (ContactKeyModel.DoesNotExist, ContactModel.DoesNotExist):
        return None


def duplicate(field: str, owner: ContactModel) -> DuplicateContact:
    meta = {"contactId": owner.id, "matchingField": field, "contactName": contact_view(owner).get("name")}
    return DuplicateContact(DUPLICATE_MESSAGE, {"meta": {k: v for k, v in meta.items() if v is not None}})


def save(before: ContactModel | None, after: ContactModel) -> None:
    """One transaction: the contact (conditioned on what was read) and its e-mail / phone guards."""
    old_keys, new_keys = guard_keys(before), guard_keys(after)
    after.date_updated = clock.now() if before is not None else after.date_added

    def landed() -> bool:  # our write is in the table (its answer was lost, the resend refused)
        try:
            stored = ContactModel.get(after.id, consistent_read=True)
        except ContactModel.DoesNotExist:
            return False
        return bool(stored.serialize() == after.serialize())

    try:
        with db.idempotent_transaction(landed) as tx:
            if before is None:
                tx.save(after, condition=ContactModel.id.does_not_exist())
            else:
                after.version = before.version + 1
                tx.save(after, condition=ContactModel.version == before.version)
            for field, key in old_keys.items():
                if new_keys.get(field) != key:
                    tx.delete(ContactKeyModel(key), condition=ContactKeyModel.contact_id == after.id)
            for field, key in new_keys.items():
                if old_keys.get(field) != key:
                    guard = ContactKeyModel(key, contact_id=after.id)
                    tx.save(guard, condition=ContactKeyModel.key.does_not_exist())
    except db.LostRace:
        for field, key in new_keys.items():
            owner = owner_of(key) if old_keys.get(field) != key else None
            if owner is not None and owner.id != after.id:
                raise duplicate(field, owner) from None
        raise ContactChanged() from None


def accessible_contact(token: TokenContext, contact_id: str) -> ContactModel:
    """A contact of a location the token may reach; anything else is a 404 that leaks nothing."""
    try:
        contact = ContactModel.get(contact_id, consistent_read=True)
    except ContactModel.DoesNotExist:
        contact = None
    if contact is not None:
        try:
            access.require_location(token, contact.location_id)
            return contact
        except Forbidden:
            pass
    raise NotFound(f"Contact '{contact_id}' was not found.")


def match(location_id: str, fields: dict[str, Any]) -> tuple[str, ContactModel] | None:
    """The contact the e-mail names, else the one the phone names (the platform's upsert order)."""
    for field in UNIQUE_FIELDS:
        if fields.get(field):
            owner = owner_of(guard_key(location_id, field, fields[field]))
            if owner is not None:
                return field, owner
    return None
