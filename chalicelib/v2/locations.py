"""GET and PUT /locations/{locationId}, shaped as the platform's locations document says."""

from __future__ import annotations

from typing import Any

from chalicelib.core.errors import ValidationFailed
from chalicelib.directory.models import LocationModel
from chalicelib.tokens.context import TokenContext
from chalicelib.v2 import access, schema

# UpdateLocationDto fields this service cannot act on: answered with 422, never silently dropped.
NOT_SERVED = {
    "prospectInfo": "prospects belong to creating a sub-account, which this service does not do",
    "settings": "contact duplicates are never allowed here (settings.allowDuplicateContact is false)",
    "twilio": "this service keeps no Twilio credentials",
    "mailgun": "this service keeps no Mailgun credentials",
    "snapshot": "this service does not load snapshots",
}
# What this service knows of a location's settings (SPEC: duplicate contacts are refused).
SETTINGS = {"allowDuplicateContact": False}


def location_view(location: LocationModel) -> dict[str, Any]:
    """GetLocationByIdSchema / CreateLocationSuccessfulResponseDto: `companyId` is the agency."""
    details = location.details.as_dict() if location.details else {}
    return {
        "id": location.id,
        "companyId": location.agency_id,
        "name": location.name,
        **details,
        "settings": dict(SETTINGS),
    }


def get_location(token: TokenContext, location_id: str) -> dict[str, Any]:
    access.require_scope(token, "locations.readonly")
    return {"location": location_view(access.require_location(token, location_id))}


def update_location(token: TokenContext, location_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """The document's answer is the flat location; `companyId` (required) must name its own agency."""
    access.require_scope(token, "locations.write")
    location = access.require_location(token, location_id)
    problems = schema.problems("locations", "UpdateLocationDto", body)
    company_id = body.get("companyId")
    if isinstance(company_id, str) and company_id != location.agency_id:
        problems.append(
            f"companyId must be this location's agency '{location.agency_id}': "
            "a location cannot move to another agency"
        )
    problems += [f"{key} cannot be set here: {why}" for key, why in NOT_SERVED.items() if key in body]
    name = body.get("name")
    if isinstance(name, str) and not 1 <= len(name.strip()) <= 100:
        problems.append("name must be 1 to 100 characters")
    if problems:
        raise ValidationFailed(problems)
    changes = {key: value for key, value in body.items() if key not in ("companyId", "name")}
    actions: list[Any] = []
    if changes:
        # The whole map: items seeded before `details` existed have no map to set a key in.
        details = location.details.as_dict() if location.details else {}
        actions.append(LocationModel.details.set({**details, **changes}))
    if isinstance(name, str):
        actions.append(LocationModel.name.set(name.strip()))
    if actions:
        location.update(actions=actions, condition=LocationModel.id.exists())
    return location_view(location)
