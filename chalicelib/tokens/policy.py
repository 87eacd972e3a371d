"""Scopes -> one IAM policy covering every route the scopes open, exact for every parameter value.

API Gateway caches an authorizer's answer per token for every route of the API, so the policy must be
right for all routes and all parameter values at once. IAM resource globs cannot say "one segment":
`*` matches any characters, `/` included, so `GET/locations/*/customFields` (a customFields route)
also matches `GET/locations/L1/customValues/customFields` (a customValues route whose `:id` is the word
"customFields"). Sampling one value per parameter misses such collisions; this module computes them.

How it stays exact. A request path is a list of segments. Whether a glob or a route matches depends on
a parameter's value only through which literal word of the catalog (or the token's own location id) it
equals, so every value is one of finitely many classes: each literal word, or OTHER (any other
non-empty word). `_explore` walks every class of path that some catalog route matches (a product of
small automata: the routes and the globs), and finds where the policy's answer differs from the one
wanted. The route a path belongs to is the one API Gateway routes it to: among the catalog routes that
match it, the one with a literal where the others have a parameter, left to right (so
`GET /calendars/groups` is the groups route, not `GET /calendars/:calendarId` with id "groups").

`plan` starts from one Allow glob per allowed route and adds Deny globs until nothing is over-granted:
the refused route's whole glob when it denies no allowed path, else the exact colliding path. Some
collisions cannot be closed by globs alone: `DELETE/calendars/*` (calendars.write) swallows
`DELETE/calendars/X/notifications/Y` (a route the token may lack) for every X, and a Deny cannot say
"every X but `resources`" to spare `DELETE /calendars/resources/:resourceType/:id`. There the policy
fails closed: it refuses the ambiguous path, one that is also another route the token may not call
(here a resource type named "notifications"; the platform's ids are random, never catalog words).
tests/unit/test_policy.py proves both bounds: 0 over-grants, and under-grants only on such ambiguous paths.

Tenant pin: in a location token's policy every `:locationId` of an allowed route is the token's own
location id, so API Gateway refuses another location before any code runs: no path whose location
segment is another id is ever admitted (0 over-grants, proved by the tests). One place where IAM globs
cannot say "this location and no other": a route ending in a parameter (`GET /conversations/:id`) whose
glob `GET/conversations/*` also covers a longer pinned route (`GET /conversations/messages/:messageId/
locations/:locationId/recording`). Any Deny of another location there also denies the token's own, and
an explicit Deny beats every Allow, so the policy refuses the longer route at every location (fail
closed): such a token cannot call it at all. In today's catalog that is the three recording and
transcription routes for a location token that also holds `conversations.readonly`; a second integration
without that scope reaches them.

Agency tokens are not pinned to a location: their policy pins the API stage, the methods and the route
shapes their scopes open, and nothing about tenancy. A handler behind it must check that every location
and resource in the request belongs to the context's `agencyId` (the v2 routes here do).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from chalicelib.tokens import catalog, stored_policy

STAR = None  # a glob segment `*`: one or more segments, of any value
OTHER = "\x00"  # the class of every non-empty segment value that is no literal word
PIN = "\x01"  # the token's own location id while planning (substituted when the policy is written)
PINNED_PARAMETER = "locationId"
SAFE_ID = re.compile(r"\A[A-Za-z0-9_.~-]{1,128}\Z")  # no IAM wildcard, no '/': safe to pin

Glob = tuple[str | None, ...]


class Shape(NamedTuple):
    """One route as API Gateway matches it: the method, then one entry per path segment.

    `skeleton` holds literal words and None for parameters; `pinned` the positions of `:locationId`.
    """

    skeleton: tuple[str | None, ...]
    pinned: frozenset[int]
    label: str

    @property
    def precedence(self) -> tuple[int, ...]:
        # API Gateway prefers a literal segment to a parameter, left to right.
        return tuple(0 if segment is not None else 1 for segment in self.skeleton)


class Finding(NamedTuple):
    path: tuple[str, ...]  # segment classes, OTHER for "any other word"
    route: Shape
    wanted: bool  # what the token should get: its scopes open the route (and the pin holds)
    allowed: bool  # what the policy answers
    opened: bool  # the token's scopes open the route (whatever the location)


def shapes(route: catalog.CatalogRoute) -> tuple[Shape, ...]:
    """`/contacts/` and `/contacts` are the same route (API Gateway drops a trailing slash)."""
    segments = route.path.lstrip("/").split("/")
    forms = [segments]
    if len(segments) > 1 and segments[-1] == "":
        forms.append(segments[:-1])
    found = []
    for form in forms:
        skeleton = (route.method, *(None if s.startswith(":") else s for s in form))
        pinned = frozenset(i + 1 for i, s in enumerate(form) if s == f":{PINNED_PARAMETER}")
        found.append(Shape(skeleton, pinned, route.label))
    return tuple(found)


def route_allowed(route: catalog.CatalogRoute, scopes: frozenset[str], level: str) -> bool:
    return route.scope in scopes and level in route.levels


def _table(scopes: frozenset[str], level: str) -> tuple[tuple[Shape, bool], ...]:
    """Every distinct route shape and whether the token may call it (any catalog row opening it)."""
    allowed: dict[tuple[str | None, ...], bool] = {}
    first: dict[tuple[str | None, ...], Shape] = {}
    for route in catalog.routes():
        for shape in shapes(route):
            ok = route_allowed(route, scopes, level)
            if ok or shape.skeleton not in first:
                first[shape.skeleton] = shape
            allowed[shape.skeleton] = allowed.get(shape.skeleton, False) or ok
    return tuple((first[skeleton], allowed[skeleton]) for skeleton in first)


def _allow_glob(shape: Shape, pin: str | None) -> Glob:
    return tuple(
        pin if (pin is not None and i in shape.pinned) else segment
        for i, segment in enumerate(shape.skeleton)
    )


def _step_globs(globs: Sequence[Glob], states: frozenset[tuple[int, int]], symbol: str) -> frozenset:
    """Advance glob automata by one segment. State (g, j): globs[g][:j] has matched the path so far."""
    after = set()
    for g, j in states:
        glob = globs[g]
        if j > 0 and glob[j - 1] is STAR:
            after.add((g, j))  # the star before j swallows this segment too
        if j < len(glob) and (glob[j] is STAR or glob[j] == symbol):
            after.add((g, j + 1))
    return frozenset(after)


def _explore(
    table: Sequence[tuple[Shape, bool]],
    globs: Sequence[Glob],
    effects: Sequence[bool],
    pin: str | None,
) -> list[Finding]:
    """Every class of path some route matches, with the answer wanted and the policy's answer.

    `effects[g]` is True for an Allow glob, False for a Deny glob.
    """
    findings: list[Finding] = []
    seen: dict[tuple[int, frozenset, frozenset], list[Finding]] = {}

    def walk(
        depth: int, live: frozenset[tuple[int, bool]], states: frozenset[tuple[int, int]]
    ) -> list[Finding]:
        key = (depth, live, states)
        if key in seen:
            return seen[key]
        found: list[Finding] = []
        ended = [(r, pin_ok) for r, pin_ok in live if len(table[r][0].skeleton) == depth]
        if ended:
            r, pin_ok = min(ended, key=lambda item: table[item[0]][0].precedence)
            shape, ok = table[r]
            accepting = {g for g, j in states if j == len(globs[g])}
            allowed = any(effects[g] for g in accepting) and not any(not effects[g] for g in accepting)
            found.append(Finding((), shape, ok and pin_ok, allowed, ok))
        going = frozenset((r, p) for r, p in live if len(table[r][0].skeleton) > depth)
        if going:
            symbols: set[str] = {OTHER}
            for r, _ in going:
                if (segment := table[r][0].skeleton[depth]) is not None:
                    symbols.add(segment)
            for g, j in states:
                if j < len(globs[g]) and (segment := globs[g][j]) is not None:
                    symbols.add(segment)
            if pin is not None:
                symbols.add(pin)
            for symbol in symbols:
                nxt = set()
                for r, pin_ok in going:
                    shape = table[r][0]
                    segment = shape.skeleton[depth]
                    if segment is None and symbol != "":
                        pinned = pin is not None and depth in shape.pinned
                        nxt.add((r, pin_ok and (not pinned or symbol == pin)))
                    elif segment == symbol:
                        nxt.add((r, pin_ok))
                if nxt:
                    for finding in walk(depth + 1, frozenset(nxt), _step_globs(globs, states, symbol)):
                        found.append(finding._replace(path=(symbol, *finding.path)))
        seen[key] = found
        return found

    start_live = frozenset((r, True) for r in range(len(table)))
    start = frozenset((g, 0) for g in range(len(globs)))
    findings = walk(0, start_live, start)
    return findings


def _covers(glob: Glob, path: tuple[str, ...]) -> bool:
    states = frozenset({(0, 0)})
    for symbol in path:
        states = _step_globs([glob], states, symbol)
    return any(j == len(glob) for _, j in states)


def _candidates(finding: Finding) -> Iterable[Glob]:
    """Deny globs for an over-granted path, widest first."""
    if not finding.opened:  # a refused route: deny all of it
        yield tuple(finding.route.skeleton)
    yield tuple(STAR if symbol == OTHER else symbol for symbol in finding.path)


@functools.lru_cache(maxsize=4096)
def plan(
    scopes: frozenset[str], level: str, pin: str | None = None
) -> tuple[tuple[Glob, ...], tuple[Glob, ...]]:
    """(allow globs, deny globs) for a token holding `scopes` at owner `level`, pinned to `pin`."""
    table = _table(scopes, level)
    allow = list(dict.fromkeys(_allow_glob(shape, pin) for shape, ok in table if ok))
    deny: list[Glob] = []
    while True:
        over = [
            f
            for f in _explore(table, allow + deny, [True] * len(allow) + [False] * len(deny), pin)
            if f.allowed and not f.wanted
        ]
        if not over:
            return tuple(allow), tuple(deny)
        for finding in over:
            if any(_covers(glob, finding.path) for glob in deny):
                continue
            options = list(_candidates(finding))
            safe = [
                glob
                for glob in options
                if not any(f.allowed and f.wanted for f in _explore(table, [glob], [True], pin))
            ]
            # No glob refuses this path alone (a parameter equal to a literal word, or another location
            # under a shorter route's trailing `*`): refuse its whole class, fail closed.
            deny.append(safe[0] if safe else options[-1])


def findings(scopes: frozenset[str], level: str, pin: str | None = None) -> list[Finding]:
    """Every path class whose answer differs from the wanted one (empty list: the policy is exact)."""
    allow, deny = plan(scopes, level, pin)
    return [
        f
        for f in _explore(_table(scopes, level), allow + deny, [True] * len(allow) + [False] * len(deny), pin)
        if f.allowed != f.wanted
    ]


def _text(glob: Glob, location_id: str | None) -> str:
    return "/".join("*" if s is STAR else (location_id or "") if s == PIN else s for s in glob)


@functools.lru_cache(maxsize=256)  # ~10 KB each at most: bounded memory however many locations plan
def globs(scopes: frozenset[str], level: str, location_id: str | None = None) -> stored_policy.Globs:
    """(allow, deny) glob texts without the API prefix, for a token pinned to `location_id` (a location
    token's own id; None for an agency token). An id IAM could read as a wildcard gets nothing."""
    if location_id is not None and not SAFE_ID.match(location_id):
        return (), ()
    # The plan is the same for every location id that is no literal word of the catalog.
    literal = location_id is not None and any(location_id in s.skeleton for s, _ in _table(scopes, level))
    allow, deny = plan(scopes, level, location_id if literal else (PIN if location_id else None))
    return tuple(_text(g, location_id) for g in allow), tuple(_text(g, location_id) for g in deny)


def stored(scopes: frozenset[str], level: str, location_id: str | None = None) -> bytes:
    """The plan as a token item keeps it (stored_policy.py)."""
    return stored_policy.encode(*globs(scopes, level, location_id))


def document(
    scopes: frozenset[str], level: str, method_arn: str, location_id: str | None = None
) -> dict[str, Any]:
    """The IAM policy, planned now; a location token passes its own `location_id` to be pinned."""
    return stored_policy.document(method_arn, *globs(scopes, level, location_id))
