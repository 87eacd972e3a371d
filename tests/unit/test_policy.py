"""The generated policy admits exactly the catalog routes of the token's scopes, for every parameter value.

Two proofs. `policy.findings` walks every class of path exactly (each parameter is a literal word of the
catalog, the token's own location id, or any other word). The hypothesis tests check the same claim
independently, on concrete request paths through `local.iam.evaluate` (IAM's glob matching), against an
oracle written here: the route API Gateway routes a path to (literal segments beat parameters, left to
right), whether the token's scopes open it at its level, and for a location token whether every
`:locationId` is its own.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chalicelib.tokens import catalog, policy
from local import iam
from tests.support import catalogs

PREFIX = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/api"
ARN = f"{PREFIX}/GET/locations/x1"
ALL_SCOPES = sorted(catalog.scope_levels())
OWN = "Lc0wn5Ub4cc0untId01"  # a location token's own location id (platform ids are 20 characters)
# The three contact routes the platform's SDK calls; their words collide with /contacts/:contactId.
CONTACT_ROWS = (
    "contacts.readonly\tPOST\t/contacts/search\tlocation\n"
    "contacts.readonly\tGET\t/contacts/search/duplicate\tlocation\n"
    "contacts.write\tPOST\t/contacts/upsert\tlocation\n"
)


def pin(level: str) -> str | None:
    return OWN if level == "location" else None


# --- the exact proof ---------------------------------------------------------------------------------


def shown(finding: policy.Finding) -> str:
    words = {policy.OTHER: "<any>", policy.PIN: "<own>"}
    return "/".join(words.get(s, s) for s in finding.path)


def exact_problems(scopes: frozenset[str], level: str) -> list[str]:
    """Over- and under-grants found by the exact walk. Never an over-grant; under-grants only where
    IAM globs cannot express the rule (the three documented limits below)."""
    problems = []
    for finding in policy.findings(scopes, level, policy.PIN if level == "location" else None):
        if finding.wanted and not (
            ambiguous(finding.path, scopes, level)
            or takes_a_word(finding.path, finding.route)
            or swallowed_pin(finding.path, finding.route, scopes, level)
        ):
            problems.append(f"under-grant: {shown(finding)} ({finding.route.label})")
        elif not finding.wanted:
            kind = "over-grant" if not finding.opened else "another location"
            problems.append(f"{kind}: {shown(finding)} ({finding.route.label})")
    return problems


def ambiguous(path: tuple[str, ...], scopes: frozenset[str], level: str) -> bool:
    """The path is also an instance of a route the token may not call (a parameter equals a word of it).

    Refusing it is the only exact-as-possible answer IAM globs allow (policy.py): fail closed.
    """
    return any(
        len(shape.skeleton) == len(path)
        and not ok
        and all((s is None and p != "") or s == p for s, p in zip(shape.skeleton, path, strict=True))
        for shape, ok in policy._table(scopes, level)
    )


def takes_a_word(path: tuple[str, ...], route: policy.Shape) -> bool:
    """A parameter of the path's own route equals a literal word of the catalog (a calendar id "groups").

    A refused route's Deny glob may then swallow the path: `PUT/calendars/groups/*` (refused groups
    route) also matches `PUT/calendars/groups/notifications/n1` (calendar "groups"), and `*` spans
    slashes, so no glob refuses the one without the other. Platform ids are random, never such words;
    every path with ordinary ids must be exact.
    """
    return any(
        segment is None and value not in (policy.OTHER, policy.PIN)
        for segment, value in zip(route.skeleton, path, strict=True)
    )


def swallowed_pin(path: tuple[str, ...], route: policy.Shape, scopes: frozenset[str], level: str) -> bool:
    """The token's own location on a pinned route that the glob of a shorter allowed route ending in a
    parameter also covers (`GET/conversations/*` covers `GET/conversations/messages/m/locations/L/...`).

    IAM cannot say "this location and no other" under that glob: the policy refuses the pinned route at
    every location (fail closed) rather than admit another location's path.
    """
    return bool(route.pinned) and any(
        ok
        and shape.skeleton[-1] is None
        and len(shape.skeleton) < len(path)
        and all(s is None or s == p for s, p in zip(shape.skeleton, path, strict=False))
        for shape, ok in policy._table(scopes, level)
    )


def test_catalog_has_248_routes_and_90_scopes() -> None:
    # The platform's 245, plus the three contacts routes its documents name (issue 12).
    assert len(catalog.routes()) == 248
    labels = {route.label: route.scope for route in catalog.routes()}
    assert labels["POST /contacts/search"] == labels["GET /contacts/search/duplicate"] == "contacts.readonly"
    assert labels["POST /contacts/upsert"] == "contacts.write"
    assert len(ALL_SCOPES) == 90


def test_exact_for_every_single_scope_and_all_scopes_at_both_levels() -> None:
    for level in ("agency", "location"):
        assert exact_problems(frozenset(ALL_SCOPES), level) == []
        for scope in ALL_SCOPES:
            assert exact_problems(frozenset({scope}), level) == [], scope


@settings(max_examples=40, deadline=None)
@given(st.sets(st.sampled_from(ALL_SCOPES)), st.sampled_from(["agency", "location"]))
@example({"calendars.write", "calendars/events.write"}, "location")  # calendar "groups": takes_a_word
def test_exact_for_random_scope_sets(scopes: set[str], level: str) -> None:
    assert exact_problems(frozenset(scopes), level) == []


def test_the_limits_are_real_and_narrow() -> None:
    """Where IAM globs cannot be exact (policy.py), the policy refuses (fail closed): the ambiguous path,
    and the three conversations routes that `GET/conversations/*` swallows, at every location."""
    under = policy.findings(frozenset({"calendars/groups.write"}), "location", policy.PIN)
    assert [(shown(f), f.wanted) for f in under] == [("PUT/calendars/groups/notifications/status", True)]
    document = policy.document(frozenset({"calendars/groups.write"}), "location", ARN, OWN)
    assert iam.evaluate(document, f"{PREFIX}/PUT/calendars/groups/g1/status")
    assert not iam.evaluate(document, f"{PREFIX}/PUT/calendars/groups/notifications/status")
    assert not iam.evaluate(document, f"{PREFIX}/PUT/calendars/groups/notifications/n1")
    refused = policy.findings(frozenset(ALL_SCOPES), "location", policy.PIN)
    assert {f.route.label for f in refused} == {
        "GET conversations/messages/:messageId/locations/:locationId/recording",
        "GET conversations/locations/:locationId/messages/:messageId/transcription",
        "GET conversations/locations/:locationId/messages/:messageId/transcription/download",
    }
    assert all(f.wanted and not f.allowed for f in refused)  # under-grants only, never another location
    without = frozenset(ALL_SCOPES) - {"conversations.readonly"}
    assert policy.findings(without, "location", policy.PIN) == []


def test_the_issues_example_another_locations_recording_is_refused() -> None:
    """Issue 21: all conversation read scopes gave `GET/conversations/*`, which admitted another
    sub-account's recording at the gateway."""
    scopes = frozenset({"conversations.readonly", "conversations/message.readonly"})
    document = policy.document(scopes, "location", ARN, OWN)
    for location in ("Lz9otherSubAccount01", "loc2"):
        assert not iam.evaluate(
            document, f"{PREFIX}/GET/conversations/messages/m1/locations/{location}/recording"
        )
        assert not iam.evaluate(
            document, f"{PREFIX}/GET/conversations/locations/{location}/messages/m1/transcription"
        )
    assert iam.evaluate(document, f"{PREFIX}/GET/conversations/c1")
    # Alone, the message scope keeps its own location's recording (no glob swallows it).
    alone = policy.document(frozenset({"conversations/message.readonly"}), "location", ARN, OWN)
    assert iam.evaluate(alone, f"{PREFIX}/GET/conversations/messages/m1/locations/{OWN}/recording")
    assert not iam.evaluate(alone, f"{PREFIX}/GET/conversations/messages/m1/locations/loc2/recording")


# --- the independent proof on concrete paths ---------------------------------------------------------


class Route:
    def __init__(self, method: str, segments: list[str], rows: list[catalog.CatalogRoute]) -> None:
        self.method, self.segments, self.rows = method, segments, rows
        self.regex = re.compile(
            "/".join("([^/]+)" if s.startswith(":") else re.escape(s) for s in segments) + r"\Z"
        )
        self.precedence = tuple(1 if s.startswith(":") else 0 for s in segments)


@cache
def oracle_routes() -> tuple[Route, ...]:
    by_shape: dict[tuple[str, tuple[str, ...]], Route] = {}
    for row in catalog.routes():
        segments = row.path.lstrip("/").split("/")
        forms = [segments, segments[:-1]] if len(segments) > 1 and segments[-1] == "" else [segments]
        for form in forms:
            key = (row.method, tuple(":" if s.startswith(":") else s for s in form))
            by_shape.setdefault(key, Route(row.method, form, [])).rows.append(row)
    return tuple(by_shape.values())


def wanted(method: str, path: str, scopes: frozenset[str], level: str) -> bool:
    """What API Gateway routes `method path` to, and whether this token may call it there."""
    matches = [(r, m) for r in oracle_routes() if r.method == method and (m := r.regex.match(path))]
    if not matches:
        return False
    route, match = min(matches, key=lambda item: item[0].precedence)
    if not any(row.scope in scopes and level in row.levels for row in route.rows):
        return False
    params = [s for s in route.segments if s.startswith(":")]
    return level != "location" or all(
        value == OWN for name, value in zip(params, match.groups(), strict=True) if name == ":locationId"
    )


@cache
def literal_words() -> tuple[str, ...]:
    return tuple(
        sorted({s for r in catalog.routes() for s in r.path.split("/") if s and not s.startswith(":")})
    )


values = st.one_of(
    st.sampled_from(literal_words()),
    st.just(OWN),
    st.text(st.characters(blacklist_characters="/", blacklist_categories=["Cs"]), min_size=1, max_size=8),
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str]:
    route = draw(st.sampled_from(oracle_routes()))
    segments = [draw(values) if s.startswith(":") else s for s in route.segments]
    return route.method, "/".join(segments)


scope_sets = st.one_of(
    st.sets(st.sampled_from(ALL_SCOPES)).map(frozenset),
    st.sampled_from(ALL_SCOPES).map(lambda s: frozenset({s})),
    st.just(frozenset(ALL_SCOPES)),
)


def mismatch(scopes: frozenset[str], level: str, method: str, path: str) -> str | None:
    document = policy.document(scopes, level, ARN, pin(level))
    want = wanted(method, path, scopes, level)
    got = iam.evaluate(document, f"{PREFIX}/{method}/{path}")
    if want == got:
        return None
    routes = [r for r in oracle_routes() if r.method == method and r.regex.match(path)]
    opened = [r for r in routes if any(row.scope in scopes and level in row.levels for row in r.rows)]
    if want and len(opened) < len(routes):
        return None  # ambiguous: also a route the token may not call; refused (fail closed, policy.py)
    if want and not got and swallowed(method, path, scopes, level):
        return None  # own location under a shorter route's trailing `*`: refused (fail closed, policy.py)
    return f"{'under' if want else 'over'}-grant: {method} {path} scopes={sorted(scopes)} level={level}"


def swallowed(method: str, path: str, scopes: frozenset[str], level: str) -> bool:
    """The path is the token's own location on a pinned route, and a shorter route the token may call,
    ending in a parameter, reaches it through its trailing `*` (documented under-grant, policy.py)."""
    segments = path.split("/")
    opened = [
        r
        for r in oracle_routes()
        if r.method == method and any(row.scope in scopes and level in row.levels for row in r.rows)
    ]
    return level == "location" and any(
        r.segments[-1].startswith(":")
        and len(r.segments) < len(segments)
        and all(s.startswith(":") or s == v for s, v in zip(r.segments, segments, strict=False))
        for r in opened
    )


OTHER_LOCATION = "Xq7otherSubAccnt9ZZ"  # a realistic id of another location (same length as OWN)


def fillings(route: Route, words: list[str], random_id: str) -> Iterator[str]:
    """`route` with every `:locationId` the token's own id, then another location's id; every other
    parameter a random id, then each of `words` (literal words of other routes)."""
    for location in (OWN, OTHER_LOCATION):
        for other in (random_id, *words):
            yield "/".join(
                (location if s == ":locationId" else other) if s.startswith(":") else s
                for s in route.segments
            )


@settings(max_examples=25, deadline=None)
@given(
    st.sets(st.sampled_from(ALL_SCOPES), min_size=1),
    st.sampled_from(["agency", "location"]),
    st.lists(st.sampled_from(literal_words()), min_size=2, max_size=2),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=12, max_size=24),
)
@example(set(ALL_SCOPES), "location", ["messages", "locations"], "c0nversation1d")
@example({"conversations.readonly", "conversations/message.readonly"}, "location", ["a", "b"], "m1")
def test_no_location_token_reaches_another_location_on_any_route(
    scopes: set[str], level: str, words: list[str], random_id: str
) -> None:
    """Issue 21's audit as a property: every catalog route, each `:locationId` the own id and another
    id, other parameters random ids and literal words: 0 over-grants, under-grants only as documented."""
    held = frozenset(scopes)
    document = policy.document(held, level, ARN, pin(level))
    over, under = [], []
    for route in oracle_routes():
        for path in fillings(route, words, random_id):
            want = wanted(route.method, path, held, level)
            got = iam.evaluate(document, f"{PREFIX}/{route.method}/{path}")
            if got and not want:
                over.append(f"{route.method} {path}")
            elif want and not got and mismatch(held, level, route.method, path) is not None:
                under.append(f"{route.method} {path}")
    assert over == []
    assert under == []


@settings(max_examples=150, deadline=None)
@given(scope_sets, st.sampled_from(["agency", "location"]), requests())
def test_concrete_paths_with_literal_words_and_random_values(
    scopes: frozenset[str], level: str, request: tuple[str, str]
) -> None:
    assert mismatch(scopes, level, *request) is None


def every_literal_filling() -> Iterator[tuple[str, str]]:
    """Every single-parameter route with each literal word of the catalog as its parameter."""
    for route in oracle_routes():
        params = [i for i, s in enumerate(route.segments) if s.startswith(":")]
        if len(params) == 1:
            for word in (*literal_words(), OWN, "x1"):
                segments = list(route.segments)
                segments[params[0]] = word
                yield route.method, "/".join(segments)


@pytest.mark.parametrize("level", ["agency", "location"])
def test_every_literal_word_in_every_single_parameter_route(level: str) -> None:
    paths = list(every_literal_filling())
    for scopes in (frozenset(ALL_SCOPES), *(frozenset({s}) for s in ALL_SCOPES[::7])):
        problems = [p for method, path in paths if (p := mismatch(scopes, level, method, path))]
        assert problems == []


def test_contact_routes_whose_words_collide_with_contact_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = tmp_path / "contacts.tsv"
    extra.write_text("scope\tmethod\tpath\tlevels\n" + CONTACT_ROWS)
    with extra_catalog(monkeypatch, extra):
        for scopes in ({"contacts.readonly"}, {"contacts.write"}, {"contacts.readonly", "contacts.write"}):
            assert exact_problems(frozenset(scopes), "location") == []
        write_only = policy.document(frozenset({"contacts.write"}), "location", ARN, OWN)
        assert iam.evaluate(write_only, f"{PREFIX}/PUT/contacts/search")  # contact id "search"
        assert iam.evaluate(write_only, f"{PREFIX}/POST/contacts/upsert")
        assert not iam.evaluate(write_only, f"{PREFIX}/POST/contacts/search")
        assert not iam.evaluate(write_only, f"{PREFIX}/GET/contacts/search/duplicate")
        read_only = policy.document(frozenset({"contacts.readonly"}), "location", ARN, OWN)
        assert iam.evaluate(read_only, f"{PREFIX}/GET/contacts/upsert")  # contact id "upsert"
        assert not iam.evaluate(read_only, f"{PREFIX}/POST/contacts/upsert")


@pytest.mark.parametrize(
    ("scope", "path"),
    [
        # The issue's over-grants: a parameter equal to another route's word (sampling "x1" missed them).
        ("locations/customFields.readonly", "GET/locations/L1/customValues/customFields"),
        ("calendars/events.write", "PUT/calendars/groups/notifications/status"),
        ("socialplanner/account.readonly", "GET/social-media-posting/oauth/L1/facebook/accounts/accounts"),
    ],
)
def test_a_parameter_equal_to_another_routes_word_is_not_an_open_door(scope: str, path: str) -> None:
    for own in (None, "L1"):
        assert not iam.evaluate(
            policy.document(frozenset({scope}), "location", ARN, own), f"{PREFIX}/{path}"
        )


# --- the tenant pin ----------------------------------------------------------------------------------


def test_a_location_tokens_policy_names_its_own_location_not_a_wildcard() -> None:
    scopes = frozenset(ALL_SCOPES)
    document = policy.document(scopes, "location", ARN, OWN)
    allow = next(s for s in document["Statement"] if s["Effect"] == "Allow")["Resource"]
    assert f"{PREFIX}/GET/locations/{OWN}" in allow
    assert f"{PREFIX}/GET/locations/*" not in allow
    assert iam.evaluate(document, f"{PREFIX}/GET/locations/{OWN}/customValues")
    assert not iam.evaluate(document, f"{PREFIX}/GET/locations/loc2/customValues")
    assert not iam.evaluate(document, f"{PREFIX}/POST/social-media-posting/oauth/loc2/google/locations/a")
    # An agency token pins its API and stage but not the location (it reaches every one of its agency).
    agency = policy.document(scopes, "agency", ARN)
    assert iam.evaluate(agency, f"{PREFIX}/GET/locations/loc2")


def test_a_location_id_that_is_a_literal_word_is_still_pinned_exactly() -> None:
    document = policy.document(frozenset({"locations.readonly"}), "location", ARN, "search")
    assert iam.evaluate(document, f"{PREFIX}/GET/locations/search")
    assert not iam.evaluate(document, f"{PREFIX}/GET/locations/other")


def test_an_id_with_iam_wildcards_cannot_be_pinned_and_gets_nothing() -> None:
    document = policy.document(frozenset(ALL_SCOPES), "location", ARN, "loc*")
    assert not iam.evaluate(document, f"{PREFIX}/GET/locations/loc*")
    assert not iam.evaluate(document, f"{PREFIX}/GET/locations/loc1")


def test_every_resource_arn_fits_api_gateways_limit() -> None:
    longest_id = "L" * 128
    for level, own in (("agency", None), ("location", longest_id)):
        document = policy.document(frozenset(ALL_SCOPES), level, ARN, own)
        for statement in document["Statement"]:
            assert all(len(arn) <= 512 for arn in statement["Resource"])


def test_the_spec_example_needs_an_explicit_deny() -> None:
    document = policy.document(frozenset({"locations.readonly"}), "location", ARN)
    assert iam.evaluate(document, f"{PREFIX}/GET/locations/L1")
    assert not iam.evaluate(document, f"{PREFIX}/GET/locations/L1/customValues")
    deny = next(s for s in document["Statement"] if s["Effect"] == "Deny")
    assert f"{PREFIX}/GET/locations/*/customValues" in deny["Resource"]


def test_levels_of_a_route_are_respected() -> None:
    # locations.readonly opens GET /locations/timeZones only for sub-account tokens.
    agency = policy.document(frozenset({"locations.readonly"}), "agency", ARN)
    location = policy.document(frozenset({"locations.readonly"}), "location", ARN)
    assert not iam.evaluate(agency, f"{PREFIX}/GET/locations/timeZones")
    assert iam.evaluate(location, f"{PREFIX}/GET/locations/timeZones")


def test_no_scopes_denies_everything() -> None:
    document = policy.document(frozenset(), "location", ARN)
    assert not iam.evaluate(document, f"{PREFIX}/GET/contacts/x1")
    assert document["Statement"][0]["Effect"] == "Deny"


def test_trailing_slash_forms_are_the_same_route() -> None:
    document = policy.document(frozenset({"contacts.write"}), "location", ARN)
    assert iam.evaluate(document, f"{PREFIX}/POST/contacts/")
    assert iam.evaluate(document, f"{PREFIX}/POST/contacts")
    assert not iam.evaluate(document, f"{PREFIX}/GET/contacts")


def test_the_policy_is_scoped_to_the_calling_api_and_stage() -> None:
    document = policy.document(frozenset({"contacts.readonly"}), "location", ARN)
    other_api = "arn:aws:execute-api:us-east-1:123456789012:otherapi99/api/GET/contacts/x1"
    assert not iam.evaluate(document, other_api)


def extra_catalog(monkeypatch: pytest.MonkeyPatch, path: Path) -> contextlib.AbstractContextManager[None]:
    """The catalog plus a downstream API's rows, this test's own oracle rebuilt too."""
    return catalogs.extra_catalog(monkeypatch, path, also_clear=(oracle_routes, literal_words))


def test_a_downstream_api_can_add_its_own_scopes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    extra = tmp_path / "widgets.tsv"
    extra.write_text(
        "scope\tmethod\tpath\tlevels\nwidgets.readonly\tGET\t/widgets/:widgetId\tagency,location\n"
    )
    with extra_catalog(monkeypatch, extra):
        assert catalog.scope_problems(["widgets.readonly"], "agency") == []
        document = policy.document(frozenset({"widgets.readonly"}), "agency", ARN)
        assert iam.evaluate(document, f"{PREFIX}/GET/widgets/x1")
        assert not iam.evaluate(document, f"{PREFIX}/GET/contacts/x1")
        assert exact_problems(frozenset({"widgets.readonly", "contacts.readonly"}), "location") == []


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        # An attacker's review: `{locationId}` was a literal word to the planner, so `GET/widgets/*`
        # (from /widgets/:widgetId) admitted another location's `/widgets/OTHER/stats`.
        ("widgets.readonly\tGET\t/widgets/{locationId}/stats\tlocation", "segment '{locationId}'"),
        ("gadgets.readonly\tGET\t/gadgets/*\tlocation", "segment '*'"),  # an IAM wildcard
        ("gadgets.readonly\tGET\t/gadgets/a?b\tlocation", "segment 'a?b'"),
        ("gadgets.readonly\tGET\t/gadgets//x\tlocation", "segment ''"),
        ("gadgets.readonly\tFETCH\t/gadgets\tlocation", "method 'FETCH'"),
        ("gadgets.readonly\tGET\t/gadgets\tplanet", "levels must be"),
    ],
)
def test_a_catalog_row_the_planner_cannot_plan_safely_stops_the_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, row: str, problem: str
) -> None:
    extra = tmp_path / "widgets.tsv"
    header = "scope\tmethod\tpath\tlevels\nwidgets.readonly\tGET\t/widgets/:widgetId\tlocation\n"
    extra.write_text(header + row + "\n")
    with extra_catalog(monkeypatch, extra), pytest.raises(catalog.CatalogError) as refused:
        catalog.routes()
    assert f"{extra}, line 3" in str(refused.value) and problem in str(refused.value)


def test_a_location_tokens_policy_is_cached_per_location() -> None:
    first = policy.document(frozenset({"locations.readonly"}), "location", ARN, "locA")
    second = policy.document(frozenset({"locations.readonly"}), "location", ARN, "locB")
    assert iam.evaluate(first, f"{PREFIX}/GET/locations/locA")
    assert not iam.evaluate(first, f"{PREFIX}/GET/locations/locB")
    assert iam.evaluate(second, f"{PREFIX}/GET/locations/locB")
    assert not iam.evaluate(second, f"{PREFIX}/GET/locations/locA")
