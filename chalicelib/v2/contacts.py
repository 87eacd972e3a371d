"""The contacts routes, shaped by the platform's contacts document (chalicelib/v2/data/, read by `schema`).

Requests are validated against CreateContactDto / UpdateContactDto / UpsertContactDto; the only
hand-written checks are the formats the document describes in prose (e-mail, phone, dateOfBirth).
Responses omit unset fields. E-mail and phone are unique per location, through guard items written in
the same transaction as the contact (models.ContactKeyModel).
"""

from __future__ import annotations

import functools
import json
import operator
import re
import secrets
from datetime import datetime
from typing import Any

from pynamodb.expressions.condition import Condition

from chalicelib.core import clock, db
from chalicelib.core.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.core.paging import limit_param
from chalicelib.tokens.context import TokenContext
from chalicelib.v2 import access, schema
from chalicelib.v2.models import ContactKeyModel, ContactModel

DUPLICATE_MESSAGE = "This location does not allow duplicated contacts."
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
START_AFTER_MAX_DIGITS = 15  # epoch milliseconds: 13 digits until the year 2286
# The formats the document lists for dateOfBirth; stored and answered as YYYY-MM-DD.
BIRTH_DATE_FORMATS = (
    "%Y/%m/%d", "%m/%d/%Y", "%Y-%m-%d", "%m-%d-%Y", "%Y.%m.%d", "%m.%d.%Y", "%Y_%m_%d", "%m_%d_%Y",
)  # fmt: skip
# Unique per location, in the order upsert and the duplicate lookup match them.
UNIQUE_FIELDS = ("email", "phone")
DEFAULT_LIMIT, MAX_LIMIT = 20, 100
ATTEMPTS = 3  # upsert re-decides when a concurrent writer took the e-mail or phone in between


class DuplicateContact(BadRequest):
    """400 with the platform's meta {contactId, matchingField, contactName}."""


class ContactChanged(Conflict):
    def __init__(self) -> None:
        super().__init__("The contact was changed by another request at the same time: send it again.")


# --- fields ---------------------------------------------------------------------------------------


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


def _formats(fields: dict[str, Any]) -> list[str]:
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


def _fields(dto: str, body: dict[str, Any]) -> dict[str, Any]:
    """The body checked against the document's `dto` schema, normalised; 422 lists every problem."""
    fields = dict(body)
    problems = schema.problems("contacts", dto, body)
    problems += _formats(fields)
    if problems:
        raise ValidationFailed(problems)
    return fields


def _apply(contact: ContactModel, fields: dict[str, Any]) -> None:
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


def _new_contact(location_id: str, fields: dict[str, Any]) -> ContactModel:
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
    _apply(contact, fields)
    return contact


def _copy(contact: ContactModel) -> ContactModel:
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


# --- uniqueness and writes ------------------------------------------------------------------------


def _guard_key(location_id: str, field: str, value: str) -> str:
    return f"{location_id}#{field}#{phone_key(value) if field == 'phone' else value}"


def _guard_keys(contact: ContactModel | None) -> dict[str, str]:
    if contact is None:
        return {}
    values = {field: getattr(contact, field) for field in UNIQUE_FIELDS}
    return {field: _guard_key(contact.location_id, field, v) for field, v in values.items() if v}


def _owner_of(key: str) -> ContactModel | None:
    try:
        contact_id = ContactKeyModel.get(key, consistent_read=True).contact_id
        return ContactModel.get(contact_id, consistent_read=True)
    except (ContactKeyModel.DoesNotExist, ContactModel.DoesNotExist):
        return None


def _duplicate(field: str, owner: ContactModel) -> DuplicateContact:
    meta = {"contactId": owner.id, "matchingField": field, "contactName": contact_view(owner).get("name")}
    return DuplicateContact(DUPLICATE_MESSAGE, {"meta": {k: v for k, v in meta.items() if v is not None}})


def _save(before: ContactModel | None, after: ContactModel) -> None:
    """One transaction: the contact (conditioned on what was read) and its e-mail / phone guards."""
    old_keys, new_keys = _guard_keys(before), _guard_keys(after)
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
            owner = _owner_of(key) if old_keys.get(field) != key else None
            if owner is not None and owner.id != after.id:
                raise _duplicate(field, owner) from None
        raise ContactChanged() from None


def _accessible_contact(token: TokenContext, contact_id: str) -> ContactModel:
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


# --- routes ---------------------------------------------------------------------------------------


def create_contact(token: TokenContext, body: dict[str, Any]) -> dict[str, Any]:
    access.require_scope(token, "contacts.write")
    fields = _fields("CreateContactDto", body)
    location_id = fields.pop("locationId")
    access.require_location(token, location_id)
    contact = _new_contact(location_id, fields)
    _save(None, contact)
    return {"contact": contact_view(contact)}


def get_contact(token: TokenContext, contact_id: str) -> dict[str, Any]:
    access.require_scope(token, "contacts.readonly")
    return {"contact": contact_view(_accessible_contact(token, contact_id))}


def update_contact(token: TokenContext, contact_id: str, body: dict[str, Any]) -> dict[str, Any]:
    access.require_scope(token, "contacts.write")
    before = _accessible_contact(token, contact_id)
    fields = _fields("UpdateContactDto", body)
    after = _copy(before)
    _apply(after, fields)
    _save(before, after)
    return {"succeded": True, "contact": contact_view(after)}


def delete_contact(token: TokenContext, contact_id: str) -> dict[str, Any]:
    access.require_scope(token, "contacts.write")
    contact = _accessible_contact(token, contact_id)
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
            for key in _guard_keys(contact).values():
                tx.delete(ContactKeyModel(key))
    except db.LostRace:
        raise ContactChanged() from None
    return {"succeded": True}


def _match(location_id: str, fields: dict[str, Any]) -> tuple[str, ContactModel] | None:
    """The contact the e-mail names, else the one the phone names (the platform's upsert order)."""
    for field in UNIQUE_FIELDS:
        if fields.get(field):
            owner = _owner_of(_guard_key(location_id, field, fields[field]))
            if owner is not None:
                return field, owner
    return None


def upsert_contact(token: TokenContext, body: dict[str, Any]) -> dict[str, Any]:
    """Update the contact matching the e-mail, else the phone, else create one (200 either way)."""
    access.require_scope(token, "contacts.write")
    fields = _fields("UpsertContactDto", body)
    location_id = fields.pop("locationId")
    # Only matters where a location allows duplicates; none does here (locations.SETTINGS).
    fields.pop("createNewIfDuplicateAllowed", None)
    access.require_location(token, location_id)
    for attempt in range(ATTEMPTS):
        found = _match(location_id, fields)
        try:
            if found is None:
                contact = _new_contact(location_id, fields)
                _save(None, contact)
                return {"new": True, "contact": contact_view(contact)}
            field, before = found
            changes = dict(fields)
            other = _match(location_id, {"phone": fields.get("phone")}) if field == "email" else None
            if other is not None and other[1].id != before.id:
                # The phone belongs to someone else: the platform updates the e-mail's contact and
                # ignores the second field rather than create a duplicate.
                changes.pop("phone")
            after = _copy(before)
            _apply(after, changes)
            _save(before, after)
            return {"new": False, "contact": contact_view(after)}
        except (DuplicateContact, ContactChanged):
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


# --- lists and searches ---------------------------------------------------------------------------

# A paging cursor's contact id: ours are 24 hex characters; bounded so a key never passes DynamoDB's limits.
CURSOR_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
LIST_PARAMS = ("locationId", "startAfterId", "startAfter", "query", "limit")
DUPLICATE_PARAMS = ("locationId", "number", "email")
# POST /contacts/search: the filters DynamoDB can serve as a filter expression on a location's contacts.
SEARCH_KEYS = ("locationId", "pageLimit", "searchAfter", "query", "filters", "sort", "page")
FILTER_FIELDS = (
    "id", "email", "phone", "tags", "firstName", "lastName", "name", "companyName", "source", "gender",
    "address1", "city", "state", "postalCode", "country", "website", "timezone", "assignedTo", "dnd",
)  # fmt: skip
FILTER_OPERATORS = ("eq", "not_eq", "exists", "not_exists")


def _unknown(params: dict[str, Any], known: tuple[str, ...], what: str) -> list[str]:
    return [
        f"'{key}' is not a {what} this service serves (served: {', '.join(known)})"
        for key in params
        if key not in known
    ]


def _page(
    location_id: str, after_key: str | None, condition: Condition | None, limit: int
) -> tuple[list[ContactModel], int]:
    """One page of a location's contacts, oldest first, and how many match in all."""
    key_condition = ContactModel.added_key > after_key if after_key else None
    # Read in pages of MAX_LIMIT: with a filter, a page of `limit` matches may need many more items.
    query = ContactModel.by_location.query(
        location_id, key_condition, filter_condition=condition, limit=limit, page_size=MAX_LIMIT
    )
    page = list(query)
    total = ContactModel.by_location.count(location_id, filter_condition=condition)
    return page, total


def _query_condition(query: str | None) -> Condition | None:
    return ContactModel.search_text.contains(query.strip().lower()) if query and query.strip() else None


def list_contacts(token: TokenContext, params: dict[str, str]) -> dict[str, Any]:
    """GET /contacts/ (deprecated on the platform, still served): paged by startAfter / startAfterId."""
    access.require_scope(token, "contacts.readonly")
    limit, problems = limit_param(params, DEFAULT_LIMIT, MAX_LIMIT)
    problems = _unknown(params, LIST_PARAMS, "query parameter") + problems
    location_id = params.get("locationId", "")
    if not location_id:
        problems.insert(0, "locationId is required: ?locationId=<the location's id>")
    start_after = params.get("startAfter")
    # ASCII digits only (str.isdigit() also takes '²', which int() refuses), and few enough for int().
    if start_after is not None and not (
        start_after.isascii() and start_after.isdigit() and len(start_after) <= START_AFTER_MAX_DIGITS
    ):
        problems.append(
            "startAfter must be a time in epoch milliseconds (up to 15 digits 0-9), as meta.startAfter "
            "gives it"
        )
    start_after_id = params.get("startAfterId")
    if start_after_id and not CURSOR_ID.fullmatch(start_after_id):
        problems.append(
            "startAfterId must be a contact id (up to 64 letters, digits, '-' or '_'), as meta.startAfterId "
            "gives it"
        )
    if problems:
        raise ValidationFailed(problems)
    access.require_location(token, location_id)
    after_key = f"{int(start_after):013d}#~" if start_after else None  # '~' sorts after every id
    if start_after_id:
        if start_after:
            after_key = f"{int(start_after):013d}#{start_after_id}"
        else:
            after_key = _cursor_contact(location_id, start_after_id, "startAfterId").added_key
    page, total = _page(location_id, after_key, _query_condition(params.get("query")), limit)
    meta: dict[str, Any] = {"total": total}
    if len(page) == limit:
        meta["startAfterId"] = page[-1].id
        meta["startAfter"] = int(page[-1].added_key.split("#", 1)[0])
    return {"contacts": [contact_view(contact) for contact in page], "count": len(page), "meta": meta}


def _cursor_contact(location_id: str, contact_id: str, name: str) -> ContactModel:
    try:
        contact = ContactModel.get(contact_id, consistent_read=True)
    except ContactModel.DoesNotExist:
        contact = None
    if contact is None or contact.location_id != location_id:
        raise ValidationFailed([f"{name} must be the id of a contact of this location"])
    return contact


def _filter(index: int, item: Any) -> tuple[Condition | None, list[str]]:
    """One {field, operator, value} filter as a DynamoDB condition, or what keeps it from being served."""
    where = f"filters[{index}]"
    if not isinstance(item, dict):
        return None, [f"{where} must be an object {{field, operator, value}}"]
    if "group" in item or "filters" in item:
        return None, [f"{where}: filter groups cannot be served here; send a flat list (all must match)"]
    problems = _unknown(item, ("field", "operator", "value"), "filter key")
    field, op, value = item.get("field"), item.get("operator"), item.get("value")
    operators = ("eq", "not_eq") if field == "tags" else FILTER_OPERATORS
    if field not in FILTER_FIELDS:
        problems.append(f"{where}.field {field!r} cannot be served here (served: {', '.join(FILTER_FIELDS)})")
    elif op not in operators:
        served = ", ".join(operators)
        problems.append(f"{where}.operator {op!r} cannot be served on {field} (served: {served})")
    elif op in ("eq", "not_eq") and type(value) is not (bool if field == "dnd" else str):
        problems.append(f"{where}.value must be {'true or false' if field == 'dnd' else 'a string'}")
    if problems:
        return None, problems
    field, op = str(field), str(op)
    if field == "email":
        value = str(value).strip().lower()
    elif field == "phone":
        value = PHONE_SEPARATORS.sub("", str(value))
    if field == "tags":
        has_tag = ContactModel.tags.contains(value)
        return (has_tag if op == "eq" else ~has_tag), []
    top_level = field in ("id", *UNIQUE_FIELDS)
    path: Any = getattr(ContactModel, field) if top_level else ContactModel.details[field]
    conditions = {
        "eq": lambda: path == value,
        "not_eq": lambda: path != value,
        "exists": lambda: path.exists(),
        "not_exists": lambda: path.does_not_exist(),
    }
    return conditions[op](), []


def search_contacts(token: TokenContext, body: dict[str, Any]) -> dict[str, Any]:
    """POST /contacts/search: the served filters, ANDed; `searchAfter` from the last contact pages on."""
    access.require_scope(token, "contacts.readonly")
    problems = _unknown(body, SEARCH_KEYS, "search parameter")
    location_id = body.get("locationId")
    if not isinstance(location_id, str) or not location_id:
        problems.insert(0, "locationId is required: the id of the location to search")
    limit = body.get("pageLimit", DEFAULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        problems.append(f"pageLimit must be a whole number from 1 to {MAX_LIMIT}")
    if body.get("page", 1) != 1:
        problems.append("page: only page 1 is served; page on with searchAfter from the last contact")
    if body.get("sort") not in (None, [], [{"field": "dateAdded", "direction": "asc"}]):
        problems.append("sort cannot be served here: contacts come oldest first (dateAdded asc)")
    query = body.get("query")
    if query is not None and not isinstance(query, str):
        problems.append("query must be a string")
    after = body.get("searchAfter")
    # The contact's dateAdded in epoch ms and its id, bounded: DynamoDB refuses a sort key over 1 KB.
    after_ok = after is None or (
        isinstance(after, list)
        and [type(part) for part in after] == [int, str]
        and 0 <= after[0] < 10**START_AFTER_MAX_DIGITS
        and CURSOR_ID.fullmatch(after[1]) is not None
    )
    if not after_ok:
        problems.append("searchAfter must be the searchAfter list of the last contact of the previous page")
    filters = body.get("filters", [])
    conditions: list[Condition] = []
    if not isinstance(filters, list):
        problems.append("filters must be a list of {field, operator, value}")
    else:
        for index, item in enumerate(filters):
            condition, found = _filter(index, item)
            problems += found
            if condition is not None:
                conditions.append(condition)
    if problems:
        raise ValidationFailed(problems)
    access.require_location(token, str(location_id))
    text = _query_condition(query)
    if text is not None:
        conditions.append(text)
    condition = functools.reduce(operator.and_, conditions) if conditions else None
    after_key = f"{after[0]:013d}#{after[1]}" if after else None
    page, total = _page(str(location_id), after_key, condition, int(limit))
    contacts = [
        {**contact_view(contact), "searchAfter": [int(contact.added_key.split("#", 1)[0]), contact.id]}
        for contact in page
    ]
    return {"contacts": contacts, "total": total}


def find_duplicate(token: TokenContext, params: dict[str, str]) -> dict[str, Any]:
    """GET /contacts/search/duplicate: the contact with this e-mail, else with this phone, or null."""
    access.require_scope(token, "contacts.readonly")
    problems = _unknown(params, DUPLICATE_PARAMS, "query parameter")
    location_id = params.get("locationId", "")
    if not location_id:
        problems.insert(0, "locationId is required: ?locationId=<the location's id>")
    if not params.get("email") and not params.get("number"):
        problems.append("send email or number (or both) to look a contact up")
    if len(params.get("email") or "") > EMAIL_MAX:
        problems.append(f"email must be at most {EMAIL_MAX} characters")
    if len(params.get("number") or "") > PHONE_MAX:
        problems.append(f"number must be at most {PHONE_MAX} characters")
    if problems:
        raise ValidationFailed(problems)
    access.require_location(token, location_id)
    fields = {"email": params.get("email"), "phone": params.get("number")}
    found = _match(location_id, {k: v.strip().lower() if k == "email" else v for k, v in fields.items() if v})
    return {"contact": contact_view(found[1]) if found else None}
