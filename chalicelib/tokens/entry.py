"""The deployed authorizer Lambda's handler: API Gateway's REQUEST event -> policy, and nothing else.

The packaged template names `chalicelib.tokens.entry.handler` as the authorizer function's Handler
(infra/build.py), so a cold authorizer imports only the authorizer path: no Chalice app, no routes, no
JWT library, no boto3. `chalice local` and the tests reach the same handler through local/gateway.py,
which emulates API Gateway's REQUEST authorizer.

REQUEST (what the template declares, identity sources `method.request.header.Authorization` and
`context.identity.sourceIp`, so API Gateway caches one decision per token and caller address): the token
from the `Authorization` header (REST APIs pass headers with the case the client sent), the caller's
address from `requestContext.identity.sourceIp` (the TCP peer API Gateway saw; never X-Forwarded-For,
which any caller can write). A TOKEN event (a downstream API that attached the authorizer TOKEN-typed)
has no address: a token whose integration enforces an allowlist is refused there.
"""

from __future__ import annotations

from typing import Any

# Imported first, at the shallowest depth: under CPython 3.11 urllib3's regex compilation (botocore's
# import) oscillates across a frame-stack chunk boundary when nested three imports deeper, mapping and
# unmapping a chunk per call (seen here: 3,159 mmaps instead of 756, +18 ms per cold start).
import pynamodb.models  # noqa: F401

from chalicelib.tokens.authorizer import authorize


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """`{"type": "REQUEST", "methodArn": "arn:…", "headers": {"Authorization": "Bearer …", …},
    "requestContext": {"identity": {"sourceIp": "203.0.113.7", …}, …}, …}` (or a TOKEN event:
    `{"type": "TOKEN", "authorizationToken": "Bearer …", "methodArn": "arn:…"}`) -> policy and context.

    Raises Exception("Unauthorized") for a token that does not authorize (API Gateway answers 401) and
    any other exception when the token cannot be checked (500): never an Allow.
    """
    if event.get("type") != "REQUEST":
        return authorize(event.get("authorizationToken"), event["methodArn"])
    identity = (event.get("requestContext") or {}).get("identity") or {}
    token = _header(event.get("headers"), "authorization")
    return authorize(token, event["methodArn"], identity.get("sourceIp"))


def _header(headers: dict[str, str] | None, lower_name: str) -> str | None:
    """A header's value whatever its case (API Gateway keeps the client's)."""
    for name, value in (headers or {}).items():
        if name.lower() == lower_name:
            return value
    return None
