"""Lists and searches of a location's contacts: GET /contacts/ (paged by startAfter), POST
/contacts/search (filters compiled to DynamoDB conditions, paged by searchAfter), the duplicate lookup."""

from __future__ import annotations

import functools
import operator
import re
from typing import Any

from pynamodb.expressions.condition import Condition

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.paging import limit_param
from chalicelib.tokens.context import TokenContext
from chalicelib.v2 import access
from chalicelib.v2.contact_fields import (
    EMAIL_MAX,
    PHONE_MAX,
    PHONE_SEPARATORS,
    UNIQUE_FIELDS,
    contact_view,
)
from chalicelib.v2.contact_store import match
from chalicelib.v2.models import ContactModel

START_AFTER_MAX_DIGITS = 15  # epoch milliseconds: 13 digits until the year 2286
DEFAULT_LIMIT, MAX_LIMIT = 20, 100



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
    found = match(location_id, {k: v.strip().lower() if k == "email" else v for k, v in fields.items() if v})
    return {"contact": contact_view(found[1]) if found else None}
