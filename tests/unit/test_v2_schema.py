"""chalicelib/v2/schema.py (the app's small interpreter of the platform's schemas) agrees with a real
OpenAPI 3.0 validator on what a request body may be, for random bodies (hypothesis)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from openapi_schema_validator import OAS30Validator

from chalicelib.v2 import schema

DTOS = [
    ("contacts", "CreateContactDto"),
    ("contacts", "UpdateContactDto"),
    ("contacts", "UpsertContactDto"),
    ("locations", "UpdateLocationDto"),
]


def strict(doc: str, node: Any, owner: str = "") -> Any:
    """The document's schema with refs inlined, `schema.FIXES` applied and unknown fields refused:
    what the app promises to enforce, written for the real validator."""
    if isinstance(node, list):
        return [strict(doc, item, owner) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target, _, pointer = node["$ref"].partition("#")
        ref_doc = "common" if target else doc
        name = pointer.rsplit("/", 1)[-1]
        return strict(ref_doc, schema.component(ref_doc, name), name)
    out = {key: strict(doc, value, owner) for key, value in node.items() if key != "properties"}
    if "properties" in node:
        out["properties"] = {
            key: strict(doc, schema.FIXES.get((owner, key), value), owner)
            for key, value in node["properties"].items()
        }
        if out["properties"]:
            out["additionalProperties"] = False
    return out


def names(doc: str, dto: str) -> list[str]:
    return list(schema.properties(doc, dto))


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False, width=16), st.text(max_size=3)
)
shallow = st.one_of(
    scalars,
    st.lists(st.one_of(st.text(max_size=3), st.integers(0, 3)), max_size=2),
    st.dictionaries(st.sampled_from(["id", "key", "field_value", "status", "SMS", "x"]), scalars, max_size=3),
)
values = st.one_of(
    st.text(max_size=3),  # the most common documented type: weighted up so valid bodies are common too
    st.text(max_size=3),
    st.booleans(),
    shallow,
    st.lists(
        st.dictionaries(st.sampled_from(["id", "key", "field_value", "x"]), shallow, max_size=3), max_size=2
    ),
    st.dictionaries(
        st.sampled_from(["SMS", "Email", "all", "bogus"]),
        st.dictionaries(
            st.sampled_from(["status", "message"]),
            st.sampled_from(["active", "inactive", "nope", 3]),
            max_size=2,
        ),
        max_size=2,
    ),
)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    doc, dto = draw(st.sampled_from(DTOS))
    keys = draw(st.lists(st.sampled_from([*names(doc, dto), "unknownField"]), max_size=3, unique=True))
    fields = schema.component(doc, dto)["properties"]
    if draw(st.booleans()):  # mostly with the required fields, sometimes without
        keys = list(dict.fromkeys([*schema.component(doc, dto).get("required", []), *keys]))
    # The document's own example (valid) or anything: so that both answers are common.
    return (
        doc,
        dto,
        {
            key: draw(
                st.one_of(st.just(fields[key]["example"]), values)
                if "example" in fields.get(key, {})
                else values
            )
            for key in keys
        },
    )


@settings(max_examples=300, deadline=None)
@given(bodies())
def test_interpreter_agrees_with_a_real_validator(case: tuple[str, str, dict[str, Any]]) -> None:
    doc, dto, body = case
    validator = OAS30Validator(strict(doc, copy.deepcopy(schema.component(doc, dto)), dto))
    expected = validator.is_valid(body)
    problems = schema.problems(doc, dto, body)
    assert (problems == []) == expected, (body, problems, [e.message for e in validator.iter_errors(body)])
