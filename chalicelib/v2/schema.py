"""The platform's OpenAPI documents (copies in chalicelib/v2/data/) say what a contact and a location are.

Request bodies are checked against the documents' DTO schemas: a field is accepted exactly when the
document names it, with the documented type, and every problem is reported (422 lists them all).

This is a small interpreter of the OpenAPI 3.0 schema subset the documents use (type, nullable,
properties, required, items, enum, anyOf, allOf, $ref) rather than jsonschema, because importing
jsonschema adds ~70 ms (~40 %) to the API handler's cold start. The tests check every response with the
real openapi-schema-validator, which also keeps this interpreter honest.
"""

from __future__ import annotations

import functools
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
DOCUMENTS = {
    "contacts": "platform-openapi-contacts.json",
    "locations": "platform-openapi-locations.json",
    "common": "platform-openapi-common-schemas.json",
}
# Where a document contradicts itself, its description and examples win over its `type`
# (docs/decisions.md, "v2 shapes"): dateOfBirth is typed object but documented as date strings (checked for
# format by the contacts module); numeric custom field values are typed object but are numbers.
FIXES: dict[tuple[str, str], dict[str, Any]] = {
    **{
        (dto, "dateOfBirth"): {"type": "string", "nullable": True}
        for dto in ("CreateContactDto", "UpdateContactDto", "UpsertContactDto")
    },
    ("NumericField", "field_value"): {"type": "number"},
    ("MonetoryField", "field_value"): {"type": "number"},
}
TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "number": (int, float),
    "integer": (int,),
    "array": (list,),
    "object": (dict,),
}
NAMES = {
    "string": "a string",
    "boolean": "true or false",
    "number": "a number",
    "integer": "a whole number",
    "array": "a list",
    "object": "an object",
}


@functools.cache
def document(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / DOCUMENTS[name]).read_text(encoding="utf-8"))
    return data


def component(doc: str, name: str) -> dict[str, Any]:
    schema: dict[str, Any] = document(doc)["components"]["schemas"][name]
    return schema


def properties(doc: str, name: str) -> tuple[str, ...]:
    """The documented field names of a schema, in the document's order."""
    return tuple(component(doc, name).get("properties", {}))


def problems(doc: str, name: str, value: Any) -> list[str]:
    """Everything wrong with `value` as the document's schema `name`; an empty list when it conforms."""
    found: list[str] = []
    _check(doc, name, component(doc, name), value, "", found)
    return found


def _resolve(doc: str, ref: str) -> tuple[str, str, dict[str, Any]]:
    target, _, pointer = ref.partition("#")
    if target:  # the only other document referred to: "../common/common-schemas.json"
        doc = "common"
    name = pointer.rsplit("/", 1)[-1]
    return doc, name, component(doc, name)


def _label(path: str) -> str:
    return path or "the body"


MAX_DIGITS = 38
UNSTORABLE = "must be a number DynamoDB can store"
EMPTY_KEY = "must not have an empty key (DynamoDB cannot store one)"
# DynamoDB's numbers: 38 significant digits, magnitudes from 1E-130 to below 1E+126 (and zero).
_SMALLEST, _LARGEST = Decimal("1E-130"), Decimal("1E+126")


def storable_number(value: int | float) -> bool:
    """True when DynamoDB can store `value` exactly as sent (NaN, Infinity, 1e400 parsed as inf, 1e308,
    a 4,000-digit integer and 39 significant digits cannot)."""
    if isinstance(value, float) and not math.isfinite(value):
        return False
    if isinstance(value, int) and value.bit_length() > 420:  # > 1e126 for sure, without a long str()
        return False
    number = Decimal(repr(value) if isinstance(value, float) else value)
    if number.is_zero():
        return True
    digits = len(number.as_tuple().digits) if isinstance(value, float) else len(str(abs(value)).rstrip("0"))
    return digits <= MAX_DIGITS and _SMALLEST <= abs(number) < _LARGEST


def _check(doc: str, name: str, schema: dict[str, Any], value: Any, path: str, found: list[str]) -> None:
    if "$ref" in schema:
        doc, name, schema = _resolve(doc, schema["$ref"])
    if value is None:
        if not schema.get("nullable"):
            found.append(f"{_label(path)} must not be null")
        return
    for part in schema.get("allOf", []):
        _check(doc, name, part, value, path, found)
    if "anyOf" in schema:
        outcomes = [_collect(doc, name, option, value, path) for option in schema["anyOf"]]
        if all(outcomes):
            # A shape the value fits but for a number DynamoDB cannot store: say that, naming the field.
            unstorable = [o for o in outcomes if all(UNSTORABLE in p or EMPTY_KEY in p for p in o)]
            if unstorable:
                found.extend(unstorable[0])
                return
            kinds = ", ".join(option.get("$ref", "").rsplit("/", 1)[-1] for option in schema["anyOf"])
            found.append(f"{_label(path)} must match one of the documented shapes: {kinds}")
        return
    kind = schema.get("type")
    # bool is an int in Python, never a number in JSON.
    wrong_bool = isinstance(value, bool) and kind != "boolean"
    if kind in TYPES and (not isinstance(value, TYPES[kind]) or wrong_bool):
        found.append(f"{_label(path)} must be {NAMES[kind]}")
        return
    if kind in ("number", "integer") and not storable_number(value):
        found.append(
            f"{_label(path)} {UNSTORABLE}: finite, at most {MAX_DIGITS} significant digits, 0 or between "
            "1e-130 and 1e126 in size"
        )
        return
    if "enum" in schema and value not in schema["enum"]:
        allowed = schema["enum"]
        listed = ", ".join(allowed) if len(allowed) <= 10 else ", ".join(allowed[:5]) + ", ... (see the docs)"
        found.append(f"{_label(path)} must be one of: {listed}")
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check(doc, name, schema.get("items", {}), item, f"{path}[{index}]", found)
    fields = schema.get("properties")
    if not fields and kind in (None, "object") and "items" not in schema:
        _free_form(value, path, found)  # a value the documents leave open is still stored in DynamoDB
        return
    if isinstance(value, dict) and fields:
        prefix = f"{path}." if path else ""
        found.extend(f"{prefix}{key} is required" for key in schema.get("required", []) if key not in value)
        for key, item in value.items():
            if key not in fields:
                found.append(
                    f"'{prefix}{key}' is not a documented field of {name} (documented: {', '.join(fields)})"
                )
            else:
                _check(doc, name, FIXES.get((name, key), fields[key]), item, prefix + key, found)


def _free_form(value: Any, path: str, found: list[str]) -> None:
    """What DynamoDB refuses inside a value of any shape: an empty map key, or a number it cannot store."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "":
                found.append(f"{_label(path)} {EMPTY_KEY}")
            else:
                _free_form(item, f"{path}.{key}" if path else key, found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _free_form(item, f"{path}[{index}]", found)
    elif isinstance(value, int | float) and not isinstance(value, bool) and not storable_number(value):
        found.append(
            f"{_label(path)} {UNSTORABLE}: finite, at most {MAX_DIGITS} significant digits, 0 or between "
            "1e-130 and 1e126 in size"
        )


def _collect(doc: str, name: str, schema: dict[str, Any], value: Any, path: str) -> list[str]:
    found: list[str] = []
    _check(doc, name, schema, value, path, found)
    return found
