"""Check a v2 response against the platform's own OpenAPI documents, with a real OpenAPI 3.0 validator.

The documents are the project's copies (chalicelib/v2/data/platform-openapi-*.json, verbatim from
../shared/reference/). The app checks requests with its own small interpreter (chalicelib/v2/schema.py);
responses are checked here with openapi-schema-validator, so the two keep each other honest.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

DATA = Path(__file__).resolve().parents[2] / "chalicelib" / "v2" / "data"
BASE = "https://docs.platform.test/"
URIS = {
    "contacts": (BASE + "apps/contacts.json", "platform-openapi-contacts.json"),
    "locations": (BASE + "apps/locations.json", "platform-openapi-locations.json"),
    "common": (BASE + "common/common-schemas.json", "platform-openapi-common-schemas.json"),
}


@functools.cache
def documents() -> dict[str, dict[str, Any]]:
    return {name: json.loads((DATA / file).read_text()) for name, (_, file) in URIS.items()}


@functools.cache
def registry() -> Registry:
    return Registry().with_resources(
        (uri, Resource.from_contents(documents()[name], default_specification=DRAFT4))
        for name, (uri, _) in URIS.items()
    )


def _pointer(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def operation(method: str, path: str) -> tuple[str, str, dict[str, Any]]:
    """(document, documented path, operation) for a request; literal segments win over parameters."""
    path = path.split("?", 1)[0]
    candidates = []
    for name in ("contacts", "locations"):
        for documented, item in documents()[name]["paths"].items():
            pattern = re.sub(r"\{[^}]+\}", "[^/]+", documented.rstrip("/") or "/")
            if method.lower() in item and re.fullmatch(pattern, path.rstrip("/")):
                candidates.append((documented.count("{"), name, documented, item[method.lower()]))
    assert candidates, f"{method} {path} is not in the platform's documents"
    _, name, documented, found = min(candidates, key=lambda c: c[0])
    return name, documented, found


def response_problems(method: str, path: str, status: int, body: Any) -> list[str]:
    """What in `body` breaks the documented response schema of this status (none when undocumented)."""
    name, documented, found = operation(method, path)
    response = found.get("responses", {}).get(str(status))
    if response is None or "application/json" not in response.get("content", {}):
        return []
    pointer = _pointer("paths", documented, method.lower(), "responses", str(status), "content",
                       "application/json", "schema")  # fmt: skip
    validator = OAS30Validator({"$ref": URIS[name][0] + "#" + pointer}, registry=registry())
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(body)
    ]


def documented_statuses(method: str, path: str) -> set[int]:
    return {int(status) for status in operation(method, path)[2].get("responses", {})}
