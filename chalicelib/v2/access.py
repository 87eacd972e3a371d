"""What a v2 handler knows of its caller: the authorizer's context, and the tenancy rule.

Handlers trust only the authorizer's context. They check the scope again (defence in depth: the
policy already did on API Gateway) and enforce tenancy: a location token reaches its own location,
an agency token every location of its agency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.core.errors import Forbidden
from chalicelib.core.vocabulary import OwnerType
from chalicelib.directory.models import LocationModel

NO_LOCATION_ACCESS = "The token does not have access to this location."


@dataclass(frozen=True)
class TokenContext:
    """What the handlers need of the authorizer's context: owner, agency, scopes."""

    owner_type: str
    owner_id: str
    agency_id: str
    scopes: frozenset[str]

    @classmethod
    def from_request_context(cls, context: dict[str, Any]) -> TokenContext:
        authorizer = context.get("authorizer") or {}
        return cls(
            owner_type=str(authorizer.get("ownerType", "")),
            owner_id=str(authorizer.get("ownerId", "")),
            agency_id=str(authorizer.get("agencyId", "")),
            scopes=frozenset(str(authorizer.get("scopes", "")).split()),
        )

    def require_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"The token is not authorized for this scope: it needs '{scope}'.")

    def require_location(self, location_id: str) -> LocationModel:
        try:
            location = LocationModel.get(location_id, consistent_read=True)
        except LocationModel.DoesNotExist:
            raise Forbidden(NO_LOCATION_ACCESS) from None
        if self.owner_type == OwnerType.LOCATION:
            allowed = location.id == self.owner_id
        else:
            allowed = self.owner_type == OwnerType.AGENCY and location.agency_id == self.agency_id
        if not allowed:
            raise Forbidden(NO_LOCATION_ACCESS)
        return location
