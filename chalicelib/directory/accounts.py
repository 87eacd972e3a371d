"""Agencies, locations and users: lookups, effective permission flags, and the seed loader."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.core.errors import NotFound
from chalicelib.core.vocabulary import UserRole, UserType
from chalicelib.directory.models import AgencyModel, LocationModel, UserModel


@dataclass(frozen=True)
class Flags:
    agency: bool
    sub_account: bool

    def as_json(self) -> dict[str, bool]:
        return {"agency": self.agency, "subAccount": self.sub_account}


def is_agency_admin(user: UserModel) -> bool:
    """Agency admins change permission flags and Labs, and have both flags by default."""
    return user.type == UserType.AGENCY and user.role == UserRole.ADMIN


def effective_flags(user: UserModel) -> Flags:
    """Stored flags win; unset flags default to on for agency admins and off for everyone else."""
    default = is_agency_admin(user)
    agency = user.perm_agency if user.perm_agency is not None else default
    sub_account = user.perm_sub_account if user.perm_sub_account is not None else default
    # Account users never manage agency-level integrations, whatever is stored.
    return Flags(agency=agency and user.type == UserType.AGENCY, sub_account=sub_account)


def find_user(user_id: str) -> UserModel | None:
    try:
        return UserModel.get(user_id, consistent_read=True)
    except UserModel.DoesNotExist:
        return None


def get_agency(agency_id: str) -> AgencyModel:
    try:
        return AgencyModel.get(agency_id, consistent_read=True)
    except AgencyModel.DoesNotExist:
        raise NotFound(f"Agency '{agency_id}' was not found.") from None


def get_location(location_id: str) -> LocationModel:
    try:
        return LocationModel.get(location_id, consistent_read=True)
    except LocationModel.DoesNotExist:
        raise NotFound(f"Location '{location_id}' was not found.") from None


def visible_locations(user: UserModel) -> list[dict[str, str]]:
    """The sub-accounts a user works in: all of the agency's for agency users, their own for account users."""
    if user.type == UserType.AGENCY:
        found = list(LocationModel.by_agency.query(user.agency_id))
    else:
        ids = list(user.location_ids or [])
        found = (
            [loc for loc in LocationModel.batch_get(ids) if loc.agency_id == user.agency_id] if ids else []
        )
    return [{"id": loc.id, "name": loc.name} for loc in sorted(found, key=lambda loc: (loc.name, loc.id))]


def user_view(user: UserModel) -> dict[str, Any]:
    return {
        "id": user.id,
        "agencyId": user.agency_id,
        "type": user.type,
        "role": user.role,
        "locationIds": list(user.location_ids or []),
    }
