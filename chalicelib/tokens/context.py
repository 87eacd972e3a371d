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
    # The integration's lowered burst limit, 0 for the platform's default; None when the token item
    # predates it being copied there (the rate limiter then reads the integration).
    burst_limit: int | None = None

    def encode(self) -> dict[str, str]:
        encoded = {
            "integrationId": self.integration_id,
            "ownerType": self.owner_type,
            "ownerId": self.owner_id,
            "agencyId": self.agency_id,
            "scopes": " ".join(sorted(self.scopes)),
            "tokenRole": self.token_role,
        }
        if self.burst_limit is not None:
            encoded["burstLimit"] = str(self.burst_limit)
        return encoded

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
            burst_limit=_whole(values.get("burstLimit")),
        )


def _whole(value: Any) -> int | None:
    """A context number (API Gateway may pass it as a string or a number); None when absent or bad."""
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None
