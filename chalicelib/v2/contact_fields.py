"""A contact's fields: the formats the platform's document describes in prose (e-mail, phone,
dateOfBirth), applying a request's fields to a contact, and the one answer shape."""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime
from typing import Any

from chalicelib.core import clock
from chalicelib.core.errors import ValidationFailed
from chalicelib.v2 import schema
from chalicelib.v2.models import ContactModel

# Every value a regular expression (or strptime) reads is first bounded by length, and no expression
# here can backtrack: EMAIL's two runs cannot overlap (neither matches '@'); the domain's dot is
# checked without one. RFC 5321 bounds a path at 254 characters.
EMAIL_MAX, PHONE_MAX, BIRTH_DATE_MAX = 254, 40, 32
EMAIL = re.compile(r"[^@\s]+@([^@\s]+)")
PHONE_SEPARATORS = re.compile(r"[\s().\-]")
PHONE = re.compile(r"\+?[0-9]{5,15}", re.ASCII)
# A contact as answered (JSON, non-ASCII escaped as served) is at most this: a page of 100 stays under
# Lambda's 6 MB answer, and repeated custom-field merges stay far under DynamoDB's 400 KB item.
MAX_CONTACT_JSON_BYTES = 48 * 1024
# The formats the document lists for dateOfBirth; stored and answered as YYYY-MM-DD.
BIRTH_DATE_FORMATS = (
    "%Y/%m/%d", "%m/%d/%Y", "%Y-%m-%d", "%m-%d-%Y", "%Y.%m.%d", "%m.%d.%Y", "%Y_%m_%d", "%m_%d_%Y",
)  # fmt: skip
# Unique per location, in the order upsert and the duplicate lookup match them.
UNIQUE_FIELDS = ("email", "phone")




def ascii_digits(text: str) -> str:
    """Decimal digits of any script (Arabic-Indic, fullwidth, ...) as ASCII digits; nothing else changes
    (superscripts and other non-decimal "digits" stay, and fail the phone check)."""
    return "".join(str(int(ch)) if ch.isdecimal() and not ch.isascii() else ch for ch in text)


def phone_key(phone: str) -> str:
    """What makes two phones the same: the digits (a '+' may arrive as a space in a query string)."""
    return "".join(ch for ch in ascii_digits(phone) if "0" <= ch <= "9")


def valid_email(email: str) -> bool:
    """name@domain.tld, no whitespace, one '@', a dot inside the domain; linear in the length."""
    if len(email) > EMAIL_MAX:
        return False
    found = EMAIL.fullmatch(email)
    return found is not None and "." in found.group(1)[1:-1]


def format_problems(fields: dict[str, Any]) -> list[str]:
    """Normalise e-mail, phone and dateOfBirth in place; return what is wrong with them."""
    problems = []
    email = fields.get("email")
    if isinstance(email, str):
        fields["email"] = email.strip().lower()
        if len(fields["email"]) > EMAIL_MAX:
            problems.append(f"email must be at most {EMAIL_MAX} characters")
        elif not valid_email(fields["email"]):
            problems.append("email must be an e-mail address like name@example.com")
    phone = fields.get("phone")
    if isinstance(phone, str):
        if len(phone) > PHONE_MAX:
            problems.append(f"phone must be at most {PHONE_MAX} characters")
        else:
            fields["phone"] = ascii_digits(PHONE_SEPARATORS.sub("", phone))
            if not PHONE.fullmatch(fields["phone"]):
                problems.append("phone must be a phone number like +1 888-888-8888 (5 to 15 digits)")
    birth = fields.get("dateOfBirth")
    if isinstance(birth, str) and len(birth) > BIRTH_DATE_MAX:
        problems.append(f"dateOfBirth must be a date like 1990-09-25 (at most {BIRTH_DATE_MAX} characters)")
    elif isinstance(birth, str):
        for pattern in BIRTH_DATE_FORMATS:
            try:
                fields["dateOfBirth"] = datetime.strptime(birth.strip(), pattern).date().isoformat()
                break
            except ValueError:
                continue
        else:
            problems.append("dateOfBirth must be a date like 1990-09-25 (or YYYY/MM/DD, MM/DD/YYYY, ...)")
    tags = fields.get("tags")
    if isinstance(tags, list) and all(isinstance(tag, str) for tag in tags):
        fields["tags"] = list(dict.fromkeys(tag.strip() for tag in tags if tag.strip()))
    return problems


def fields_of(dto: str, body: dict[str, Any]) -> dict[str, Any]:
    """The body checked against the document's `dto` schema, normalised; 422 lists every problem."""
    fields = dict(body)
    problems = schema.problems("contacts", dto, body)
    problems += format_problems(fields)
    if problems:
        raise ValidationFailed(problems)
    return fields


def apply(contact: ContactModel, fields: dict[str, Any]) -> None:
    """Set the fields on the contact; null clears one (the document marks which may be null)."""
    details = contact.details.as_dict() if contact.details else {}
    for key, value in fields.items():
        if key in UNIQUE_FIELDS:
            setattr(contact, key, value)
        elif key == "tags":
            contact.tags = value
        elif key == "customFields":
            # Custom fields are merged by id: a client sends the ones it changes.
            merged = {field["id"]: field for field in [*details.get(key, []), *value]}
            details[key] = list(merged.values())
        elif value is None:
            details.pop(key, None)
        else:
            details[key] = value
    contact.details = details
    view = contact_view(contact)
    size = len(json.dumps(view, separators=(",", ":")))
    if size > MAX_CONTACT_JSON_BYTES:
        raise ValidationFailed(
            [
                f"the contact would be {size // 1024} KiB as JSON; a contact holds at most "
                f"{MAX_CONTACT_JSON_BYTES // 1024} KiB: send fewer or shorter fields or custom fields"
            ]
        )
    contact.search_text = " ".join(
        str(view[key]).lower() for key in ("name", "email", "phone") if key in view
    )


def new_contact(location_id: str, fields: dict[str, Any]) -> ContactModel:
    now = clock.now()
    contact_id = secrets.token_hex(12)
    contact = ContactModel(
        contact_id,
        location_id=location_id,
        added_key=f"{int(now.timestamp() * 1000):013d}#{contact_id}",
        tags=[],
        details={},
        date_added=now,
        date_updated=now,
    )
    apply(contact, fields)
    return contact


def copy(contact: ContactModel) -> ContactModel:
    return ContactModel.from_raw_data(contact.serialize())


# --- views ----------------------------------------------------------------------------------------


def contact_view(contact: ContactModel) -> dict[str, Any]:
    """One shape for every answer (it satisfies GetContectByIdSchema, CreateContactSchema and
    ContactsSearchSchema, whose fields overlap); unset fields are left out, never null."""
    details = contact.details.as_dict() if contact.details else {}
    first, last = details.get("firstName"), details.get("lastName")
    name = details.get("name") or " ".join(part for part in (first, last) if part) or None
    view: dict[str, Any] = {
        "id": contact.id,
        "locationId": contact.location_id,
        **details,
        "name": name,
        "firstNameLowerCase": first.lower() if first else None,
        "lastNameLowerCase": last.lower() if last else None,
        "fullNameLowerCase": name.lower() if name else None,
        "email": contact.email,
        "emailLowerCase": contact.email,
        "phone": contact.phone,
        "tags": list(contact.tags or []),
        "dateAdded": clock.iso(contact.date_added),
        "dateUpdated": clock.iso(contact.date_updated),
    }
    if "customFields" in details:
        # The documents answer custom fields as {id, value} with value a string.
        view["customFields"] = [
            {"id": field["id"], "value": value if isinstance(value, str) else json.dumps(value)}
            for field in details["customFields"]
            for value in [field.get("field_value")]
        ]
    return {key: value for key, value in view.items() if value is not None}
