"""What a v2 handler knows of its caller: the authorizer's context, and the tenancy rule.

Handlers trust only the authorizer's context. They check the scope again (defence in depth: the
policy already did on API Gateway) and enforce tenancy: a location token reaches its own location,
an agency token every location of its agency.
"""

from __future__ import annotations

from chalicelib.core.errors import Forbidden
from chalicelib.core.vocabulary import OwnerType
from chalicelib.directory.models import LocationModel
from chalicelib.tokens.context import TokenContext

NO_LOCATION_ACCESS = "The token does not have access to this location."


def require_scope(token: TokenContext, scope: str) -> None:
    if scope not in token.scopes:
        raise Forbidden(f"The token is not authorized for this scope: it needs '{scope}'.")


def require_location(token: TokenContext, location_id: str) -> LocationModel:
    """The location, if the token may reach it: a location token its own, an agency token its agency's."""
    try:
        location = LocationModel.get(location_id, consistent_read=True)
    except LocationModel.DoesNotExist:
        raise Forbidden(NO_LOCATION_ACCESS) from None
    if token.owner_type == OwnerType.LOCATION:
        allowed = location.id == token.owner_id
    else:
        allowed = token.owner_type == OwnerType.AGENCY and location.agency_id == token.agency_id
    if not allowed:
        raise Forbidden(NO_LOCATION_ACCESS)
    return location
