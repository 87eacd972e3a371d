"""The platform's scope catalog: which scope opens which route, at which owner level.

Loaded once from data/platform-scopes.tsv (a copy of the platform's catalog). A downstream API can add
its own scopes by pointing PI_EXTRA_SCOPES_FILE at a TSV of the same shape.
"""

from __future__ import annotations

import csv
import difflib
import functools
import re
from pathlib import Path
from typing import Any, NamedTuple

from chalicelib.core import config
from chalicelib.core.vocabulary import OwnerType
from chalicelib.tokens.stored_policy import CATALOG_FILE

DATA_FILE = CATALOG_FILE
LEVELS = tuple(OwnerType)


class CatalogRoute(NamedTuple):
    scope: str
    method: str
    path: str  # with :param segments, as the platform writes them
    levels: frozenset[str]
    description: str = ""  # optional column: a file may describe its scopes in its own words

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
# A literal path word IAM reads as itself (no `*` or `?` wildcard, no braces), or a `:parameter`.
_LITERAL = re.compile(r"[A-Za-z0-9._~-]{1,128}")
_PARAMETER = re.compile(r":[A-Za-z][A-Za-z0-9_]{0,63}")


class CatalogError(ValueError):
    """A catalog row the policy could not plan safely: the service refuses to start with it."""


def _row_problem(method: str, path: str, levels: frozenset[str]) -> str | None:
    if method not in METHODS:
        return f"method '{method}' is not an HTTP method"
    if not levels or not levels <= set(LEVELS):
        return f"levels must be agency, location or both, got '{','.join(sorted(levels))}'"
    segments = path.strip("/").split("/") if path.strip("/") else []
    if not segments:
        return "the path is empty"
    for segment in segments:
        if not (_LITERAL.fullmatch(segment) or _PARAMETER.fullmatch(segment)):
            # `{id}` would be a literal word to the planner and `*` an IAM wildcard: either widens a
            # location token's policy past its own location.
            return f"segment '{segment}' is neither a word of [A-Za-z0-9._~-] nor a ':parameter'"
    return None


def _read(path: Path) -> list[CatalogRoute]:
    found: list[CatalogRoute] = []
    with path.open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle, delimiter="\t"), start=2):
            if not row.get("scope"):
                continue
            route = CatalogRoute(
                scope=row["scope"].strip(),
                method=(row.get("method") or "").strip().upper(),
                path=(row.get("path") or "").strip(),
                levels=frozenset(
                    level.strip() for level in (row.get("levels") or "").split(",") if level.strip()
                ),
                description=(row.get("description") or "").strip(),
            )
            problem = _row_problem(route.method, route.path, route.levels)
            if problem:
                raise CatalogError(f"{path}, line {line} ({route.label}): {problem}")
            found.append(route)
    return found


@functools.cache
def routes() -> tuple[CatalogRoute, ...]:
    extra = config.settings.extra_scopes_file
    return tuple(_read(DATA_FILE) + (_read(Path(extra)) if extra else []))


@functools.cache
def scope_levels() -> dict[str, frozenset[str]]:
    """A scope may be held at a level when at least one of its routes lists that level."""
    levels: dict[str, set[str]] = {}
    for route in routes():
        levels.setdefault(route.scope, set()).update(route.levels)
    return {scope: frozenset(found) for scope, found in levels.items()}


def _skeleton(path: str) -> tuple[str | None, ...]:
    """`/contacts/:contactId`, `contacts/{contact_id}` and `/contacts/x/` alike: literal words, None for a
    parameter, no empty trailing segment (API Gateway drops a trailing slash)."""
    segments = path.strip("/").split("/")
    return tuple(None if s.startswith((":", "{")) else s for s in segments)


def scopes_opening(method: str, path: str) -> list[str]:
    """The scopes that open `method path` (a catalog path or an API Gateway resource path), sorted."""
    wanted = (method.upper(), _skeleton(path))
    return sorted({r.scope for r in routes() if (r.method, _skeleton(r.path)) == wanted})


_WRITE_VERBS = (("POST", "create"), ("PUT", "change"), ("PATCH", "change"), ("DELETE", "delete"))


def _words(part: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])|-", " ", part).lower()


def describe(scope: str, methods: set[str]) -> str:
    """A short description from the scope's name and its routes' methods, for a file without one:
    'locations/customFields.readonly' -> 'View location custom fields'."""
    resource, _, access = scope.rpartition(".")
    parts = resource.split("/")
    if len(parts) > 1 and parts[0].endswith("s") and not parts[0].endswith(("as", "ss")):
        parts[0] = parts[0][:-1]  # the group as an adjective: 'locations/tags' -> 'location tags'
    subject = " ".join(_words(part) for part in parts)
    if access != "write":
        return f"View {subject}"
    verbs = list(dict.fromkeys(verb for method, verb in _WRITE_VERBS if method in methods)) or ["manage"]
    said = verbs[0] if len(verbs) == 1 else ", ".join(verbs[:-1]) + " and " + verbs[-1]
    return f"{said.capitalize()} {subject}"


DESCRIPTIONS_FILE = DATA_FILE.parent / "scope-descriptions.tsv"


@functools.cache
def _curated_descriptions() -> dict[str, str]:
    """Our own words for the scopes whose generated description reads oddly ('Change blog post update');
    a catalog file's own description column still wins."""
    with DESCRIPTIONS_FILE.open(encoding="utf-8", newline="") as handle:
        return {row["scope"]: row["description"] for row in csv.DictReader(handle, delimiter="\t")}


@functools.cache
def scopes_view() -> dict[str, Any]:
    by_scope: dict[str, list[CatalogRoute]] = {}
    for route in routes():
        by_scope.setdefault(route.scope, []).append(route)
    return {
        "scopes": [
            {
                "name": scope,
                "description": next((r.description for r in found if r.description), "")
                or _curated_descriptions().get(scope)
                or describe(scope, {r.method for r in found}),
                "levels": [level for level in LEVELS if level in scope_levels()[scope]],
                "routes": [r.label for r in found],
            }
            for scope, found in by_scope.items()
        ]
    }


def _suggestion(scope: str, known: dict[str, frozenset[str]]) -> str:
    """"; did you mean 'contacts.readonly'?" for a near miss ('contacts.read'), else nothing."""
    prefixed = [n for n in known if len(scope) >= 5 and (n.startswith(scope) or scope.startswith(n))]
    close = prefixed or difflib.get_close_matches(scope, list(known), n=1, cutoff=0.75)
    return f"; did you mean '{sorted(close)[0]}'?" if close else ""


def scope_problems(scopes: Any, level: str) -> list[str]:
    """Every rule `scopes` breaks for an integration owned at `level` (empty list: valid)."""
    if not isinstance(scopes, list) or not scopes:
        return ["scopes must be a non-empty list of scope names from GET /scopes"]
    problems = []
    known = scope_levels()
    seen: set[str] = set()
    for scope in scopes:
        if not isinstance(scope, str):
            problems.append(f"scopes: every entry must be a string, got {type(scope).__name__}")
        elif scope in seen:
            problems.append(f"scopes: '{scope}' is listed more than once")
        elif scope not in known:
            hint = _suggestion(scope, known)
            problems.append(f"scopes: '{scope}' is not a known scope{hint} (see GET /scopes)")
        elif level not in known[scope]:
            where = "an agency" if level == OwnerType.AGENCY else "a sub-account (location)"
            problems.append(f"scopes: '{scope}' cannot be held by {where} integration")
        if isinstance(scope, str):
            seen.add(scope)
    return problems
