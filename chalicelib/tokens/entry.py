"""The deployed authorizer Lambda's handler: API Gateway's TOKEN event -> policy, and nothing else.

The packaged template names `chalicelib.tokens.entry.handler` as the authorizer function's Handler
(infra/build.py), so a cold authorizer imports only the authorizer path: no Chalice app, no routes, no
JWT library, no boto3. `chalice local` and the tests reach the same `authorize` through app.py.
"""

from __future__ import annotations

from typing import Any

from chalicelib.tokens.authorizer import authorize


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """`{"type": "TOKEN", "authorizationToken": "Bearer …", "methodArn": "arn:…"}` -> policy and context.

    Raises Exception("Unauthorized") for a token that does not authorize (API Gateway answers 401) and
    any other exception when the token cannot be checked (500): never an Allow.
    """
    return authorize(event.get("authorizationToken"), event["methodArn"])
