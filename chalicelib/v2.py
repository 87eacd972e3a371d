"""The v2 resources this service serves itself (locations, contacts), behind the token authorizer.

Handlers trust only the authorizer's context. They check the scope again (defence in depth: the
policy already did on API Gateway) and enforce tenancy: a location token reaches its own location,
an agency token every location of its agency.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import TransactWriteError

from chalicelib import clock, db, web
from chalicelib.errors import BadRequest, Forbidden, NotFound, ValidationFailed
from chalicelib.models import ContactEmailModel, ContactModel, LocationContactsIndex, LocationModel

NO_LOCATION_ACCESS = "The token does not have access to this location."
CONTACT_FIELDS = ("firstName", "lastName", "email", "phone", "tags")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
DEFAULT_LIMIT, MAX_LIMIT = 20, 100


@dataclass(frozen=True)
class TokenContext:
    """What the handlers need of the authorizer's context: owner, agency, scopes."""

    owner_type: str
    owner_id: str
    agency_id: str
    scopes: frozenset[str]

    @classmethod
    def from_request_context(cls, context: dict[str, Any]) -> TokenContext:
        authorizer = context.get("authorizer") or {}
        return cls(
            owner_type=str(authorizer.get("ownerType", "")),
            owner_id=str(authorizer.get("ownerId", "")),
            agency_id=str(authorizer.get("agencyId", "")),
            scopes=frozenset(str(authorizer.get("scopes", "")).split()),
        )

    def require_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"The token is not authorized for this scope: it needs '{scope}'.")

    def require_location(self, location_id: str) -> LocationModel:
        try:
            location = LocationModel.get(location_id, consistent_read=True)
        except LocationModel.DoesNotExist:
            raise Forbidden(NO_LOCATION_ACCESS) from None
        if self.owner_type == "location":
            allowed = location.id == self.owner_id
        else:
            allowed = self.owner_type == "agency" and location.agency_id == self.agency_id
        if not allowed:
            raise Forbidden(NO_LOCATION_ACCESS)
        return location


# --- locations -----------------------------------------------------------------------------------


def location_view(location: LocationModel) -> dict[str, Any]:
    return {"location": {"id": location.id, "name": location.name, "agencyId": location.agency_id}}


def get_location(token: TokenContext, location_id: str) -> dict[str, Any]:
    token.require_scope("locations.readonly")
    return location_view(token.require_location(location_id))


def update_location(token: TokenContext, location_id: str, body: dict[str, Any]) -> dict[str, Any]:
    token.require_scope("locations.write")
    location = token.require_location(location_id)
    problems = [f"'{key}' cannot be changed here (allowed: name)" for key in body if key != "name"]
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100:
        problems.append("name is required: a string of 1 to 100 characters")
    if problems:
        raise ValidationFailed(problems)
    location.update(actions=[LocationModel.name.set(str(name).strip())], condition=LocationModel.id.exists())
    return location_view(location)


# --- contacts ------------------------------------------------------------------------------------


def contact_view(contact: ContactModel) -> dict[str, Any]:
    return {
        "id": contact.id,
        "locationId": contact.location_id,
        "firstName": contact.first_name,
        "lastName": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        "tags": list(contact.tags or []),
        "dateAdded": clock.iso(contact.date_added),
        "dateUpdated": clock.iso(contact.date_updated),
    }


def _contact_fields(body: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    problems = [
        f"'{key}' is not a contact field (allowed: {', '.join(allowed)})"
        for key in body
        if key not in allowed
    ]
    fields: dict[str, Any] = {}
    for key in ("firstName", "lastName", "phone", "email"):
        if key in body:
            value = body[key]
            if value is not None and (not isinstance(value, str) or len(value) > 255):
                problems.append(f"{key} must be a string of at most 255 characters, or null")
            elif key == "email" and value is not None and not EMAIL.fullmatch(value.strip()):
                problems.append("email must be an e-mail address like name@example.com")
            else:
                fields[key] = value.strip() if isinstance(value, str) else None
    if "tags" in body:
        tags = body["tags"]
        if not isinstance(tags, list) or len(tags) > 100 or not all(isinstance(t, str) and t for t in tags):
            problems.append("tags must be a list of at most 100 non-empty strings")
        else:
            fields["tags"] = list(dict.fromkeys(tags))
    if problems:
        raise ValidationFailed(problems)
    return fields


def _email_key(location_id: str, email: str) -> str:
    return f"{location_id}#{email.lower()}"


def _duplicate(location_id: str, email: str) -> BadRequest:
    guard = ContactEmailModel.get(_email_key(location_id, email), consistent_read=True)
    return BadRequest(
        "This location does not allow duplicated contacts.", {"meta": {"contactId": guard.contact_id}}
    )


_ATTRIBUTES: dict[str, Any] = {
    "firstName": ContactModel.first_name,
    "lastName": ContactModel.last_name,
    "email": ContactModel.email,
    "phone": ContactModel.phone,
    "tags": ContactModel.tags,
}


def create_contact(token: TokenContext, body: dict[str, Any]) -> dict[str, Any]:
    token.require_scope("contacts.write")
    location_id = body.get("locationId")
    if not isinstance(location_id, str) or not location_id:
        raise ValidationFailed(["locationId is required: the id of the contact's location"])
    fields = _contact_fields({k: v for k, v in body.items() if k != "locationId"}, CONTACT_FIELDS)
    token.require_location(location_id)
    now = clock.now()
    contact = ContactModel(
        secrets.token_hex(12),
        location_id=location_id,
        first_name=fields.get("firstName"),
        last_name=fields.get("lastName"),
        email=fields.get("email"),
        phone=fields.get("phone"),
        tags=fields.get("tags", []),
        date_added=now,
        date_updated=now,
    )
    try:
        with db.transaction() as tx:
            tx.save(contact, condition=ContactModel.id.does_not_exist())
            if contact.email:
                guard = ContactEmailModel(_email_key(location_id, contact.email), contact_id=contact.id)
                tx.save(guard, condition=ContactEmailModel.key.does_not_exist())
    except TransactWriteError as error:
        if contact.email and db.condition_failed(error):
            raise _duplicate(location_id, contact.email) from None
        raise
    return {"contact": contact_view(contact)}


def _accessible_contact(token: TokenContext, contact_id: str) -> ContactModel:
    """A contact of a location the token may reach; anything else is a 404 that leaks nothing."""
    try:
        contact = ContactModel.get(contact_id, consistent_read=True)
    except ContactModel.DoesNotExist:
        contact = None
    if contact is not None:
        try:
            token.require_location(contact.location_id)
            return contact
        except Forbidden:
            pass
    raise NotFound(f"Contact '{contact_id}' was not found.")


def get_contact(token: TokenContext, contact_id: str) -> dict[str, Any]:
    token.require_scope("contacts.readonly")
    return {"contact": contact_view(_accessible_contact(token, contact_id))}


def update_contact(token: TokenContext, contact_id: str, body: dict[str, Any]) -> dict[str, Any]:
    token.require_scope("contacts.write")
    contact = _accessible_contact(token, contact_id)
    if body.get("locationId", contact.location_id) != contact.location_id:
        raise ValidationFailed(["locationId cannot be changed"])
    fields = _contact_fields({k: v for k, v in body.items() if k != "locationId"}, CONTACT_FIELDS)
    actions = [_ATTRIBUTES[key].set(value) for key, value in fields.items()]
    actions.append(ContactModel.date_updated.set(clock.now()))
    old_email, new_email = contact.email, fields.get("email", contact.email)
    email_changes = (old_email or "").lower() != (new_email or "").lower()
    try:
        with db.transaction() as tx:
            tx.update(contact, actions=actions, condition=ContactModel.id.exists())
            if email_changes and old_email:
                tx.delete(ContactEmailModel(_email_key(contact.location_id, old_email)))
            if email_changes and new_email:
                guard = ContactEmailModel(_email_key(contact.location_id, new_email), contact_id=contact.id)
                tx.save(guard, condition=ContactEmailModel.key.does_not_exist())
    except TransactWriteError as error:
        if email_changes and new_email and db.condition_failed(error):
            raise _duplicate(contact.location_id, new_email) from None
        raise
    return {"contact": contact_view(ContactModel.get(contact_id, consistent_read=True))}


def delete_contact(token: TokenContext, contact_id: str) -> dict[str, Any]:
    token.require_scope("contacts.write")
    contact = _accessible_contact(token, contact_id)
    with db.transaction() as tx:
        tx.delete(contact)
        if contact.email:
            tx.delete(ContactEmailModel(_email_key(contact.location_id, contact.email)))
    return {"succeeded": True}


def list_contacts(token: TokenContext, params: dict[str, str]) -> dict[str, Any]:
    token.require_scope("contacts.readonly")
    location_id = params.get("locationId", "")
    limit, problems = web.limit_param(params, DEFAULT_LIMIT, MAX_LIMIT)
    if not location_id:
        problems.insert(0, "locationId is required: ?locationId=<the location's id>")
    if problems:
        raise ValidationFailed(problems)
    token.require_location(location_id)
    start_after = params.get("startAfterId") or None
    condition = LocationContactsIndex.id > start_after if start_after else None
    page = ContactModel.by_location.query(location_id, condition, limit=limit)
    contacts = [contact_view(contact) for contact in page]
    return {"contacts": contacts, "count": len(contacts)}
