"""Scopes -> one IAM policy covering every route the scopes open. Pure functions, cached.

API Gateway caches an authorizer's answer per token, for every route of the API, so the policy must
be right for all routes at once. Path parameters become `*`, and an IAM `*` also matches `/`: the
pattern `GET/locations/*` (locations.readonly) would admit `GET/locations/L1/customValues`, which
needs `locations/customValues.readonly`. So for every catalog route the token may NOT call whose
concrete paths an Allow pattern would match, the policy adds an explicit Deny for that route's
pattern (an explicit Deny beats any Allow). tests/test_policy.py proves it over all catalog routes.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from chalicelib import catalog
from chalicelib.catalog import CatalogRoute

SAMPLE_PARAMETER = "x1"


def _variants(method: str, path: str) -> tuple[str, ...]:
    """`/contacts/` and `/contacts` are the same route (API Gateway drops a trailing slash)."""
    relative = path.lstrip("/")
    forms = [relative]
    if relative.endswith("/"):
        forms.append(relative.rstrip("/"))
    return tuple(f"{method}/{form}" for form in forms)


def patterns(route: CatalogRoute) -> tuple[str, ...]:
    return _variants(route.method, re.sub(r":[^/]+", "*", route.path))


def samples(route: CatalogRoute) -> tuple[str, ...]:
    """Concrete request paths of a route, relative to the stage (what methodArn ends with)."""
    return _variants(route.method, re.sub(r":[^/]+", SAMPLE_PARAMETER, route.path))


@functools.cache
def _glob(pattern: str) -> re.Pattern[str]:
    """IAM resource matching: `*` any characters (including '/'), `?` exactly one."""
    return re.compile(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."))


def glob_matches(pattern: str, text: str) -> bool:
    return _glob(pattern).fullmatch(text) is not None


def route_allowed(route: CatalogRoute, scopes: frozenset[str], level: str) -> bool:
    return route.scope in scopes and level in route.levels


@functools.lru_cache(maxsize=2048)
def plan(scopes: frozenset[str], level: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(allow patterns, deny patterns) for a token holding `scopes` at owner `level`."""
    allow: dict[str, None] = {}
    refused: list[CatalogRoute] = []
    for route in catalog.routes():
        if route_allowed(route, scopes, level):
            allow.update(dict.fromkeys(patterns(route)))
        else:
            refused.append(route)
    deny: dict[str, None] = {}
    for route in refused:
        if any(glob_matches(a, s) for a in allow for s in samples(route)):
            deny.update(dict.fromkeys(patterns(route)))
    return tuple(allow), tuple(deny)


def api_prefix(method_arn: str) -> str:
    """arn:aws:execute-api:region:account:apiId/stage/METHOD/path -> arn:...:apiId/stage"""
    arn_api, _, rest = method_arn.partition("/")
    stage = rest.split("/", 1)[0]
    return f"{arn_api}/{stage}"


@functools.lru_cache(maxsize=2048)
def _resources(scopes: frozenset[str], level: str, prefix: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(allow ARNs, deny ARNs) for one API stage: built once per scope set, not per authorization."""
    allow, deny = plan(scopes, level)
    return tuple(f"{prefix}/{p}" for p in allow), tuple(f"{prefix}/{p}" for p in deny)


def document(scopes: frozenset[str], level: str, method_arn: str) -> dict[str, Any]:
    prefix = api_prefix(method_arn)
    allow, deny = _resources(scopes, level, prefix)
    statements: list[dict[str, Any]] = []
    if allow:
        statements.append({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": list(allow)})
    if deny:
        statements.append({"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": list(deny)})
    if not statements:
        statements.append({"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": [f"{prefix}/*"]})
    return {"Version": "2012-10-17", "Statement": statements}


def evaluate(policy_document: dict[str, Any], resource_arn: str) -> bool:
    """IAM evaluation for execute-api: an explicit Deny wins, then any Allow, else denied."""
    allowed = False
    for statement in policy_document["Statement"]:
        if any(glob_matches(resource, resource_arn) for resource in statement["Resource"]):
            if statement["Effect"] == "Deny":
                return False
            allowed = True
    return allowed
