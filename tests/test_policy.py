"""The generated policy admits exactly the catalog routes of the token's scopes: 0 over, 0 under."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import catalog, policy

ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/api/GET/locations/x1"
PREFIX = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/api"
ALL_SCOPES = sorted(catalog.scope_levels())


def mismatches(scopes: frozenset[str], level: str) -> list[str]:
    document = policy.document(scopes, level, ARN)
    wrong = []
    for route in catalog.routes():
        expected = policy.route_allowed(route, scopes, level)
        for sample in policy.samples(route):
            if policy.evaluate(document, f"{PREFIX}/{sample}") != expected:
                wrong.append(
                    f"{'under' if expected else 'over'}-grant: {route.label} ({route.scope}) as {sample}"
                )
    return wrong


def test_catalog_has_248_routes_and_90_scopes() -> None:
    # The platform's 245, plus the three contacts routes its documents name (issue 12).
    assert len(catalog.routes()) == 248
    labels = {route.label: route.scope for route in catalog.routes()}
    assert labels["POST /contacts/search"] == labels["GET /contacts/search/duplicate"] == "contacts.readonly"
    assert labels["POST /contacts/upsert"] == "contacts.write"
    assert len(ALL_SCOPES) == 90


@settings(max_examples=300, deadline=None)
@given(st.sets(st.sampled_from(ALL_SCOPES)), st.sampled_from(["agency", "location"]))
def test_random_scope_sets_get_exactly_their_routes(scopes: set[str], level: str) -> None:
    assert mismatches(frozenset(scopes), level) == []


def test_every_single_scope_and_all_scopes() -> None:
    for level in ("agency", "location"):
        assert mismatches(frozenset(ALL_SCOPES), level) == []
        for scope in ALL_SCOPES:
            assert mismatches(frozenset({scope}), level) == [], scope


def test_the_spec_example_needs_an_explicit_deny() -> None:
    document = policy.document(frozenset({"locations.readonly"}), "location", ARN)
    assert policy.evaluate(document, f"{PREFIX}/GET/locations/L1")
    assert not policy.evaluate(document, f"{PREFIX}/GET/locations/L1/customValues")
    deny = next(s for s in document["Statement"] if s["Effect"] == "Deny")
    assert f"{PREFIX}/GET/locations/*/customValues" in deny["Resource"]


def test_levels_of_a_route_are_respected() -> None:
    # locations.readonly opens GET /locations/timeZones only for sub-account tokens.
    agency = policy.document(frozenset({"locations.readonly"}), "agency", ARN)
    location = policy.document(frozenset({"locations.readonly"}), "location", ARN)
    assert not policy.evaluate(agency, f"{PREFIX}/GET/locations/timeZones")
    assert policy.evaluate(location, f"{PREFIX}/GET/locations/timeZones")


def test_no_scopes_denies_everything() -> None:
    document = policy.document(frozenset(), "location", ARN)
    assert not policy.evaluate(document, f"{PREFIX}/GET/contacts/x1")
    assert document["Statement"][0]["Effect"] == "Deny"


def test_trailing_slash_forms_are_the_same_route() -> None:
    document = policy.document(frozenset({"contacts.write"}), "location", ARN)
    assert policy.evaluate(document, f"{PREFIX}/POST/contacts/")
    assert policy.evaluate(document, f"{PREFIX}/POST/contacts")
    assert not policy.evaluate(document, f"{PREFIX}/GET/contacts")


def test_the_policy_is_scoped_to_the_calling_api_and_stage() -> None:
    document = policy.document(frozenset({"contacts.readonly"}), "location", ARN)
    other_api = "arn:aws:execute-api:us-east-1:123456789012:otherapi99/api/GET/contacts/x1"
    assert not policy.evaluate(document, other_api)


def test_a_downstream_api_can_add_its_own_scopes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    extra = tmp_path / "widgets.tsv"
    extra.write_text(
        "scope\tmethod\tpath\tlevels\nwidgets.readonly\tGET\t/widgets/:widgetId\tagency,location\n"
    )
    monkeypatch.setenv("PI_EXTRA_SCOPES_FILE", str(extra))
    for cached in (catalog.routes, catalog.scope_levels, policy.plan, policy._resources):
        cached.cache_clear()
    try:
        assert catalog.scope_problems(["widgets.readonly"], "agency") == []
        document = policy.document(frozenset({"widgets.readonly"}), "agency", ARN)
        assert policy.evaluate(document, f"{PREFIX}/GET/widgets/x1")
        assert not policy.evaluate(document, f"{PREFIX}/GET/contacts/x1")
        assert mismatches(frozenset({"widgets.readonly", "contacts.readonly"}), "location") == []
    finally:
        monkeypatch.delenv("PI_EXTRA_SCOPES_FILE")
        for cached in (catalog.routes, catalog.scope_levels, policy.plan, policy._resources):
            cached.cache_clear()
