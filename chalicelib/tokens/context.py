"""What the authorizer tells the routes behind it: encoded once (authorizer), decoded once (v2).

API Gateway passes a Lambda authorizer's `context` to the integration as strings, numbers and booleans
only; scopes travel as one space-separated string.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class TokenContext(NamedTuple):
    """The caller behind a v2 request: its integration, owner, agency and scopes (a NamedTuple: cheap to
    import on the authorizer's cold start)."""

    integration_id: str
    owner_type: str
    owner_id: str
    agency_id: str
    scopes: frozenset[str]
    # Which of the integration's tokens made the request: "current", or "previous" (rotating out). What
    # the usage counts attribute a request to (the access log's `tokenRole`); never the token itself.
    token_role: str = "current"

    def encode(self) -> dict[str, str]:
        return {
            "integrationId": self.integration_id,
            "ownerType": self.owner_type,
            "ownerId": self.owner_id,
            "agencyId": self.agency_id,
            "scopes": " ".join(sorted(self.scopes)),
            "tokenRole": self.token_role,
        }

    @classmethod
    def decode(cls, request_context: dict[str, Any]) -> TokenContext:
        """From a request's context (`requestContext.authorizer`); missing values are empty."""
        values = request_context.get("authorizer") or {}
        return cls(
            integration_id=str(values.get("integrationId", "")),
            owner_type=str(values.get("ownerType", "")),
            owner_id=str(values.get("ownerId", "")),
            agency_id=str(values.get("agencyId", "")),
            scopes=frozenset(str(values.get("scopes", "")).split()),
            token_role=str(values.get("tokenRole", "current")),
        )
