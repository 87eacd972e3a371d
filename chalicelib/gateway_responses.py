"""The bodies API Gateway answers with when the authorizer, not our code, decides (SPEC's error shape).

Used twice: infra/build.py writes them into the API's GatewayResponses, and the local emulation
(local_gateway.py) answers with the same bodies, so `make run` and AWS agree.
"""

from __future__ import annotations

import json

UNAUTHORIZED = {
    "statusCode": 401,
    "error": "Unauthorized",
    "message": "Send a current Private Integration token: 'Authorization: Bearer pit-…'. "
    "It is missing, malformed, unknown, revoked or expired.",
}
ACCESS_DENIED = {
    "statusCode": 403,
    "error": "Forbidden",
    "message": "The token is not authorized for this scope: "
    "add the scope this route needs to the private integration.",
}
AUTHORIZER_FAILURE = {
    "statusCode": 500,
    "error": "Internal Server Error",
    "message": "The token could not be checked right now: retry shortly.",
}

# API Gateway response type -> body
BY_TYPE = {
    "UNAUTHORIZED": UNAUTHORIZED,
    "ACCESS_DENIED": ACCESS_DENIED,
    "AUTHORIZER_FAILURE": AUTHORIZER_FAILURE,
    "AUTHORIZER_CONFIGURATION_ERROR": AUTHORIZER_FAILURE,
}


def body(response: dict[str, object]) -> bytes:
    return json.dumps(response).encode()
