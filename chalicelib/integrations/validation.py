"""What a create or edit body may hold: 422 naming every problem."""

from __future__ import annotations

from typing import Any

from chalicelib.core.errors import ValidationFailed
from chalicelib.tokens import catalog

NAME_MAX = 100
DESCRIPTION_MAX = 500
EDITABLE_FIELDS = ("name", "description", "scopes")
# Bidirectional embeddings, overrides and isolates: they make a name read differently from what it is.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

def validate(body: dict[str, Any], level: str, *, partial: bool) -> dict[str, Any]:
    """The cleaned fields of a create (all) or edit (some) body, or 422 naming every problem."""
    problems = [
        f"'{key}' is not a field of a private integration (allowed: {', '.join(EDITABLE_FIELDS)})"
        for key in body
        if key not in EDITABLE_FIELDS
    ]
    cleaned: dict[str, Any] = {}
    if "name" in body or not partial:
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= NAME_MAX:
            problems.append(f"name is required: a string of 1 to {NAME_MAX} characters (after trimming)")
        elif unsafe := _unsafe_character(name, allowed=""):
            problems.append(f"name must not contain control characters or bidi overrides (found {unsafe})")
        else:
            cleaned["name"] = name.strip()
    if "description" in body or not partial:
        description = body.get("description")
        if description is None:
            cleaned["description"] = ""
        elif not isinstance(description, str) or len(description.strip()) > DESCRIPTION_MAX:
            problems.append(f"description must be a string of at most {DESCRIPTION_MAX} characters")
        elif unsafe := _unsafe_character(description, allowed="\t\n"):
            problems.append(
                "description must not contain control characters other than tab and newline, "
                f"nor bidi overrides (found {unsafe})"
            )
        else:
            cleaned["description"] = description.strip()
    if "scopes" in body or not partial:
        scope_problems = catalog.scope_problems(body.get("scopes"), level)
        problems.extend(scope_problems)
        if not scope_problems:
            cleaned["scopes"] = list(body["scopes"])
    if partial and not body:
        problems.append(f"send at least one of {', '.join(EDITABLE_FIELDS)}")
    if problems:
        raise ValidationFailed(problems)
    return cleaned


def _unsafe_character(text: str, allowed: str) -> str | None:
    """The first C0/C1 control (except `allowed`) or bidi control in `text`, as U+XXXX, else None."""
    for char in text:
        code = ord(char)
        if (code < 0x20 or 0x7F <= code <= 0x9F or char in BIDI_CONTROLS) and char not in allowed:
            return f"U+{code:04X}"
    return None

