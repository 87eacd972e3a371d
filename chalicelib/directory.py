"""Agencies, locations and users: lookups, effective permission flags, and the seed loader."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.errors import NotFound
from chalicelib.models import AgencyModel, LocationModel, UserModel


@dataclass(frozen=True)
class Owner:
    """Who an integration belongs to: the agency itself or one of its locations (sub-accounts)."""

    type: str  # "agency" | "location"
    id: str
    agency_id: str

    @property
    def key(self) -> str:
        return f"{self.type}#{self.id}"


@dataclass(frozen=True)
class Flags:
    agency: bool
    sub_account: bool

    def as_json(self) -> dict[str, bool]:
        return {"agency": self.agency, "subAccount": self.sub_account}


def effective_flags(user: UserModel) -> Flags:
    """Stored flags win; unset flags default to on for agency admins and off for everyone else."""
    default = user.type == "agency" and user.role == "admin"
    agency = user.perm_agency if user.perm_agency is not None else default
    sub_account = user.perm_sub_account if user.perm_sub_account is not None else default
    # Account users never manage agency-level integrations, whatever is stored.
    return Flags(agency=agency and user.type == "agency", sub_account=sub_account)


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
    if user.type == "agency":
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


def user_from_seed(user: dict[str, Any]) -> UserModel:
    """A user of the directory file as an item (not saved): also what `make run` describes."""
    flags = (user.get("permissions") or {}).get("privateIntegrations") or {}
    return UserModel(
        user["id"],
        agency_id=user["agencyId"],
        type=user["type"],
        role=user["role"],
        location_ids=list(user.get("locationIds") or []),
        perm_agency=flags.get("agency"),
        perm_sub_account=flags.get("subAccount"),
    )


def load_seed(path: str | Path) -> dict[str, int]:
    """Load a directory file (SPEC "Running it") into empty tables: items are written as given."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    for agency in data.get("agencies", []):
        AgencyModel(
            agency["id"],
            name=agency.get("name", agency["id"]),
            labs_private_integrations=bool(agency.get("labs", {}).get("privateIntegrations", False)),
            integration_count=0,
        ).save()
    for location in data.get("locations", []):
        LocationModel(
            location["id"],
            agency_id=location["agencyId"],
            name=location.get("name", location["id"]),
            integration_count=0,
        ).save()
    for user in data.get("users", []):
        user_from_seed(user).save()
    return {key: len(data.get(key, [])) for key in ("agencies", "locations", "users")}
